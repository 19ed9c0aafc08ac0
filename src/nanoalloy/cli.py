"""Command-line interface: a thin layer over the library.

Every sub-command lives in its own module under :mod:`nanoalloy.commands` and
exposes ``NAME``, ``HELP``, ``configure(parser)`` and ``run(args) -> int``; they
are discovered here, so adding a command never touches this file.

Exit codes: 0 success, 1 bad input or a library error (one clear line on
stderr, never a traceback), 2 usage errors (argparse's, and options that conflict
or lie out of range: :class:`~nanoalloy.errors.UsageError`), 130 interrupted,
143 terminated (SIGTERM: staging folders and temporary files are removed first).
Every failure, including numeric overflow, Python's own limits, Dask's
errors and failures nobody foresaw, ends in one line; set ``NANOALLOY_DEBUG=1``
to see the traceback of the unforeseen ones. Named pipes and devices given as
arguments are refused before anything opens them (reading one would block).
Commands that write a results folder replace it as a whole and refuse a
folder that already holds files unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import signal
import stat
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from ._version import __version__
from .errors import FormulaError, InputError, NanoalloyError, UsageError

__all__ = ["build_parser", "main"]


class _StoreOnce(argparse._StoreAction):
    """A single-valued option given twice with two values is refused, not the last taken
    (``--preset au25-sr18 ... --preset au25ag-sr18`` assigned with the second, silently)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        given: dict[str, Any] = namespace.__dict__.setdefault("_given", {})
        if option_string and self.dest in given and given[self.dest] != values:
            parser.error(
                f"{option_string} given twice ({given[self.dest]} and {values}); give it once"
            )
        given[self.dest] = values
        super().__call__(parser, namespace, values, option_string)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (and exit code 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every discovered sub-command."""
    from . import commands

    parser = _Parser(
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


# options naming a file or folder the command writes: checked before any work
_WRITTEN = ("out", "plot", "workspace")


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, FormulaError):
        return exc.one_line
    return " ".join(str(exc).split()) or type(exc).__name__


def _arguments(args: argparse.Namespace) -> Iterator[str]:
    for key, value in vars(args).items():
        if key.startswith("_"):
            continue
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if isinstance(v, str) and v:
                yield v


def _refuse_special_files(args: argparse.Namespace) -> None:
    """Named pipes, devices and sockets given as arguments: refused at once."""
    for v in _arguments(args):
        try:
            mode = os.stat(v).st_mode
        except (OSError, ValueError):
            continue
        if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
            kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device or socket"
            raise InputError(f"{v}: is {kind}, not a regular file; save the data to a file first")


def _describe(exc: BaseException) -> str:
    """One line for an exception nanoalloy did not raise on purpose."""
    if isinstance(exc, MemoryError):
        return "out of memory" + (f": {_one_line(exc)}" if str(exc) else "")
    if isinstance(exc, ArithmeticError):
        return f"numeric overflow or invalid arithmetic: {_one_line(exc)}"
    if isinstance(exc, RecursionError):
        return "input nested too deeply (recursion limit)"
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"{exc.filename}: no such file"
    if isinstance(exc, IsADirectoryError) and exc.filename:
        return f"{exc.filename}: is a folder, not a file"
    if isinstance(exc, OSError | ValueError):
        return _one_line(exc)
    return f"{type(exc).__name__}: {_one_line(exc)}"


class _Terminated(BaseException):
    """SIGTERM, raised so that every ``finally`` (staging folders, temporary files) runs."""


def _terminate_cleanly() -> Any:
    """Turn SIGTERM into an exception (main thread only); returns the previous handler."""

    def raise_terminated(signum: int, frame: object) -> None:
        raise _Terminated

    try:
        return signal.signal(signal.SIGTERM, raise_terminated)
    except ValueError:  # not the main thread
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    from .output import (
        allow_overwrite,
        check_apart_from_inputs,
        check_output_dir,
        check_writable,
    )

    parser = build_parser()
    args = parser.parse_args(argv)
    previous = _terminate_cleanly()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"nanoalloy {args.command}: %(message)s"))
    logger = logging.getLogger("nanoalloy")
    logger.addHandler(handler)
    try:
        _refuse_special_files(args)
        overwrite = bool(getattr(args, "overwrite", False))
        out = getattr(args, "out", None)
        if isinstance(out, str) and out:
            # never write over, or into the folder of, a file the command reads
            # (the command's own name is no path: `batch DIR --out batch` is a rerun)
            others = argparse.Namespace(
                **{k: v for k, v in vars(args).items() if k not in ("out", "command")}
            )
            check_apart_from_inputs(out, _arguments(others))
        if hasattr(args, "overwrite") and getattr(args, "out", None):
            check_output_dir(args.out, overwrite=overwrite)  # refuse before the work
        for name in _WRITTEN:  # a file in the way, no permission, a read-only mount
            target = getattr(args, name, None)
            if isinstance(target, str) and target:
                # (a workspace is written into, the others beside their target)
                if name == "workspace" and os.path.exists(target) and not os.path.isdir(target):
                    raise InputError(f"workspace {target!r} exists and is not a folder")
                check_writable(os.path.join(target, "x") if name == "workspace" else target)
        with allow_overwrite(overwrite):
            return int(args._run(args) or 0)
    except UsageError as exc:  # options that conflict or lie out of range: as argparse's
        print(f"nanoalloy {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
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
    except KeyboardInterrupt:
        print("nanoalloy: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # numeric overflow, Python limits, Dask, the unforeseen
        if os.environ.get("NANOALLOY_DEBUG"):
            raise
        print(f"nanoalloy {args.command}: error: {_describe(exc)}", file=sys.stderr)
        return 1
    except _Terminated:
        print("nanoalloy: terminated", file=sys.stderr)
        return 143
    finally:
        logger.removeHandler(handler)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
