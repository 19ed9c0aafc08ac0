"""``nanoalloy sweep``: final products of the kinetic model against the feed ratio.

Writes ``sweep.csv`` and ``sweep.png`` (product family and composition against R, log axis,
like Fig. S6 / Fig. 5 of Lin et al. 2022) into ``--out DIR``.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

from ..errors import UsageError

NAME = "sweep"
HELP = "Final product families and compositions of the kinetic model against feed ratio."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``sweep``."""
    parser.add_argument(
        "--ratios",
        required=True,
        metavar="LIST",
        help="comma-separated AU:AG ratios, e.g. 1:40,1:10,1:3,2:1,6:1,40:1; "
        "or logN:LO:HI for N log-spaced ratios, e.g. log40:1/40:40",
    )
    parser.add_argument("--hours", type=float, default=20.0, help="reaction time (h)")
    parser.add_argument("--params", metavar="FILE", help="parameter TOML (default: calibrated)")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (0: all cores)")
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the output folder as a whole if it already holds files",
    )


def _number(text: str) -> float:
    num, sep, den = text.partition("/")
    try:
        val = float(num) / (float(den) if sep else 1.0)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"bad number {text!r}") from None
    return val


def parse_ratios(text: str) -> list[float]:
    """Parse ``1:40,1:10,3:1`` (or ``log40:1/40:40``) into R = Au/Ag values."""
    import numpy as np

    text = text.strip()
    if text.lower().startswith("log"):
        parts = text[3:].split(":")
        if len(parts) != 3:
            raise UsageError(f"bad ratio list {text!r}; expected logN:LO:HI")
        try:
            n = int(parts[0])
        except ValueError:
            raise UsageError(f"bad ratio list {text!r}; N must be an integer") from None
        lo, hi = _number(parts[1]), _number(parts[2])
        if n < 1 or not (0 < lo <= hi and math.isfinite(hi)):
            raise UsageError(f"bad ratio list {text!r}; need N >= 1 and 0 < LO <= HI")
        return [float(v) for v in np.geomspace(lo, hi, n)]
    out = []
    for item in text.split(","):
        au, sep, ag = item.strip().partition(":")
        if not sep:
            raise UsageError(f"bad ratio {item!r}; expected AU:AG such as 3:1")
        a, b = _number(au), _number(ag)
        if not (math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0):
            raise UsageError(f"bad ratio {item!r}; both amounts must be > 0")
        if not 0 < a / b < math.inf:  # 1e308:1e-308
            raise UsageError(f"bad ratio {item!r}; AU/AG = {a / b:g} is no feed ratio")
        out.append(a / b)
    return out


def plot_sweep(table: Any, path: Path) -> None:
    """Family fractions and mean x (with Au/Ag) against feed ratio, log x-axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..kinetics import FAMILIES

    colors = {"M44S30": "tab:blue", "M44S27": "tab:green", "M44S26": "tab:orange"}
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6.4, 6.4), sharex=True)
    r = table["ratio"]
    for f in FAMILIES:
        ax1.plot(r, table[f"fraction_{f}"], "o-", ms=3, color=colors[f], label=f)
        shown = table[f"mean_x_{f}"].where(table[f"fraction_{f}"] > 1e-3)  # hide vanished
        ax2.plot(r, shown, "o-", ms=3, color=colors[f], label=f)
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.axvline(1.0, color="grey", ls=":", lw=1)
    ax1.set_ylabel("product fraction")
    ax1.set_ylim(-0.02, 1.02)
    ax1.legend(frameon=False)
    ax1b = ax1.twinx()
    ax1b.plot(r, table["mean_electrons"], "k--", lw=1)
    ax1b.set_ylabel("mean valence electrons")
    ax1b.set_ylim(17.8, 20.2)
    ax2.set_ylabel("mean x (Au atoms)")
    ax2.set_ylim(0, 44)
    ax2.set_xlabel("feed ratio R = n(Au44) / n(Ag44)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    """Run the sweep and write the outputs."""
    from ..kinetics import load_params, sweep
    from ..output import atomic_dir

    ratios = parse_ratios(args.ratios)
    if not (math.isfinite(args.hours) and args.hours > 0):
        raise UsageError(f"--hours must be > 0, got {args.hours}")
    if args.jobs < 0:
        raise UsageError("--jobs must be >= 0")
    params = load_params(args.params) if args.params else load_params()
    jobs = args.jobs or min(len(ratios), os.cpu_count() or 1)
    table = sweep(ratios, hours=args.hours, n_jobs=jobs, params=params)
    with atomic_dir(args.out) as stage:
        table.to_csv(stage / "sweep.csv", index=False)
        plot_sweep(table, stage / "sweep.png")
    print(f"{len(table)} ratios; wrote {args.out}")
    return 0
