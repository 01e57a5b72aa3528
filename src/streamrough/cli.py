"""Command-line interface.

``streamrough demo``
    Brownian-scaled residual networks of several sizes (numbers of layers): p-variation of their weight paths
    in both conventions, level 2 of both signature lifts, and the rough-path norm
    |||X|||_p, showing the 1-variation growing like sqrt(L) while |||X|||_p (p in (2, 3))
    stays bounded under ``increments``.
    Then the stability story: the rigorous Gronwall bound explodes like exp(c sqrt(L)), the
    1-variation grows like sqrt(L), while |||X|||_p and the empirical Lipschitz constant stay
    bounded.
``streamrough pvar FILE -p P [P ...] [--convention {increments,values}] [--scheduler ADDRESS [--connect-timeout S] | --workers N]``
    Exact p-variation of a path or weight sequence stored in a ``.npy`` file, read by the
    rule of :func:`streamrough.read_input` (an array of 3 or more axes is a weight sequence
    under "increments" unless ``--convention`` says otherwise); the convention used is printed.
    A Zarr array (a directory, ``*.zarr``, or a URL) is computed out of core on a Dask
    cluster: an existing scheduler (``--scheduler``) or a local cluster of N worker processes
    started here (``--workers``).
``streamrough ingest SOURCE STORE [--layers REGEX]``
    Stream the weight paths of a model file or folder into a Zarr store.
``streamrough info STORE``
    Runs, checkpoints and paths of a store.
``streamrough analyze SOURCE_OR_STORE -p P [P ...] [--csv FILE]``
    The per-path table of level-1/level-2 p-variation and norms.
``streamrough report SOURCE_OR_STORE -o DIR [--role ROLE]``
    HTML page with plots (stability, regime, depth scaling) of the weights in SOURCE: a
    weight store (one path, its first checkpoint as initial weights), a
    ``.npy`` array (L, d, d), or a ``.npz`` with ``weights`` (optional ``init``, ``bias``,
    ``delta``) or several depths as ``weights_<L>`` (optional ``init_<L>``).

Exit codes: 0 success; 2 (``EXIT_INPUT``) for every error the user can fix -- a bad command
line (argparse), a file that cannot be read as one array, invalid data or arguments (NaN,
p < 1, p > 500, ...) -- with one line ``streamrough COMMAND: error: ...`` on stderr, no
traceback, and nothing on stdout. Any other exit status is a bug.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

CONNECT_TIMEOUT = 10.0  # --scheduler: seconds to wait for the scheduler to answer (--connect-timeout)
EXIT_INPUT = 2  # usage errors, unreadable files and invalid data alike (argparse uses 2 too)
DEMO_N_LAYERS = (64, 256, 1024, 4096)
DEMO_P = (1.0, 1.5, 2.0, 2.5, 3.0)
DEMO_ROUGH_P = (2.2, 2.5, 2.8)
DEMO_ROUGH_N_LAYERS = (64, 256, 1024)
DEMO_STORY_P = 2.5


def _format_row(cells, widths):
    return "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths))


def _pvar_table(sizes, width, p_values, seed, out) -> None:
    import numpy as np

    import streamrough as sr

    print("Level 1: ||x||_{p-var} of the weight path (Frobenius norm), exact\n", file=out)
    header = ["convention", "layers L"] + [f"p={p:g}" for p in p_values] + ["seconds"]
    widths = [11, 8] + [9] * len(p_values) + [8]
    print(_format_row(header, widths), file=out)
    for convention in sr.CONVENTIONS:
        for n_layers in sizes:
            path = sr.weight_path(sr.brownian_weights(n_layers, width, seed=seed), convention)
            t0 = time.perf_counter()
            values = np.atleast_1d(sr.pvar(path, list(p_values)))
            seconds = time.perf_counter() - t0
            cells = [convention, n_layers] + [f"{v:.4f}" for v in values] + [f"{seconds:.2f}"]
            print(_format_row(cells, widths), file=out, flush=True)
    print(
        "\nUnder 'increments' the 1-variation grows like sqrt(L) while p > 2 stays bounded;"
        "\nunder 'values' every p-variation with p > 2 shrinks like L^(1/p - 1/2).",
        file=out,
    )


def _signature_table(n_layers, width, seed, out) -> None:
    import numpy as np

    import streamrough as sr

    weights = sr.brownian_weights(n_layers, width, seed=seed)
    path = sr.weight_path(weights, "increments")
    dim = path.shape[1]
    level2 = {
        lift: sr.sig_level(sr.signature(path, 2, lift=lift), dim, 2, 2) for lift in sr.LIFTS
    }
    increments = weights.reshape(n_layers, dim)
    half_qv = 0.5 * np.linalg.norm(increments.T @ increments)
    print(f"\nLevel 2 of the signature over the whole network ({n_layers} layers, increments convention)", file=out)
    print(f"  |XX|  iterated sums (the network's own lift)   {np.linalg.norm(level2['iterated']):.6f}", file=out)
    print(f"  |S2|  geometric (piecewise-linear path)        {np.linalg.norm(level2['geometric']):.6f}", file=out)
    print(f"  |S2 - XX| = half the quadratic variation       {np.linalg.norm(level2['geometric'] - level2['iterated']):.6f}", file=out)
    print(f"  |sum_k W_k (x) W_k| / 2, computed directly      {half_qv:.6f}", file=out)


def _rough_table(sizes, width, p_values, seed, out) -> None:
    import streamrough as sr

    print("\nRough path (increments convention, iterated-sums lift): level 1, level 2 and |||X|||_p", file=out)
    header = ["layers L", "p", "||x||_p-var", "||XX||_p/2", "|||X|||_p", "route", "seconds"]
    widths = [8, 5, 12, 12, 10, 7, 8]
    print(_format_row(header, widths), file=out)
    for n_layers in sizes:
        weights = sr.brownian_weights(n_layers, width, seed=seed)
        t0 = time.perf_counter()
        results = sr.rough_pvar(weights, list(p_values), convention="increments")
        seconds = time.perf_counter() - t0
        for res in results:  # one RoughResult per p
            cells = [n_layers, f"{res.p:g}", f"{res.level1:.4f}", f"{res.level2:.4f}", f"{res.norm:.4f}", res.route]
            print(_format_row(cells + [f"{seconds:.2f}"], widths), file=out, flush=True)
    print(
        "\n|||X|||_p stays in a constant band as L grows (the rough-path bounds stay finite),"
        "\nwhile the 1-variation, which drives the smooth (neural-ODE) bounds, grows like sqrt(L).",
        file=out,
    )


def _story_table(sizes, width, seed, out) -> None:
    import numpy as np

    import streamrough as sr

    inputs = np.random.default_rng(seed).standard_normal((8, width))
    print(f"\nStability of the network h_(k+1) = h_k + W_k tanh(h_k) at 8 Gaussian inputs (streamrough.stability)", file=out)
    header = ["layers L", "log10 Gronwall", "1-variation", f"|||X|||_{DEMO_STORY_P:g}", "Lipschitz med", "Lipschitz max", "seconds"]
    widths = [8, 15, 12, 10, 13, 13, 8]
    print(_format_row(header, widths), file=out)
    for n in sizes:
        t0 = time.perf_counter()
        res = sr.stability(sr.brownian_weights(n, width, seed=seed), inputs, p=DEMO_STORY_P)
        cells = [n, f"{res.gronwall_log10_product:.2f}", f"{res.one_variation:.3f}", f"{res.norm[0]:.3f}",
                 f"{res.lipschitz_median:.3f}", f"{res.lipschitz_max:.3f}", f"{time.perf_counter() - t0:.2f}"]
        print(_format_row(cells, widths), file=out, flush=True)
    print(
        "\nThe rigorous Gronwall bound prod_k (1 + |W_k|_op) explodes like exp(c sqrt(L)) and the 1-variation"
        "\ngrows like sqrt(L); the rough-path norm |||X|||_p and the measured Lipschitz constant stay bounded.",
        file=out,
    )


def run_demo(n_layers=DEMO_N_LAYERS, width=16, p_values=DEMO_P, rough_p=DEMO_ROUGH_P, seed=0, out=None,
             rough_n_layers=DEMO_ROUGH_N_LAYERS) -> None:
    """Print the demo tables for Brownian-scaled weight paths.

    Level-1 p-variation by number of layers and convention; level 2 of both signature lifts
    for the deepest network; level-2 p-variation and the homogeneous norm at `rough_n_layers`
    (those of `n_layers` up to the largest of them); the stability story (Gronwall bound, 1-variation,
    |||X|||_p, empirical Lipschitz constants) at the same depths. Timings of the first row of each
    table include one-time JIT compilation.
    """
    out = sys.stdout if out is None else out
    print(
        f"Brownian-scaled residual weights: W_k i.i.d. Gaussian {width}x{width}, |W_k|_F ~ L^-1/2, seed {seed}"
        "\n(the first row of each table includes one-time JIT compilation)\n",
        file=out,
    )
    _pvar_table(n_layers, width, p_values, seed, out)
    _signature_table(max(n_layers), width, seed, out)
    small = [n for n in n_layers if n <= max(rough_n_layers)] or [min(n_layers)]
    _rough_table(small, width, rough_p, seed, out)
    _story_table(small, width, seed, out)


def _load_array(path_file):
    """The array in a ``.npy`` file; ValueError (one line) for anything else."""
    import numpy as np

    try:
        with open(path_file, "rb") as fh:
            magic = fh.read(6)
        if magic[:2] != b"PK" and magic != b"\x93NUMPY":  # neither .npz (zip) nor .npy
            raise ValueError("not a NumPy file (no .npy header)")
        x = np.load(path_file, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"cannot read {path_file!r} as a .npy array: {exc}") from None
    if not isinstance(x, np.ndarray):  # np.load returns an NpzFile for .npz archives
        x.close()
        raise ValueError(f"{path_file!r} is a .npz archive: save one array with numpy.save (.npy)")
    return x


def _load_store_path(url, role=None, run=None):
    """One weight path of a store (the latest committed checkpoint of `run`), and its initial
    weights when the run has an earlier checkpoint of the same path (for the regime split)."""
    import streamrough as sr

    with sr.open_store(url, mode="r") as st:
        run = run if run is not None else st.runs()[0]
        steps = st.steps(run)
        if not steps:
            raise ValueError(f"{url!r}: run {run!r} has no committed checkpoint")
        roles = st.paths(run, steps[-1])
        if role is None:
            if len(roles) != 1:
                raise ValueError(f"{url!r} holds {len(roles)} paths in run {run!r}: choose one with --role ({roles})")
            role = roles[0]
        weights = st.read(role, run, steps[-1])
        init = st.read(role, run, steps[0]) if len(steps) > 1 and role in st.paths(run, steps[0]) else None
    return weights, init


def _load_source(path, role=None, run=None):
    """(weights or {n_layers: weights}, init or None, bias, delta) from a .npy or .npz file or a store."""
    if _is_store(path):
        weights, init = _load_store_path(path, role, run)
        return weights, init, None, None
    import numpy as np

    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path!r} as .npy/.npz: {exc}") from None
    if isinstance(data, np.ndarray):
        return data, None, None, None
    with data:
        keys = set(data.files)
        if "weights" in keys:
            get = lambda k: data[k] if k in keys else None  # noqa: E731
            return data["weights"], get("init"), get("bias"), get("delta")
        depths = sorted(int(k.split("_", 1)[1]) for k in keys if k.startswith("weights_"))
        if not depths:
            raise ValueError(f"{path!r} has neither 'weights' nor 'weights_<L>' arrays")
        weights = {n: data[f"weights_{n}"] for n in depths}
        init = {n: data[f"init_{n}"] for n in depths} if all(f"init_{n}" in keys for n in depths) else None
        delta = data["delta"] if "delta" in keys else None
        return weights, init, None, delta


def run_report(source, out_dir, form="bft", activation="tanh", delta=None, role=None, run=None, out=None) -> str:
    """Write the HTML report of the weights in `source` to `out_dir`.

    `source` is a .npy or .npz file, or a weight store (`role` picks its path when it holds
    several; the latest checkpoint is reported, the first one serves as initial weights).
    """
    out = sys.stdout if out is None else out
    import streamrough as sr

    weights, init, bias, stored_delta = _load_source(source, role, run)
    delta = stored_delta if delta is None else delta
    if form == "ccrx" and delta is None:
        raise ValueError("--form ccrx needs --delta (or a 'delta' array in the .npz)")
    page = sr.report(weights, out_dir, init=init, form=form, activation=activation, bias=bias,
                     delta=delta if form == "ccrx" else None)
    print(f"wrote {page}", file=out)
    return page


def _is_store(path_file) -> bool:
    """A Zarr array (directory, *.zarr, or URL) rather than a .npy file."""
    text = str(path_file)
    return "://" in text or text.rstrip("/").endswith(".zarr") or os.path.isdir(text)


@contextlib.contextmanager
def cluster_client(scheduler=None, workers=None, connect_timeout=CONNECT_TIMEOUT):
    """A ``dask.distributed.Client``: connected to `scheduler` (failing if it does not answer
    within `connect_timeout` seconds), or to a LocalCluster of `workers` single-threaded
    processes started (and closed) here; None when neither is given."""
    if scheduler is None and workers is None:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("--scheduler / --workers need dask.distributed (pip install 'streamrough[distributed]')") from None
    if scheduler is not None:
        if not connect_timeout > 0:
            raise ValueError(f"--connect-timeout must be positive, got {connect_timeout}")
        with Client(scheduler, timeout=f"{connect_timeout}s") as client:
            yield client
        return
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    # dashboard on a free port: a fixed one clashes with any other cluster on the machine
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        yield client


def run_pvar(
    path_file, p_values, norm="euclidean", power=False, partition=False, convention=None, out=None, client=None
) -> None:
    """Print the p-variation of the path (or weight sequence) stored in `path_file`.

    `path_file` is a .npy file, or a Zarr array computed out of core on `client` (a
    ``dask.distributed.Client``; None: the local scheduler). `convention` is None (the rule of
    :func:`streamrough.read_input`), "increments" or "values".
    """
    out = sys.stdout if out is None else out
    import streamrough as sr

    if _is_store(path_file):
        from streamrough import chunked

        x = chunked.as_dask(path_file, "FILE")  # checked and described here; read by pvar in merged chunks
        results = chunked.pvar(
            path_file, list(p_values), norm=norm, return_partition=True, convention=convention, client=client
        )
    else:
        x = _load_array(path_file)
        results = sr.pvar(x, list(p_values), norm=norm, return_partition=True, convention=convention)
    print(
        f"{path_file}: {x.shape[0]} entries of shape {x.shape[1:]}, read as convention "
        f"{results.convention!r} ({results.n_points} points), norm {norm}",
        file=out,
    )
    for res in results:
        value = res.level1_power if power else res.level1
        line = f"p = {res.p:g}: {'V_p' if power else '||x||_p-var'} = {value:.12g}"
        if partition:
            line += f"  partition ({len(res.partition1)} points): {res.partition1.tolist()}"
        print(line, file=out)


def _progress_bar(total, unit, quiet):
    """A tqdm bar on stderr (None when quiet): the CLI is the only place that prints bars."""
    if quiet:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, unit_scale=unit == "B", file=sys.stderr, leave=False)


def _layers_arg(layers):
    return None if layers is None else (layers if layers.startswith("re:") else "re:" + layers)


def run_ingest(source, store, layers=None, run="model", step=None, overwrite=False, quiet=False, out=None) -> None:
    """Ingest `source` into the store at `store` and print what was written and left out."""
    out = sys.stdout if out is None else out
    import numpy as np

    import streamrough as sr
    from streamrough.sources import open_source

    src = open_source(source)
    plan = sr.find_paths(src.entries(), _layers_arg(layers))
    # bytes as stored: bfloat16 is stored as float32
    itemsize = {None: 8, "bfloat16": 4}
    total = sum(
        int(np.prod(s.layer_shape)) * s.n_layers * (itemsize[s.dtype] if s.dtype in itemsize else np.dtype(s.dtype).itemsize)
        for s in plan
    )
    bar = _progress_bar(total, "B", quiet)
    try:
        sr.ingest(src, store, layers=plan, run=run, step=step, overwrite=overwrite,
                  progress=None if bar is None else bar.update)
    finally:
        if bar is not None:
            bar.close()
    print(plan.summary(), file=out)
    print(f"written to {store} (run {run!r}, checkpoint {step if step is not None else 'weights'})", file=out)


def run_info(store, out=None) -> None:
    """Print the runs, checkpoints and paths of a store."""
    out = sys.stdout if out is None else out
    import streamrough as sr

    with sr.open_store(store, mode="r") as st:
        print(f"{st.url}: schema version {st.schema_version}", file=out)
        for run in st.runs():
            print(f"run {run!r}", file=out)
            for name, step, complete in st.checkpoints(run):
                print(f"  checkpoint {name}" + ("" if complete else "  (incomplete)"), file=out)
                for role in st.paths(run, step):
                    info = st.info(role, run, step)
                    print(
                        f"    {role}: {info.n_layers} layers of {info.layer_shape} {info.dtype}, "
                        f"{info.convention}, chunks {info.chunks}" + (f", shards {info.shards}" if info.shards else ""),
                        file=out,
                    )


def run_analyze(source, p_values, layers=None, csv=None, quiet=False, out=None) -> None:
    """Print (or write as CSV) the per-path table of `source`."""
    out = sys.stdout if out is None else out
    import streamrough as sr

    bar = _progress_bar(None, "path", quiet)
    try:
        table = sr.analyze(source, p=p_values, layers=_layers_arg(layers),
                           progress=None if bar is None else (lambda _role: bar.update(1)))
    finally:
        if bar is not None:
            bar.close()
    if csv:
        table.to_csv(csv, index=False)
        print(f"{len(table)} rows written to {csv}", file=out)
    else:
        cols = ["run", "checkpoint", "role", "n_layers", "p", "level1", "level2", "norm", "regime"]
        print(table[cols].to_string(index=False), file=out)


def _add_cluster_options(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--scheduler", metavar="ADDRESS", help="address of a running Dask scheduler (tcp://host:8786)")
    group.add_argument("--workers", type=int, metavar="N", help="start a local Dask cluster of N worker processes")
    parser.add_argument(
        "--connect-timeout", type=float, default=CONNECT_TIMEOUT, metavar="SECONDS",
        help=f"with --scheduler: give up if it does not answer within SECONDS (default {CONNECT_TIMEOUT:g})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamrough", description="Rough-path analysis of residual-network weight paths."
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="p-variation and rough-path norms of Brownian-scaled weight paths by number of layers")
    demo.add_argument("--n-layers", type=int, nargs="+", default=list(DEMO_N_LAYERS), help="network sizes L")
    demo.add_argument("--width", type=int, default=16)
    demo.add_argument("--seed", type=int, default=0)

    rep = sub.add_parser("report", help="HTML report: stability, regime and depth scaling of stored weights")
    rep.add_argument("source", help="a store, .npy (L, d, d), or .npz with 'weights' or 'weights_<L>' arrays")
    rep.add_argument("--role", help="the store's path to report (needed when it holds several)")
    rep.add_argument("--run", help="the store's run (default: its first)")
    rep.add_argument("-o", "--out", required=True, help="output directory (created if missing)")
    rep.add_argument("--form", choices=["bft", "ccrx"], default="bft")
    rep.add_argument("--activation", choices=["tanh", "sigmoid", "softplus", "relu"], default="tanh")
    rep.add_argument("--delta", type=float, default=None, help="delta of the ccrx form (default: from the .npz)")

    pv = sub.add_parser("pvar", help="exact p-variation of a path in a .npy file")
    pv.add_argument("file", help=".npy file or Zarr array (out of core) of shape (N,), (N, d) or (N, m1, m2, ...)")
    pv.add_argument("-p", type=float, nargs="+", required=True, help="one or more p >= 1")
    pv.add_argument("--norm", choices=["euclidean", "l1", "linf"], default="euclidean")
    pv.add_argument("--power", action="store_true", help="print V_p instead of V_p^(1/p)")
    pv.add_argument("--partition", action="store_true", help="also print an optimal partition")
    pv.add_argument(
        "--convention",
        choices=["increments", "values"],
        default=None,
        help="read the array as a weight sequence in this convention (default: 3 or more axes "
        "are weights under 'increments', 1 or 2 axes a path)",
    )
    _add_cluster_options(pv)
    _add_store_commands(sub)
    return parser


def _add_store_commands(sub) -> None:
    ing = sub.add_parser("ingest", help="stream the weight paths of a model into a Zarr store")
    ing.add_argument("source", help="a .safetensors file or folder, .pt/.pth/.bin checkpoint, .npz or .npy")
    ing.add_argument("store", help="a folder, memory:// or fsspec URL of the store")
    ing.add_argument("--layers", help="regex whose group 1 is the layer number, e.g. 'blocks\\.(\\d+)\\.W$'")
    ing.add_argument("--run", default="model")
    ing.add_argument("--step", type=int, default=None, help="training step of this checkpoint")
    ing.add_argument("--overwrite", action="store_true")
    ing.add_argument("--quiet", action="store_true", help="no progress bar")

    info = sub.add_parser("info", help="runs, checkpoints and paths of a store")
    info.add_argument("store")

    an = sub.add_parser("analyze", help="per-path table of p-variation and rough-path norms")
    an.add_argument("source", help="a store, or any model input of 'ingest'")
    an.add_argument("-p", type=float, nargs="+", default=[1.0, 2.0, 2.5, 3.0])
    an.add_argument("--layers", help="regex for a model input (as for ingest)")
    an.add_argument("--csv", help="write the full table to this CSV file")
    an.add_argument("--quiet", action="store_true", help="no progress bar")


def _run_store_command(args) -> None:
    if args.command == "ingest":
        run_ingest(args.source, args.store, layers=args.layers, run=args.run, step=args.step,
                   overwrite=args.overwrite, quiet=args.quiet)
    elif args.command == "info":
        run_info(args.store)
    else:
        run_analyze(args.source, args.p, layers=args.layers, csv=args.csv, quiet=args.quiet)


def _store_error():
    from .store import StoreError

    return StoreError


def _version() -> str:
    from . import __version__

    return f"streamrough {__version__}"


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            run_demo(n_layers=args.n_layers, width=args.width, seed=args.seed)
        elif args.command == "report":
            run_report(
                args.source, args.out, form=args.form, activation=args.activation, delta=args.delta,
                role=args.role, run=args.run,
            )
        elif args.command == "pvar":
            with cluster_client(args.scheduler, args.workers, args.connect_timeout) as client:
                run_pvar(
                    args.file, args.p, norm=args.norm, power=args.power, partition=args.partition,
                    convention=args.convention, client=client,
                )
        else:
            _run_store_command(args)
    except (ValueError, TypeError, MemoryError, OSError, LookupError, _store_error()) as exc:
        print(f"streamrough {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
