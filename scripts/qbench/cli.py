"""The qbench command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__, lut
from .qformat import QFormatError, parse_qformat


def _lut(arguments: argparse.Namespace) -> int:
    fmt = parse_qformat(arguments.format)
    if arguments.function == "tanh" and not fmt.signed:
        raise QFormatError(f"tanh needs a signed Q format; {fmt.name} is unsigned")
    sys.stdout.write(lut.header_text(fmt, arguments.function))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qbench", description=__doc__)
    parser.add_argument("--version", action="version", version=f"qbench {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    lut_parser = commands.add_parser(
        "lut", help="print the activation lookup table qnn computes for a Q format, with its error bound"
    )
    lut_parser.add_argument("--format", required=True, help="Q format, e.g. q8.8, q1.15, uq8.8")
    lut_parser.add_argument("--function", required=True, choices=("tanh", "sigmoid"))
    lut_parser.set_defaults(handler=_lut)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        return arguments.handler(arguments)
    except QFormatError as error:
        parser.exit(2, f"qbench: error: {error}\n")


if __name__ == "__main__":
    sys.exit(main())
