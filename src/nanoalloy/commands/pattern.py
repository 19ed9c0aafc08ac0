"""``nanoalloy pattern FORMULA --out FILE.csv``: isotope pattern as a table (and a plot)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError

NAME = "pattern"
HELP = "Aggregated isotope pattern (or a profile at a resolving power) written as CSV."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("formula", help="notation, e.g. '[Ag44(p-MBA)30]4-'")
    parser.add_argument("--out", required=True, metavar="FILE.csv", help="output CSV")
    parser.add_argument(
        "--resolution",
        type=float,
        metavar="R",
        help="resolving power (FWHM = m/z / R): write a profile",
    )
    parser.add_argument("--plot", metavar="FILE.png", help="also draw the pattern")
    parser.add_argument(
        "--coverage", type=float, default=0.9999, help="probability covered (default 0.9999)"
    )
    parser.add_argument("--sr", metavar="LIGAND", help="ligand that SR stands for, e.g. p-MBA")
    parser.add_argument("--ligands", metavar="TOML", help="extra ligand definitions")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..chem.formula import parse
    from ..chem.isotopes import profile
    from ..output import atomic_file
    from .mz import sr_registry
    from .synth import refuse_existing

    if not 0.5 < args.coverage < 1:
        raise UsageError(f"--coverage must be between 0.5 and 1, got {args.coverage}")
    if args.resolution is not None and not 10 <= args.resolution <= 1e7:
        raise UsageError(f"--resolution must be between 10 and 1e7, got {args.resolution}")
    if not str(args.out).lower().endswith((".csv", ".txt")):
        raise UsageError(f"--out must name a .csv file, got {args.out!r}")
    refuse_existing(args.out, args.force)
    if args.plot:
        _check_plot_format(args.plot)
    registry = sr_registry(args)
    ion = parse(args.formula, sr=args.sr, ligands=registry)
    pat = ion.pattern(coverage=args.coverage)
    if args.resolution:
        mz, y = profile(pat, args.resolution)
        header, cols = "mz,intensity", (mz, y)
    else:
        header, cols = "mz,probability", (pat.mz, pat.probability)
    # both files or neither: the table is renamed into place only after the plot was written
    with atomic_file(args.out) as tmp:
        np.savetxt(
            tmp, np.column_stack(cols), delimiter=",", header=header, comments="", fmt="%.10g"
        )
        if args.plot:
            _plot(ion, pat, args)
    print(f"wrote {args.out} ({len(cols[0])} rows, {header})")
    return 0


def _plot_format(path: str) -> str:
    return (Path(path).suffix or ".png").lstrip(".").lower()


def _check_plot_format(path: str) -> None:
    """Refuse a --plot file type matplotlib cannot write, before anything is written."""
    from matplotlib.backend_bases import FigureCanvasBase

    known = FigureCanvasBase.get_supported_filetypes()
    if _plot_format(path) not in known:
        raise UsageError(
            f"--plot {path!r}: unknown image format {_plot_format(path)!r}; "
            f"use one of {', '.join(sorted(known))}"
        )


def _plot(ion, pat, args: argparse.Namespace) -> None:  # noqa: ANN001
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..chem.isotopes import profile
    from ..output import atomic_file

    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    ax.vlines(
        pat.mz,
        0,
        pat.probability / pat.probability.max(),
        color="C0",
        lw=1.2,
        label="isotope peaks",
    )
    if args.resolution:
        mz, y = profile(pat, args.resolution)
        ax.plot(mz, y / y.max(), color="C1", lw=1, label=f"profile, R = {args.resolution:g}")
    ax.set_xlabel("m/z" if ion.charge else "mass (Da)")
    ax.set_ylabel("relative abundance")
    ax.set_title(str(ion), fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    try:
        with atomic_file(args.plot) as tmp:
            fig.savefig(tmp, format=_plot_format(args.plot), dpi=150)
    finally:
        plt.close(fig)
