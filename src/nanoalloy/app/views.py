"""What the pages show: figures and tables built from a job's results folder.

The spectrum, family-fraction, heat-map and time-course figures and the sortable
tables are the report's own (:mod:`nanoalloy.results.report`); this module only adds what
the report has no use for: an ion's isotope pattern as an overlay, the final
distribution of a simulation, and simulation against assignment.

Contents
--------
assign_view, series_view, simulate_view
    Figures (plotly JSON) and tables (HTML) for a finished job.
ion_details
    One fitted ion: its isotope pattern drawn at the fitted height, ppm error,
    near-isobar partners and their share of the signal.
compare_view
    Family fractions and x distributions of a simulation against an assignment.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "assign_view",
    "compare_view",
    "ion_details",
    "job_view",
    "series_view",
    "simulate_view",
    "write_view",
]

FAMILY_ORDER = ("M44S30", "M44S27", "M44S26")
MIN_SHARE = 1e-3


def _csv(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.exists():
        return pd.DataFrame()
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _json(fig: Any) -> str:
    """Plotly figure -> JSON text safe inside a ``<script>`` element (no ``<`` at all)."""
    return str(fig.to_json()).replace("<", "\\u003c")


def _table(df: pd.DataFrame, table_id: str) -> str:
    from nanoalloy.results.report import table_html

    # text columns as object dtype, so that the table aligns and sorts them as text
    text = {
        c: object for c in df.columns if df[c].dtype.kind in "OSUT" or str(df[c].dtype) == "str"
    }
    return str(table_html(df.astype(text) if text else df, table_id=table_id))


def assign_view(folder: Path) -> dict[str, Any]:
    """Spectrum figure with model, residual and labelled ions; the three tables."""
    import pandas as pd

    from nanoalloy.ms.spectrum import decimate
    from nanoalloy.results.report import spectrum_figure

    species = _csv(folder / "species.csv")
    ions = _csv(folder / "ions.csv")
    families = _csv(folder / "families.csv")
    out: dict[str, Any] = {"figures": {}}
    fit = _csv(folder / "fit.csv")
    if {"mz", "intensity", "model"} <= set(fit.columns) and len(fit):
        mz, y, model = decimate(
            fit["mz"].to_numpy(float),
            fit["intensity"].to_numpy(float),
            fit["model"].to_numpy(float),
        )
        spec = pd.DataFrame({"mz": mz, "intensity": y, "model": model})
        fig = spectrum_figure(spec, ions, species, "spectrum, fitted model and residual")
        fig.update_traces(visible=True, selector={"name": "residual"})
        for trace in fig.data:  # plain lists, so that the page's script can search the markers
            if str(trace.name).startswith("ions"):
                trace.x = [float(v) for v in trace.x]
                trace.y = [float(v) for v in trace.y]
        fig.update_layout(height=460, dragmode="zoom")
        out["figures"]["spectrum"] = _json(fig)
    out["families"] = _table(families, "families")
    out["species"] = _table(species, "species")
    out["ions"] = _table(ions, "ions")
    out["n_species"] = len(species)
    out["n_ions"] = len(ions)
    return out


def series_view(folder: Path) -> dict[str, Any]:
    """Family fractions (one point per spectrum), x heat maps, Au/Ag figures, tables."""
    from nanoalloy.results.report import fractions_figure, heatmap_figure

    run = json.loads((folder / "run.json").read_text()) if (folder / "run.json").exists() else {}
    tab = _csv(folder / "series.csv")
    summ = _csv(folder / "summary.csv")
    out: dict[str, Any] = {"figures": {}, "images": []}
    if len(tab) and len(summ):
        out["figures"]["fractions"] = _json(fractions_figure(tab, summ, run))
        fams = [f for f in FAMILY_ORDER if f in set(tab["family"])]
        if fams:
            labels = list(summ["label"].astype(str))
            out["figures"]["heatmap"] = _json(heatmap_figure(tab, labels, fams))
    figs = folder / "figures"
    if figs.is_dir():
        out["images"] = sorted(p.name for p in figs.glob("*.png"))
    out["summary"] = _table(summ.drop(columns=["spectrum_file"], errors="ignore"), "summary")
    out["families"] = _table(_csv(folder / "families.csv"), "families")
    shown = tab[tab["abundance"].astype(float) >= 1e-3] if "abundance" in tab else tab
    out["species"] = _table(shown, "species")
    return out


def _final_figure(final: pd.DataFrame) -> Any:
    import plotly.graph_objects as go

    from nanoalloy.results.figures import FAMILY_COLORS

    fig = go.Figure()
    for fam in FAMILY_ORDER:
        part = final[final["family"] == fam]
        if part.empty or float(part["fraction"].sum()) < 1e-4:
            continue
        fig.add_trace(
            go.Bar(
                x=part["au"],
                y=part["fraction"],
                name=fam,
                marker={"color": FAMILY_COLORS.get(fam, "#9467bd")},
            )
        )
    fig.update_layout(
        title="Final distribution (x = Au atoms)",
        height=340,
        barmode="overlay",
        template="plotly_white",
        xaxis_title="x (Au atoms)",
        yaxis_title="fraction of 44-metal clusters",
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
    )
    return fig


def simulate_view(folder: Path) -> dict[str, Any]:
    """Time course of family fractions, final distribution, final table."""
    from nanoalloy.results.report import timecourse_figure

    pops = _csv(folder / "populations.csv")
    final = _csv(folder / "final.csv")
    out: dict[str, Any] = {"figures": {}}
    if len(pops):
        out["figures"]["timecourse"] = _json(timecourse_figure(pops))
    if len(final):
        out["figures"]["final"] = _json(_final_figure(final))
        out["final"] = _table(final[final["fraction"] > 1e-4], "final")
    return out


VIEW_FILE = "view.json"


def write_view(kind: str, folder: Path) -> None:
    """Build the page content of a finished job once (in the worker) into ``view.json``."""
    builders = {"assign": assign_view, "series": series_view, "simulate": simulate_view}
    (folder / VIEW_FILE).write_text(json.dumps(builders[kind](folder)), encoding="utf-8")


def job_view(kind: str, folder: Path) -> dict[str, Any]:
    """The page content of a finished job: ``view.json`` when written, else built now."""
    path = folder / VIEW_FILE
    if path.exists():
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass
    builders = {"assign": assign_view, "series": series_view, "simulate": simulate_view}
    return builders[kind](folder)


# ----------------------------------------------------------------------------- ions


def ion_details(folder: Path, ion: str, resolution: float) -> dict[str, Any]:
    """The pattern overlay and the facts of one fitted ion of a finished assign job.

    Raises
    ------
    KeyError
        ``ion`` is not one of the job's fitted ions.
    """
    from nanoalloy.chem.formula import parse

    ions = _csv(folder / "ions.csv")
    if ions.empty or "ion" not in ions.columns:
        raise KeyError(ion)
    match = ions[ions["ion"].astype(str) == ion]
    if match.empty:
        raise KeyError(ion)
    row = match.iloc[0]
    pat = parse(ion).pattern()
    scale = float(row["mz_observed"]) / float(row["mz"]) if float(row["mz"]) > 0 else 1.0
    centers = np.asarray(pat.mz, float) * scale
    area = np.asarray(pat.probability, float) * float(row["intensity"])
    res = resolution if math.isfinite(resolution) and resolution > 0 else 20_000.0
    sigma = centers / res / 2.3548200450309493
    lo, hi = float(centers.min() - 5 * sigma.max()), float(centers.max() + 5 * sigma.max())
    grid = np.linspace(lo, hi, 1500)
    y = np.zeros_like(grid)
    for c, a, s in zip(centers, area, sigma, strict=True):
        if a > 0:
            y += a / (s * math.sqrt(2 * math.pi)) * np.exp(-0.5 * ((grid - c) / s) ** 2)
    # the tallest measured or modelled point around the envelope (to scale the zoomed view)
    fit = _csv(folder / "fit.csv")
    pad = 0.15 * (hi - lo)
    ymax = float(y.max())
    if {"mz", "intensity", "model"} <= set(fit.columns):
        near = fit[(fit["mz"] >= lo - pad) & (fit["mz"] <= hi + pad)]
        if len(near):
            ymax = max(ymax, float(near["intensity"].max()), float(near["model"].max()))
    partners = [p for p in str(row.get("near_isobar", "") or "").split(";") if p and p != "nan"]
    inten = dict(zip(ions["ion"].astype(str), ions["intensity"].astype(float), strict=False))
    own = float(row["intensity"])
    other = sum(inten.get(p, 0.0) for p in partners)
    share = other / (own + other) if own + other > 0 else 0.0
    sp = str(row["species"])
    return {
        "ion": ion,
        "species": sp,
        "family": str(row.get("family", "")),
        "charge": int(row["charge"]),
        "mz": float(row["mz"]),
        "mz_observed": float(row["mz_observed"]),
        "ppm_error": float(row["ppm_error"]),
        "intensity": own,
        "partners": [{"ion": p, "intensity": inten.get(p, 0.0)} for p in partners],
        "ambiguity_share": share,
        "pattern": {"mz": grid.round(5).tolist(), "y": y.tolist()},
        "view": {"x": [lo - pad, hi + pad], "y": [-0.05 * ymax, 1.1 * ymax]},
        "sticks": {
            "mz": centers.round(5).tolist(),
            "y": (area / (sigma * math.sqrt(2 * math.pi))).tolist(),
        },
    }


# ----------------------------------------------------------------------------- compare


def _distribution(df: pd.DataFrame, col: str) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {}
    if df.empty or not {"family", "au", col} <= set(df.columns):
        return out
    for fam, part in df.groupby("family"):
        if fam not in FAMILY_ORDER:
            continue
        g = part.groupby("au")[col].sum()
        out[str(fam)] = {int(k): float(v) for k, v in g.items() if v > 0}
    return out


def compare_view(sim_folder: Path, assign_folder: Path) -> dict[str, Any]:
    """Simulated final populations against assigned abundances: figures and a table."""
    import pandas as pd
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from nanoalloy.results.figures import FAMILY_COLORS

    sim = _distribution(_csv(sim_folder / "final.csv"), "fraction")
    got = _distribution(_csv(assign_folder / "species.csv"), "abundance")
    tot_s = sum(sum(d.values()) for d in sim.values()) or 1.0
    tot_g = sum(sum(d.values()) for d in got.values()) or 1.0
    share_s = {f: sum(d.values()) / tot_s for f, d in sim.items()}
    share_g = {f: sum(d.values()) / tot_g for f, d in got.items()}
    # a family below 0.1 % on both sides is not shown (its normalised x curve means nothing)
    fams = [f for f in FAMILY_ORDER if max(share_s.get(f, 0.0), share_g.get(f, 0.0)) >= MIN_SHARE]
    frac_s = [share_s.get(f, 0.0) for f in fams]
    frac_g = [share_g.get(f, 0.0) for f in fams]
    bars = go.Figure(
        [
            go.Bar(x=fams, y=frac_s, name="simulated", marker={"color": "#7f7f7f"}),
            go.Bar(x=fams, y=frac_g, name="assigned", marker={"color": "#1f77b4"}),
        ]
    )
    bars.update_layout(
        title="Family fractions: simulation against assignment",
        barmode="group",
        height=320,
        template="plotly_white",
        yaxis_title="fraction",
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
    )
    rows = []
    dist = make_subplots(rows=1, cols=max(len(fams), 1), subplot_titles=fams or ["no families"])
    for k, fam in enumerate(fams):
        s = sim.get(fam, {}) if share_s.get(fam, 0.0) >= MIN_SHARE else {}
        g = got.get(fam, {}) if share_g.get(fam, 0.0) >= MIN_SHARE else {}
        xs = sorted(set(s) | set(g))
        ss, gs = sum(s.values()), sum(g.values())
        sn = [s.get(x, 0.0) / ss if ss else 0.0 for x in xs]
        gn = [g.get(x, 0.0) / gs if gs else 0.0 for x in xs]
        color = FAMILY_COLORS.get(fam, "#9467bd")
        dist.add_trace(
            go.Scatter(
                x=xs,
                y=sn,
                mode="lines",
                name=f"{fam} simulated",
                line={"color": color, "dash": "dot"},
            ),
            row=1,
            col=k + 1,
        )
        dist.add_trace(
            go.Bar(x=xs, y=gn, name=f"{fam} assigned", marker={"color": color}, opacity=0.6),
            row=1,
            col=k + 1,
        )
        tv = 0.5 * sum(abs(a - b) for a, b in zip(sn, gn, strict=True)) if ss and gs else math.nan
        rows.append(
            {
                "family": fam,
                "simulated fraction": frac_s[k],
                "assigned fraction": frac_g[k],
                "simulated mean x": sum(x * v for x, v in s.items()) / ss if ss else math.nan,
                "assigned mean x": sum(x * v for x, v in g.items()) / gs if gs else math.nan,
                "x distribution TV distance": tv,
            }
        )
    dist.update_layout(
        title="x distribution per family (normalised within the family)",
        height=340,
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 60, "b": 40},
    )
    return {
        "figures": {"compare-fractions": _json(bars), "compare-x": _json(dist)},
        "table": _table(pd.DataFrame(rows), "compare"),
    }
