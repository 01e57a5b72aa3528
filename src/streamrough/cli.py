"""Command-line interface: ``streamrough demo``, ``streamrough pvar FILE -p ...``."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamrough", description=__doc__)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
