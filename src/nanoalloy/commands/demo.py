"""``nanoalloy demo``: the whole loop on simulated data, ending in ``DIR/report.html``.

Simulates the Au44 + Ag44 reaction at five feed ratios and a 3:1 time course, renders the
populations as ESI spectra, assigns them blind, and writes two series, their figures and the
report. The spectra are simulated, and the output says so.
"""

from __future__ import annotations

import argparse

NAME = "demo"
HELP = "Simulate, render, assign and report the Au44 + Ag44 reaction (simulated spectra)."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``demo``."""
    parser.add_argument(
        "--out",
        metavar="DIR",
        default="nanoalloy-demo",
        help="output folder (default nanoalloy-demo)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the output folder as a whole if it already holds files",
    )
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    from ..demo import run_demo
    from ..errors import UsageError

    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    run_demo(args.out, workers=args.workers, progress=not args.no_progress)
    return 0
