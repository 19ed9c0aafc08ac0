"""Command-line interface: a thin layer over the library.

Every sub-command lives in its own module under :mod:`nanoalloy.commands` and
exposes ``NAME``, ``HELP``, ``configure(parser)`` and ``run(args) -> int``; they
are discovered here, so adding a command never touches this file.

Exit codes: 0 success, 1 bad input or a library error (one clear line on
stderr, never a traceback), 2 usage errors (argparse), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from ._version import __version__
from .errors import FormulaError, NanoalloyError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every discovered sub-command."""
    from . import commands

    parser = argparse.ArgumentParser(
        prog="nanoalloy",
        description="Assign, simulate and report alloy nanocluster mass spectra.",
    )
    parser.add_argument("--version", action="version", version=f"nanoalloy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    mods = sorted(
        m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")
    )
    for name in mods:
        mod = importlib.import_module(f"{commands.__name__}.{name}")
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.configure(p)
        p.set_defaults(_run=mod.run)
    return parser


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, FormulaError):
        return exc.one_line
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except NanoalloyError as exc:
        print(f"nanoalloy {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader went away (``nanoalloy info F | head``): stop quietly; point
        # stdout at devnull so that the interpreter's final flush does not complain
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # stdout is not a file (captured, redirected)
            pass
        return 1
    except (OSError, ValueError) as exc:  # file system problems, invalid values
        print(f"nanoalloy {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nanoalloy: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
