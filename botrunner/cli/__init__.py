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
    "botrunner.cli.scan",
    "botrunner.cli.validate",
)


class CliError(Exception):
    """An error to report as one line on stderr with a non-zero exit code, never a traceback."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


DESCRIPTION = """\
Run a fleet of perpetual-futures trading bots on Drift Protocol: one bot per Drift subaccount and market,
described by one YAML file in config/bots/. The same bot runs in a backtest, on paper over real history, and
live; paper and backtests send nothing to any chain."""

EPILOG = """\
typical session:
  botrunner validate                          check every bot file in config/bots/ (errors and warnings)
  botrunner backtest config/bots/sol-neutral-grid.yaml --from 2025-09-20 --to 2025-10-10
  botrunner run                               run the fleet on paper (Ctrl-C stops it gracefully)
  botrunner ctl status                        from another terminal: the running fleet
  botrunner ctl reload                        apply edited bot files to the running fleet

Run "botrunner COMMAND --help" for a command's options.
Exit status: 0 done, 1 the running fleet refused a ctl command, 2 bad input (nothing was done), 130 Ctrl-C."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``botrunner`` parser; ``only``: register just that sub-command's module (the one being run), so
    ``botrunner ctl`` does not import the backtest engine, the store or the chain libraries it never uses."""
    from botrunner import __version__

    parser = argparse.ArgumentParser(
        prog="botrunner",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    subparsers.required = True
    for name in COMMAND_MODULES:
        if only is None or name.rsplit(".", 1)[-1] == only:
            importlib.import_module(name).register(subparsers)
    return parser


def _command_named(argv: Sequence[str]) -> str | None:
    """The sub-command ``argv`` runs when its first word names one (each module registers its own name);
    otherwise (no command, ``--help``, a typo) None: every sub-command is registered, to list them."""
    if argv and any(name.rsplit(".", 1)[-1] == argv[0] for name in COMMAND_MODULES):
        return argv[0]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(only=_command_named(words))
    args = parser.parse_args(words)
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
