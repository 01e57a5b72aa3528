"""Train residual networks on scikit-learn's digits and diagnose the regime of their weights.

Three training setups at several depths L (width 16, tanh, full-batch gradient descent):

    bft-fixed    h_{k+1} = h_k + W_k tanh(h_k),            W_k Brownian-scaled at init, fixed lr
    bft-scaled   the same with the residual weights' lr ~ 1/L
    ccrx         h_{k+1} = h_k + (1/L) tanh(A_k h_k + b_k), A_k ~ N(0, 1/m) at init, fixed lr

The weight path is recorded during training (checkpoints into one .npz per setup; a Zarr store
once streamrough.store is available) and analysed with streamrough.regime (the driving
layers: W_k, or delta_k A_k = A_k / L), and checkpoints are compared with rho_p.

Observed (depths 16, 32, 64, 128, 100 steps, seed 0; ``--depths 16 32 64 128 --steps 100``):

    bft-fixed    at init: Brownian-like (rough)   trained: drift-dominated (slopes in log L:
                 1-variation 0.49, 2.5-variation 0.36, R^2 0.995)
    bft-scaled   at init: Brownian-like (rough)   trained: Brownian-like (rough) (1-variation
                 0.44, 2.5-variation -0.01)
    ccrx         at init: smooth                  trained: smooth (1-variation -0.002)
    rho_2.5(checkpoint, init) at L=128 after 100 steps: 212 (bft-fixed), 49 (bft-scaled), 0.015 (ccrx)

Needs torch and scikit-learn (the ``examples`` extra). Default: a short run at depths
16, 64, 256; ``--full`` runs depths 16 to 1024 with more steps.

    python examples/train_digits.py [--full] [--out DIR] [--report]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import streamrough as sr

SETUPS = ("bft-fixed", "bft-scaled", "ccrx")
WIDTH = 16
LR = 0.1
RHO_P = 2.5


def _data(seed):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-8)
    return x, y


def train(setup, n_layers, steps, seed=0, n_checkpoints=4, store=None):
    """Train one network; return {"init", "final", "checkpoints" (C, L, m, m), "steps", "accuracy", "delta"}.

    With `store` (a weight-store folder or URL), every kept checkpoint is also recorded into it
    as it happens, under run ``"<setup>-L<n_layers>"`` and its step number.
    """
    import torch

    torch.manual_seed(seed)
    x_np, y_np = _data(seed)
    x = torch.from_numpy(x_np)
    y = torch.from_numpy(y_np)
    rng = np.random.default_rng(seed)
    embed = torch.from_numpy(rng.standard_normal((64, WIDTH)) / 8.0)  # fixed random embedding
    form = "ccrx" if setup == "ccrx" else "bft"
    if form == "bft":
        w0 = sr.brownian_weights(n_layers, WIDTH, seed=seed) * np.sqrt(WIDTH)
        delta = None
    else:
        w0 = rng.standard_normal((n_layers, WIDTH, WIDTH)) / np.sqrt(WIDTH)
        delta = 1.0 / n_layers
    weights = torch.tensor(w0, requires_grad=True)
    bias = torch.zeros((n_layers, WIDTH), dtype=torch.float64, requires_grad=True)
    readout = torch.nn.Linear(WIDTH, 10, dtype=torch.float64)
    lr_w = LR * 16 / n_layers if setup == "bft-scaled" else LR
    opt = torch.optim.SGD([{"params": [weights, bias], "lr": lr_w}, {"params": readout.parameters(), "lr": LR}])

    def run(inputs):
        h = inputs @ embed
        # unbind once: indexing weights[k] per layer would make backward O(L^2 m^2)
        for w, b in zip(weights.unbind(0), bias.unbind(0)):
            if form == "bft":
                h = h + torch.tanh(h) @ w.T + b
            else:
                h = h + delta * torch.tanh(h @ w.T + b)
        return readout(h)

    keep = set(np.linspace(0, steps, n_checkpoints).astype(int).tolist())
    checkpoints = []
    for step in range(steps + 1):
        if step in keep:
            checkpoints.append(weights.detach().numpy().copy())
            if store is not None:  # recorded during training: one checkpoint of the store per kept step
                layers = {f"blocks.{k}.W": w for k, w in enumerate(checkpoints[-1])}
                sr.ingest(layers, store, run=f"{setup}-L{n_layers}", step=step, hash_source=False)
        if step == steps:
            break
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(run(x), y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        accuracy = float((run(x).argmax(dim=1) == y).double().mean())
    return dict(init=w0, final=checkpoints[-1], checkpoints=np.stack(checkpoints), steps=sorted(keep),
                accuracy=accuracy, delta=delta)


def driving(weights, delta):
    """The layers that drive the difference equation: W_k (bft) or delta A_k (ccrx)."""
    return weights if delta is None else weights * delta


def main(depths=(16, 64, 256), steps=150, out_dir=None, setups=SETUPS, make_report=False, seed=0):
    import torch

    torch.set_num_threads(1)
    store = None if out_dir is None else os.path.join(out_dir, "runs.zarr")
    verdicts = {}
    for setup in setups:
        runs = {}
        for n in depths:
            t0 = time.perf_counter()
            runs[n] = train(setup, n, steps, seed=seed, store=store)
            print(f"{setup:>10}  L={n:5d}  train accuracy {runs[n]['accuracy']:.3f}  "
                  f"({time.perf_counter() - t0:.1f} s)", flush=True)
        delta = {n: runs[n]["delta"] for n in depths}
        final = {n: driving(runs[n]["final"], delta[n]) for n in depths}
        init = {n: driving(runs[n]["init"], delta[n]) for n in depths}
        at_init = sr.regime(init)
        trained = sr.regime(final, init=init)
        verdicts[setup] = dict(init=at_init.verdict, trained=trained.verdict)
        print(f"{setup:>10}  at init: {at_init.verdict}")
        print(f"{setup:>10}  trained: {trained.verdict}  -- {trained.evidence['reason']}")
        deepest = max(depths)
        ck = runs[deepest]["checkpoints"]
        if store is not None:  # the checkpoints as recorded in the store during training
            with sr.open_store(store, mode="r") as st:
                run = f"{setup}-L{deepest}"
                ck = np.stack([st.read("blocks.{k}.W", run, step) for step in st.steps(run)])
        rhos = [sr.rough_distance(driving(c, delta[deepest]), driving(ck[0], delta[deepest]), RHO_P,
                                  convention="increments").rho for c in ck]
        print(f"{setup:>10}  rho_{RHO_P:g}(checkpoint, init) at L={deepest}, steps {runs[deepest]['steps']}: "
              + ", ".join(f"{r:.3f}" for r in rhos), flush=True)
        if out_dir is not None:
            os.makedirs(out_dir, exist_ok=True)
            arrays = {f"weights_{n}": runs[n]["final"] for n in depths}
            arrays.update({f"init_{n}": runs[n]["init"] for n in depths})
            arrays.update({f"checkpoints_{n}": runs[n]["checkpoints"] for n in depths})
            path = os.path.join(out_dir, f"{setup}.npz")
            np.savez(path, **arrays)
            if make_report:
                page = sr.report(final, os.path.join(out_dir, f"report-{setup}"), init=init)
                print(f"{setup:>10}  report: {page}")
    return verdicts


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="depths 16..1024, 400 steps")
    parser.add_argument("--depths", type=int, nargs="+")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--out", default=None, help="directory for the .npz weight paths (and reports)")
    parser.add_argument("--report", action="store_true", help="also write an HTML report per setup")
    args = parser.parse_args()
    depths = args.depths or ((16, 32, 64, 128, 256, 512, 1024) if args.full else (16, 64, 256))
    steps = args.steps or (400 if args.full else 150)
    main(depths=depths, steps=steps, out_dir=args.out, make_report=args.report)
