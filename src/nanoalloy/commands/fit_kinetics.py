"""``nanoalloy fit-kinetics``: fit the kinetic model's rate constants to a measured time course.

Writes ``params.toml`` (the fitted parameter set), ``fit.json`` (multipliers, values, standard
deviations, starts), ``fit.csv`` (observed against model) and ``fit.png`` into ``--out DIR``.
A time course with an sd column (``abundance_sd``, ``fraction_sd`` or ``sd``: what ``assign``
and ``series`` write) weights each point by it; ``--unweighted`` ignores it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import InputError, UsageError

NAME = "fit-kinetics"
HELP = "Fit kinetic rate constants to a time course (multi-start least squares, optional Dask)."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``fit-kinetics``."""
    parser.add_argument("timecourse", metavar="TIMECOURSE.csv", help="long table of populations")
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the output folder as a whole if it already holds files",
    )
    parser.add_argument("--starts", type=int, default=8, help="number of starts (default 8)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="dask.distributed scheduler")
    parser.add_argument("--ratio", metavar="AU:AG", help="feed ratio (default: inferred)")
    parser.add_argument("--params", metavar="FILE", help="starting parameter TOML")
    parser.add_argument("--max-nfev", type=int, default=40, help="evaluations per start")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random starts")
    parser.add_argument(
        "--response",
        metavar="FAM=R,...",
        help="share of each family's population the measurement sees, e.g. M44S26=0.35 "
        "(ions outside the recorded m/z window); default: the time course's window_share "
        "column (written by assign/series from the preset's charge-state weights), else 1",
    )
    parser.add_argument(
        "--no-response",
        action="store_true",
        help="ignore the window_share column: compare the abundances with the populations as they are",
    )
    parser.add_argument(
        "--unweighted",
        action="store_true",
        help="ignore the sd column (abundance_sd, fraction_sd or sd) of the time course",
    )


def plot_fit(table: Any, path: Path) -> None:
    """Observed (points) and model (lines) family fractions against time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..kinetics import FAMILIES

    colors = {"M44S30": "tab:blue", "M44S27": "tab:green", "M44S26": "tab:orange"}
    g = table.groupby(["time_h", "family"])[["observed", "model"]].sum().reset_index()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for f in FAMILIES:
        sub = g[g["family"] == f]
        ax.plot(sub["time_h"], sub["observed"], "o", color=colors[f], label=f"{f} observed")
        ax.plot(sub["time_h"], sub["model"], "-", color=colors[f], label=f"{f} model")
    ax.set_xlabel("time (h)")
    ax.set_ylabel("family fraction")
    ax.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _parse_response(text: str) -> dict[str, float]:
    """``M44S26=0.35,M44S27=0.4`` -> mapping (one clear error on bad input)."""
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise UsageError(f"--response expects FAMILY=VALUE,..., got {part!r}")
    return out


def run(args: argparse.Namespace) -> int:
    """Run the fit and write the outputs."""
    from ..kinetics import load_params
    from ..kinetics.fit import dump_params, fit_timecourse
    from ..output import atomic_dir
    from .simulate import parse_ratio

    if args.response and args.no_response:
        raise UsageError("--response gives the window shares that --no-response ignores: use one")
    if args.starts < 1:
        raise UsageError("--starts must be >= 1")
    if args.max_nfev < 1:
        raise UsageError("--max-nfev must be >= 1")
    path = Path(args.timecourse)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise InputError(f"time course file {str(path)!r} {what}")
    ratio = None
    if args.ratio:
        feed = parse_ratio(args.ratio)
        if feed["Ag44"] <= 0 or feed["Au44"] <= 0:
            raise UsageError("--ratio needs both amounts > 0")
        ratio = feed["Au44"] / feed["Ag44"]
    params = load_params(args.params) if args.params else load_params()
    response = _parse_response(args.response) if args.response else None
    res = fit_timecourse(
        path,
        starts=args.starts,
        scheduler=args.scheduler,
        params=params,
        ratio=ratio,
        seed=args.seed,
        max_nfev=args.max_nfev,
        weighted=not args.unweighted,
        response=response,
        window_share=not args.no_response,
    )
    with atomic_dir(args.out) as stage:
        (stage / "params.toml").write_text(dump_params(res.params))
        (stage / "fit.json").write_text(json.dumps(res.to_dict(), indent=2) + "\n")
        res.table.to_csv(stage / "fit.csv", index=False)
        plot_fit(res.table, stage / "fit.png")
    how = f"weighted by sd, reduced chi-square {res.chi2_red:.3g}" if res.weighted else "unweighted"
    if res.response == "window_share":
        how += "; model seen through the window_share column (--no-response to ignore it)"
    print(f"rmse {res.rmse:.4g} over {len(res.starts)} starts ({how}); wrote {args.out}")
    for k, v in res.values.items():
        print(f"  {k} = {v:.4g} +- {res.sd[k]:.2g}")
    return 0
