"""``nanoalloy series``: assign a series of spectra (feed ratios or time) and report it.

Writes into ``--out DIR`` (atomically): ``series.csv`` (long table readable by
``fit-kinetics``), ``summary.csv``, ``species.csv``, ``ions.csv``, ``families.csv``,
``spectra/``, ``figures/`` (PNG and SVG), ``run.json`` and ``report.html``.
"""

from __future__ import annotations

import argparse

NAME = "series"
HELP = "Assign a series of spectra (files, a folder, a glob, or one multi-scan file) and report it."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``series``."""
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="spectrum files, a folder, a glob, or one multi-scan mzML",
    )
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the output folder as a whole if it already holds files",
    )
    parser.add_argument(
        "--preset", default="auag44-pmba", help="candidate preset (default auag44-pmba)"
    )
    parser.add_argument(
        "--labels",
        nargs="+",
        metavar="LABEL",
        help="one label per spectrum (space or comma separated); ratios like 1:3 or times like 30min",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="processes to assign with (default 1)"
    )
    parser.add_argument(
        "--columns",
        metavar="MZ,INTENSITY",
        help="text spectra: m/z and intensity columns (1-based numbers or header names)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the series pipeline and print where the report is."""
    from ..errors import UsageError
    from ..results import series as series_mod

    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    done: list[str] = []

    def progress(label: str) -> None:
        done.append(label)
        print(f"  assigned {label}")

    s = series_mod.run_series(
        args.inputs,
        out=args.out,
        preset=args.preset,
        labels=args.labels,
        workers=args.workers,
        progress=progress,
        columns=args.columns,
    )
    print(f"{len(s)} spectra ({s.axis} series); wrote {args.out}/series.csv and figures")
    print(f"report: {args.out}/report.html")
    return 0
