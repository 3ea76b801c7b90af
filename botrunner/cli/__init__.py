"""``botrunner`` command line: argument parsing and the human/JSON output layer.

This package is the only place that prints: each sub-command is a module here; the core logs through structlog.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module exposes ``register(subparsers)``, adding its sub-command with ``set_defaults(handler=...)``;
# a handler takes the parsed args and returns the process exit code.
COMMAND_MODULES: tuple[str, ...] = (
    "botrunner.cli.account",
    "botrunner.cli.backtest",
    "botrunner.cli.ctl",
    "botrunner.cli.demo",
    "botrunner.cli.monitor",
    "botrunner.cli.optimize",
    "botrunner.cli.run",
    "botrunner.cli.validate",
)


class CliError(Exception):
    """An error to report as one line on stderr with a non-zero exit code, never a traceback."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="botrunner", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except CliError as exc:
        print(f"botrunner {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
