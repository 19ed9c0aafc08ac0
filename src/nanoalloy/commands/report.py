"""``nanoalloy report DIR``: (re)build the self-contained ``report.html`` of a results folder.

Works on folders written by ``series``, ``demo``, ``assign`` and ``simulate`` (and on folders
holding several of them one level down).
"""

from __future__ import annotations

import argparse

NAME = "report"
HELP = "Write a self-contained interactive report.html for a results folder."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``report``."""
    parser.add_argument(
        "folder", metavar="DIR", help="folder written by series, demo, assign or simulate"
    )
    parser.add_argument("--title", help="report title (default from the folder)")


def run(args: argparse.Namespace) -> int:
    """Write the report and print its path."""
    from ..results.report import write_report

    path = write_report(args.folder, title=args.title)
    print(f"report: {path}")
    return 0
