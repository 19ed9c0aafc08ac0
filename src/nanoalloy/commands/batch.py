"""``nanoalloy batch``: assign many spectra in parallel on Dask, resumable.

Results go to ``--out DIR``: per-spectrum and combined species, ions and families tables
(Parquet and CSV) and ``manifest.json``; a rerun skips spectra already done (same file
content and settings).
"""

from __future__ import annotations

import argparse

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
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the batch and print what it did."""
    from ..batch import run_batch

    res = run_batch(
        args.inputs,
        out=args.out,
        preset=args.preset,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.no_progress,
    )
    print(f"assigned {len(res.done)}, skipped {len(res.skipped)} already done; wrote {args.out}")
    return 0
