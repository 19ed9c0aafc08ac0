"""Static, publication-style figures of a series (matplotlib, no pyplot).

Figures are built on :class:`matplotlib.figure.Figure` directly, so nothing
here switches the backend or touches a notebook's pyplot state. Each maker
takes a :class:`~nanoalloy.results.series.Series` and returns a Figure;
:func:`write_series_figures` saves every applicable one as PNG and SVG.

Contents
--------
FAMILY_COLORS
    One colour per structural family, shared with the HTML report.
stacked_spectra
    Stacked, normalised spectra with the fitted model and the main species labelled.
heatmaps
    Per family, the x (Au count) distribution against time, ratio or label.
family_fractions
    Family fractions against time or feed ratio.
au_ag_vs_feed
    Mean Au/Ag per family against the feed ratio (the paper's Fig. S6).
electrons_vs_feed
    Mean valence electrons of the products against the feed (the Table S1 rule).
write_series_figures
    Save every figure that applies to a series as ``NAME.png`` and ``NAME.svg``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


class SeriesLike(Protocol):
    """What the figures read of a :class:`~nanoalloy.results.series.Series` (figures sit
    below series in the layers, so they name the shape, not the class)."""

    @property
    def axis(self) -> str: ...
    @property
    def labels(self) -> list[str]: ...
    @property
    def points(self) -> Sequence[Any]: ...
    @property
    def title(self) -> str: ...
    @property
    def table(self) -> pd.DataFrame: ...
    @property
    def summary(self) -> pd.DataFrame: ...


__all__ = [
    "FAMILY_COLORS",
    "SeriesLike",
    "au_ag_vs_feed",
    "electrons_vs_feed",
    "family_fractions",
    "heatmaps",
    "stacked_spectra",
    "write_series_figures",
]

FAMILY_COLORS: dict[str, str] = {
    "M44S30": "#1f77b4",
    "M44S27": "#2ca02c",
    "M44S26": "#ff7f0e",
    "fragment": "#8c564b",
    "complex": "#7f7f7f",
}
_ORDER = ("M44S30", "M44S27", "M44S26")
_STYLE: Any = {
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",
}


def _color(family: str) -> str:
    return FAMILY_COLORS.get(family, "#9467bd")


def _figure(w: float, h: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), layout="constrained")


def _families(series: SeriesLike) -> list[str]:
    tab = series.table
    present = [str(f) for f in dict.fromkeys(tab["family"]) if isinstance(f, str)]
    known = [f for f in _ORDER if f in present]
    return known + sorted(f for f in present if f not in _ORDER)


def _au44_ag44_feed(series: SeriesLike) -> bool:
    """A feed electron count is known (the Au44/Ag44 system; see ``Series.summary``)."""
    feed = series.summary.get("feed_electrons")
    return feed is not None and bool(np.isfinite(feed.to_numpy(dtype=float)).any())


def _axis_values(series: SeriesLike) -> tuple[np.ndarray, str, bool]:
    """x positions, axis title and whether the axis is logarithmic."""
    ax = series.axis
    if ax == "time":
        return np.array([p.time_h for p in series.points], dtype=float), "time (h)", False
    if ax == "ratio":
        what = "n(Au44)/n(Ag44)" if _au44_ag44_feed(series) else "(from the labels)"
        xs = np.array([p.ratio for p in series.points], dtype=float)
        return xs, f"feed ratio R{' = ' if what[0] == 'n' else ' '}{what}", True
    return np.arange(len(series.points), dtype=float), "spectrum", False


def _set_axis(ax: Axes, series: SeriesLike) -> None:
    xs, title, log = _axis_values(series)
    ax.set_xlabel(title)
    if log:
        ax.set_xscale("log")
        ax.set_xticks(xs)
        ax.set_xticklabels(series.labels)
        ax.minorticks_off()
    elif series.axis == "time":
        pos = xs[xs > 0]
        if pos.size and xs.max() / pos.min() > 30:
            ax.set_xscale("symlog", linthresh=float(pos.min()))
    else:
        ax.set_xticks(xs)
        ax.set_xticklabels(series.labels, rotation=30, ha="right")


def stacked_spectra(series: SeriesLike, /, *, top: int = 3) -> Figure:
    """Stacked spectra, each normalised to its maximum, with the model and top species labelled."""
    import matplotlib as mpl

    from ..ms.spectrum import decimate

    n = max(len(series.points), 1)
    with mpl.rc_context(_STYLE):
        fig = _figure(7.0, 1.2 + 1.1 * n)
        ax = fig.add_subplot()
        for i, p in enumerate(series.points):
            s = p.spectrum
            y = np.asarray(s.intensity, dtype=float)
            scale = float(y.max()) or 1.0
            off = 1.15 * (n - 1 - i)
            mzs = np.asarray(s.mz, dtype=float)
            mz, yd = decimate(mzs, y, max_points=6000)
            ax.plot(mz, yd / scale + off, color="0.15", lw=0.5)
            if p.assigned.model is not None:
                mzm, ym = decimate(mzs, p.assigned.model, max_points=6000)
                ax.plot(mzm, ym / scale + off, color="#d62728", lw=0.6, alpha=0.8)
            ax.text(float(s.mz[0]), off + 0.75, p.label, fontsize=9, fontweight="bold", va="bottom")
            _label_species(ax, p, scale, off, top)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_xlabel("m/z")
        ax.set_title(series.title or "Spectra (black) and fitted model (red)", fontsize=10)
    return fig


def _label_species(ax: Axes, point: object, scale: float, off: float, top: int) -> None:
    sp = point.assigned.species  # type: ignore[attr-defined]
    ions = point.assigned.ions  # type: ignore[attr-defined]
    if sp.empty or ions.empty or not {"species", "abundance"} <= set(sp.columns):
        return
    if not {"species", "mz", "intensity"} <= set(ions.columns):
        return
    cl = sp[~sp["family"].isin(("fragment", "complex"))] if "family" in sp.columns else sp
    best = cl.sort_values("abundance", ascending=False).head(top)
    spec = point.spectrum  # type: ignore[attr-defined]
    model = point.assigned.model  # type: ignore[attr-defined]
    yref = model if model is not None else np.asarray(spec.intensity, dtype=float)
    for _, row in best.iterrows():
        mine = ions[ions["species"] == row["species"]]
        if mine.empty:
            continue
        ion = mine.loc[mine["intensity"].astype(float).idxmax()]
        mz = float(ion["mz"])
        y = float(np.interp(mz, spec.mz, yref)) / scale + off
        color = _color(str(row.get("family", "")))
        ax.annotate(
            f"{row['species']}",
            (mz, y),
            xytext=(0, 6),
            textcoords="offset points",
            ha="center",
            fontsize=6.5,
            color=color,
        )


def heatmaps(series: SeriesLike, /) -> Figure:
    """Per family, abundance of each x against time, ratio or label.

    The y axis is named after what the family's x counts in the series' preset
    (``x (Au atoms)``, ``x (Ag atoms)``, ``x (SBB ligands)``, ``x (hydrides)``).
    """
    import matplotlib as mpl

    from ..ms.preset import x_axis_label

    fams = _families(series) or ["M44S30"]
    tab = series.table
    labels = series.labels
    xcol = "x" if "x" in tab.columns and tab["x"].notna().any() else "au"
    preset = getattr(series, "preset", None)
    with mpl.rc_context(_STYLE):
        fig = _figure(2.6 * len(fams) + 0.8, 3.6)
        axes = fig.subplots(1, len(fams), squeeze=False)[0]
        for ax, fam in zip(axes, fams, strict=True):
            part = tab[tab["family"] == fam]
            xs = part[xcol].to_numpy(dtype=float)
            top = int(np.nanmax(xs)) if xs.size and np.isfinite(xs).any() else 44
            grid = np.zeros((max(top, 0) + 1, max(len(labels), 1)))
            for j, lab in enumerate(labels):
                sub = part[part["label"] == lab]
                for x, ab in zip(sub[xcol], sub["abundance"], strict=True):
                    if np.isfinite(x) and 0 <= int(x) <= top and np.isfinite(ab):
                        grid[int(x), j] += float(ab)
            rows = np.nonzero(grid.sum(axis=1) > 0)[0]
            lo, hi = (int(rows.min()), int(rows.max())) if rows.size else (0, top)
            lo, hi = max(lo - 2, 0), min(hi + 2, top)
            im = ax.imshow(
                grid[lo : hi + 1],
                origin="lower",
                aspect="auto",
                cmap="magma_r",
                extent=(-0.5, len(labels) - 0.5, lo - 0.5, hi + 0.5),
                interpolation="nearest",
            )
            ax.set_xticks(range(len(labels)))
            ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
            ax.set_title(fam, color=_color(fam))
            ax.set_ylabel(x_axis_label(preset, fam))
            fig.colorbar(im, ax=ax, shrink=0.8, label="abundance")
        what = {"time": "time", "ratio": "feed ratio"}.get(series.axis, "spectrum")
        fig.suptitle(f"Composition distribution per family against {what}", fontsize=10)
    return fig


def family_fractions(series: SeriesLike, /) -> Figure:
    """Family fractions (share of 44-metal cluster signal) against time or feed ratio."""
    import matplotlib as mpl

    fam_tab = series.table.groupby(["label", "family"], sort=False)["abundance"].sum()
    xs, _, _ = _axis_values(series)
    with mpl.rc_context(_STYLE):
        fig = _figure(5.2, 3.4)
        ax = fig.add_subplot()
        for fam in _families(series):
            ys = [float(fam_tab.get((lab, fam), 0.0)) for lab in series.labels]
            ax.plot(xs, ys, "o-", color=_color(fam), label=fam, ms=4)
        _set_axis(ax, series)
        ax.set_ylabel("family fraction")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(frameon=False)
        ax.set_title("Family fractions", fontsize=10)
    return fig


def au_ag_vs_feed(series: SeriesLike, /) -> Figure:
    """Mean Au/Ag of each family against the feed ratio R, log-log (Fig. S6)."""
    import matplotlib as mpl

    tab = series.table
    xs, _, _ = _axis_values(series)
    with mpl.rc_context(_STYLE):
        fig = _figure(5.2, 3.6)
        ax = fig.add_subplot()
        for fam in _families(series):
            ys = []
            for lab in series.labels:
                part = tab[(tab["family"] == fam) & (tab["label"] == lab)]
                w = part["abundance"].to_numpy(dtype=float)
                tot = w.sum()
                if tot <= 1e-3:
                    ys.append(np.nan)
                    continue
                au = float((w * part["au"].to_numpy(dtype=float)).sum() / tot)
                ag = float((w * part["ag"].to_numpy(dtype=float)).sum() / tot)
                ys.append(au / ag if ag > 0 else np.nan)
            ax.plot(xs, ys, "o-", color=_color(fam), label=fam, ms=4)
        if series.axis == "ratio":
            r = np.geomspace(xs.min(), xs.max(), 50)
            ax.plot(r, r, ls=":", color="0.5", lw=1, label="feed Au/Ag")
        _set_axis(ax, series)
        ax.set_yscale("log")
        ax.set_ylabel("mean Au/Ag of products")
        ax.legend(frameon=False, fontsize=8)
        ax.set_title("Product Au/Ag per family (cf. Fig. S6)", fontsize=10)
    return fig


def electrons_vs_feed(series: SeriesLike, /) -> Figure:
    """Mean valence electrons of the products against the feed, with the Table S1 rule."""
    import matplotlib as mpl

    summ = series.summary
    xs, _, _ = _axis_values(series)
    with mpl.rc_context(_STYLE):
        fig = _figure(5.2, 3.4)
        ax = fig.add_subplot()
        ax.plot(xs, summ["mean_electrons"], "o-", color="k", label="products (assigned)", ms=4)
        au44 = _au44_ag44_feed(series)
        if series.axis == "ratio" and au44:
            r = np.geomspace(xs.min(), xs.max(), 200)
            feed = (20 * r + 18) / (r + 1)
            ax.plot(r, feed, color="0.5", ls="--", lw=1, label="feed (20R+18)/(R+1)")
            ax.plot(r, np.where(feed < 19, 18, 20), color="#d62728", lw=1, label="Table S1 rule")
        _set_axis(ax, series)
        if au44:
            ax.axhline(19, color="0.7", lw=0.6, ls=":")
            ax.set_ylim(17.5, 20.5)
        ax.set_ylabel("mean valence electrons")
        ax.legend(frameon=False, fontsize=8)
        title = "products against feed" if au44 else "products (no feed count for this preset)"
        ax.set_title(f"Valence electrons: {title}", fontsize=10)
    return fig


def write_series_figures(series: SeriesLike, folder: str | Path, /) -> list[Path]:
    """Save every figure that applies as PNG (150 dpi) and SVG; returns the PNG paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    makers = [
        ("stacked_spectra", stacked_spectra),
        ("heatmaps", heatmaps),
        ("family_fractions", family_fractions),
    ]
    if series.axis == "ratio":
        makers += [("au_ag_vs_feed", au_ag_vs_feed), ("electrons_vs_feed", electrons_vs_feed)]
    out = []
    for name, make in makers:
        fig = make(series)
        fig.savefig(folder / f"{name}.png", dpi=150)
        fig.savefig(folder / f"{name}.svg")
        out.append(folder / f"{name}.png")
    return out
