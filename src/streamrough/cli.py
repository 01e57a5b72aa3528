"""Command-line interface.

``streamrough demo``
    Brownian-scaled residual networks of several depths: p-variation of their weight paths
    in both conventions (math.md sections 1, 2), showing the 1-variation growing like
    sqrt(L) while the p-variation for p > 2 stays bounded under ``increments``.
``streamrough pvar FILE -p P [P ...]``
    Exact p-variation of a path stored in a ``.npy`` file.
"""

from __future__ import annotations

import argparse
import sys
import time

DEMO_DEPTHS = (64, 256, 1024, 4096)
DEMO_P = (1.0, 1.5, 2.0, 2.5, 3.0)


def _format_row(cells, widths):
    return "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths))


def run_demo(depths=DEMO_DEPTHS, width=16, p_values=DEMO_P, seed=0, out=sys.stdout) -> None:
    """Print the p-variation table of Brownian-scaled weight paths by depth and convention."""
    import numpy as np

    import streamrough as sr

    print(
        f"Brownian-scaled residual weights: W_k i.i.d. Gaussian {width}x{width}, |W_k|_F ~ L^-1/2, seed {seed}",
        file=out,
    )
    print("||x||_{p-var} of the weight path (Frobenius norm), exact\n", file=out)
    header = ["convention", "depth L"] + [f"p={p:g}" for p in p_values] + ["seconds"]
    widths = [11, 8] + [9] * len(p_values) + [8]
    print(_format_row(header, widths), file=out)
    for convention in sr.CONVENTIONS:
        for depth in depths:
            weights = sr.brownian_weights(depth, width, seed=seed)
            path = sr.weight_path(weights, convention)
            t0 = time.perf_counter()
            values = np.atleast_1d(sr.pvar(path, list(p_values)))
            seconds = time.perf_counter() - t0
            cells = [convention, depth] + [f"{v:.4f}" for v in values] + [f"{seconds:.2f}"]
            print(_format_row(cells, widths), file=out, flush=True)
    print(
        "\nUnder 'increments' the 1-variation grows like sqrt(L) while p > 2 stays bounded;"
        "\nunder 'values' every p-variation with p > 2 shrinks like L^(1/p - 1/2).",
        file=out,
    )


def run_pvar(path_file, p_values, norm="euclidean", power=False, partition=False, out=sys.stdout) -> None:
    """Print the p-variation of the path stored in `path_file` (a .npy file)."""
    import numpy as np

    import streamrough as sr

    try:
        x = np.load(path_file, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"streamrough pvar: cannot read {path_file!r} as a .npy array: {exc}") from None
    print(f"{path_file}: {x.shape[0]} points of shape {x.shape[1:]}, norm {norm}", file=out)
    for p in p_values:
        res = sr.pvar(x, p, norm=norm, return_partition=True)
        value = res.power if power else res.value
        line = f"p = {p:g}: {'V_p' if power else '||x||_p-var'} = {value:.12g}"
        if partition:
            line += f"  partition ({len(res.partition)} points): {res.partition.tolist()}"
        print(line, file=out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamrough", description="Rough-path analysis of residual-network weight paths."
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="p-variation of Brownian-scaled weight paths by depth")
    demo.add_argument("--depths", type=int, nargs="+", default=list(DEMO_DEPTHS))
    demo.add_argument("--width", type=int, default=16)
    demo.add_argument("--seed", type=int, default=0)

    pv = sub.add_parser("pvar", help="exact p-variation of a path in a .npy file")
    pv.add_argument("file", help=".npy file holding an array of shape (N,), (N, d) or (N, m1, m2, ...)")
    pv.add_argument("-p", type=float, nargs="+", required=True, help="one or more p >= 1")
    pv.add_argument("--norm", choices=["euclidean", "l1", "linf"], default="euclidean")
    pv.add_argument("--power", action="store_true", help="print V_p instead of V_p^(1/p)")
    pv.add_argument("--partition", action="store_true", help="also print an optimal partition")
    return parser


def _version() -> str:
    from . import __version__

    return f"streamrough {__version__}"


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            run_demo(depths=args.depths, width=args.width, seed=args.seed)
        elif args.command == "pvar":
            run_pvar(args.file, args.p, norm=args.norm, power=args.power, partition=args.partition)
    except (ValueError, TypeError) as exc:
        print(f"streamrough {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
