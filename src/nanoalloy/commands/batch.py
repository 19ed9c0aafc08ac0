"""``nanoalloy batch``: assign many spectra in parallel on Dask, resumable.

Results go to ``--out DIR``: per-spectrum and combined species, ions and families tables
(Parquet and CSV, the combined ones with ``combined.json`` naming what they combine) and
``manifest.json``; a rerun skips spectra already done (same file content and settings).

A bad input does not stop the batch: the others are done, and the command ends with a
failures table on stderr (file, one-line reason; also ``failures.csv``) and exit code 1.
``--fail-fast`` stops at the first bad input instead. With ``--scheduler`` the command
waits ``--worker-timeout`` seconds (default 60, printed) for a worker, then gives up with
one line; a scheduler lost mid-run also ends in one line (rerun to resume).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator

NAME = "batch"
HELP = "Assign many spectra in parallel on Dask (local cluster or a scheduler address); resumable."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``batch``."""
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="spectrum files, folders or globs"
    )
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder")
    parser.add_argument(
        "--preset", default="auag44-pmba", help="candidate preset (default auag44-pmba)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=2, help="local Dask workers (default 2)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="address of a running Dask scheduler")
    parser.add_argument(
        "--worker-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --scheduler: how long to wait for a worker (default 60)",
    )
    parser.add_argument(
        "--fail-fast", action="store_true", help="stop at the first bad input (exit 1)"
    )
    parser.add_argument(
        "--columns",
        metavar="MZ,INTENSITY",
        help="text spectra: m/z and intensity columns (1-based numbers or header names)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _one_line(text: str) -> str:
    return " ".join(text.split())


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask logs every lost worker and connection with a traceback; the batch reports them
    itself (one line, or the failures table). Silence its loggers meanwhile."""
    import distributed  # noqa: F401  (creates and configures its loggers)

    names = ["distributed"] + [
        n for n in logging.root.manager.loggerDict if n.startswith("distributed.")
    ]
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def run(args: argparse.Namespace) -> int:
    """Run the batch and print what it did; exit 1 if any input failed."""
    import math

    from ..batch import run_batch
    from ..errors import UsageError

    if args.worker_timeout is not None and not args.scheduler:
        raise UsageError("--worker-timeout is for --scheduler: local workers start with the batch")
    timeout = 60.0 if args.worker_timeout is None else args.worker_timeout
    if not (math.isfinite(timeout) and timeout > 0):
        raise UsageError(f"--worker-timeout must be > 0 seconds, got {timeout}")
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.scheduler:
        print(
            f"nanoalloy batch: connecting to {args.scheduler}, waiting up to "
            f"{timeout:g} s for a worker",
            file=sys.stderr,
        )
    with _quiet_dask():
        res = run_batch(
            args.inputs,
            out=args.out,
            preset=args.preset,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.no_progress,
            fail_fast=args.fail_fast,
            worker_timeout=timeout,
            columns=args.columns,
        )
    print(
        f"assigned {len(res.done)}, skipped {len(res.skipped)} already done, "
        f"failed {len(res.failed)}; wrote {args.out}"
    )
    if not res.failed:
        return 0
    width = max(len(str(f)) for f, _ in res.failed)
    lines = [
        f"nanoalloy batch: {len(res.failed)} input(s) failed (also in {args.out}/failures.csv):"
    ]
    lines.append(f"{'file':<{width}}  reason")
    lines += [f"{str(f):<{width}}  {_one_line(reason)}" for f, reason in res.failed]
    print("\n".join(lines), file=sys.stderr)
    return 1
