"""The self-contained interactive HTML report (``report.html``).

One file that works offline: plotly.js is inlined once, figures are plotly
divs or embedded PNGs, tables sort on a click (a few lines of inline
JavaScript). The report is built from what a folder holds, so the same code
serves ``nanoalloy series``, ``demo``, ``assign`` and ``simulate`` outputs:

* a series folder (``series.csv``, ``summary.csv``, ``ions.csv``, ``spectra/``,
  ``figures/``): zoomable spectra with the fitted model and labelled ions
  (hover: ion, charge, ppm error, score), family fractions, x heat maps, the
  static figures, sortable family and species tables;
* an ``assign`` folder (``species.csv``, ``ions.csv``, ``families.csv``,
  ``spectrum.png``, and the spectrum with its model where written);
* a ``simulate`` folder (``populations.csv``, ``final.csv``, ``summary.json``);
* a ``uvvis`` folder (``bands.csv``, ``fractions.csv``, ``uvvis.png``);
* any of these one level down (the demo writes ``ratios/`` and ``timecourse/``).

Parameters (``run.json``) and the versions used close the report. Any script
error is caught and written into ``#js-status`` (the browser test reads it).

Contents
--------
spectrum_figure, fractions_figure, heatmap_figure, timecourse_figure, table_html, TABLE_JS
    The report's plotly figures and sortable tables (the web app draws the same).
versions
    Versions of nanoalloy and its main dependencies.
write_report
    Build ``report.html`` from a results folder.

The report reads folders; it never imports :mod:`nanoalloy.results.series` (a series
writes its folder with :func:`nanoalloy.results.series.write_series_data`).
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError
from ..ms.spectrum import decimate

if TYPE_CHECKING:
    import pandas as pd


__all__ = [
    "TABLE_JS",
    "fractions_figure",
    "heatmap_figure",
    "spectrum_figure",
    "table_html",
    "timecourse_figure",
    "versions",
    "write_report",
]

_SPECIES_MIN = 1e-3


# ----------------------------------------------------------------------------- data


def versions() -> dict[str, str]:
    """Versions of Python, nanoalloy and the libraries behind the numbers and plots."""
    import importlib.metadata as md
    import platform

    from .._version import __version__

    out = {"python": platform.python_version(), "nanoalloy": __version__}
    for pkg in ("numpy", "scipy", "pandas", "IsoSpecPy", "matplotlib", "plotly", "dask"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    out["platform"] = platform.platform()
    return out


# ----------------------------------------------------------------------------- html pieces

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f3b57;color:#fff;padding:14px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.85}main{padding:8px 28px 40px;max-width:1500px}
section.block{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 18px;margin:16px 0}
h2{font-size:19px;margin:8px 0}h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;font-size:12px;margin:6px 0}
th,td{border-bottom:1px solid #e5e5e5;padding:3px 8px;text-align:right}
th{background:#f0f3f6;cursor:pointer;user-select:none;position:sticky;top:0}
th.asc::after{content:' \\25B2'}th.desc::after{content:' \\25BC'}
td.t,th.t{text-align:left}.scroll{max-height:420px;overflow:auto;display:inline-block}
.note{background:#fff7e0;border-left:4px solid #f0b400;padding:6px 10px}
.figs img{max-width:100%;border:1px solid #eee;margin:4px 0}.row{display:flex;flex-wrap:wrap;gap:8px}
.row>div{flex:1 1 420px;min-width:380px}pre{background:#f4f4f4;padding:8px;overflow:auto;font-size:12px}
#js-status{display:none;color:#a00;white-space:pre-wrap}input.filter{margin:4px 0;padding:3px 6px}
nav a{margin-right:14px}
"""

# Installed first: catches any script error (the browser test reads #js-status).
_ERROR_JS = """
window.__nanoalloyErrors=[];
(function(){function rec(m){window.__nanoalloyErrors.push(String(m));}
window.addEventListener('error',function(e){rec('Uncaught '+(e.message||e));});
window.addEventListener('unhandledrejection',function(e){rec('Unhandled rejection '+e.reason);});
var ce=console.error;console.error=function(){rec('console.error: '+Array.prototype.join.call(arguments,' '));
if(ce){ce.apply(console,arguments);}};})();
"""

_TABLE_JS = """
(function(){
function val(td){var t=td.getAttribute('data-v');if(t===null){t=td.textContent;}
var n=parseFloat(t);return (t.trim()!==''&&isFinite(n)&&/^[-+0-9.eE]+$/.test(t.trim()))?n:t.toLowerCase();}
document.querySelectorAll('table.sortable').forEach(function(tb){
 tb.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
  var body=tb.tBodies[0],rows=Array.prototype.slice.call(body.rows);
  var asc=!th.classList.contains('asc');
  tb.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc');});
  th.classList.add(asc?'asc':'desc');
  rows.sort(function(a,b){var x=val(a.cells[i]),y=val(b.cells[i]);
   if(typeof x===typeof y){return (x<y?-1:x>y?1:0)*(asc?1:-1);} return (typeof x==='number'?-1:1)*(asc?1:-1);});
  rows.forEach(function(r){body.appendChild(r);});});});});
document.querySelectorAll('input.filter').forEach(function(inp){inp.addEventListener('input',function(){
 var q=inp.value.toLowerCase(),tb=document.getElementById(inp.getAttribute('data-table'));
 Array.prototype.forEach.call(tb.tBodies[0].rows,function(r){r.style.display=r.textContent.toLowerCase().indexOf(q)>=0?'':'none';});});});
})();
window.addEventListener('load',function(){setTimeout(function(){
 var s=document.getElementById('js-status'),errs=window.__nanoalloyErrors;
 s.setAttribute('data-errors',String(errs.length));
 s.setAttribute('data-plots',String(document.querySelectorAll('.js-plotly-plot .main-svg').length));
 s.setAttribute('data-done','1');
 if(errs.length){s.textContent=errs.join('\\n');s.style.display='block';}},0);});
"""


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(v: Any) -> tuple[str, str | None]:
    """Display text and sort value of a cell."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "", None
    if isinstance(v, bool | np.bool_):
        return str(bool(v)), None
    if isinstance(v, int | np.integer):
        return str(int(v)), None
    if isinstance(v, float | np.floating):
        f = float(v)
        if not math.isfinite(f):
            return str(f), None
        txt = f"{f:.4g}" if (f == 0 or 1e-3 <= abs(f) < 1e5) else f"{f:.3e}"
        return txt, repr(f)
    return str(v), None


def table_html(df: pd.DataFrame, /, *, table_id: str, max_rows: int = 2000) -> str:
    """A sortable HTML table (click a header) with a filter box."""
    df = df.head(max_rows)
    head = "".join(
        f'<th class="{"t" if df[c].dtype == object else ""}">{_esc(c)}</th>' for c in df.columns
    )
    body = []
    kinds = [df[c].dtype == object for c in df.columns]
    for row in df.itertuples(index=False):
        cells = []
        for v, is_text in zip(row, kinds, strict=True):
            txt, sv = _fmt(v)
            attr = f' data-v="{_esc(sv)}"' if sv is not None else ""
            cls = ' class="t"' if is_text else ""
            cells.append(f"<td{cls}{attr}>{_esc(txt)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<input class="filter" data-table="{table_id}" placeholder="filter rows...">'
        f'<br><div class="scroll"><table class="sortable" id="{table_id}"><thead><tr>{head}'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{_esc(path.stem)}" src="data:image/png;base64,{data}">'


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n}"


def _plotly_div(fig: Any, div_id: str) -> str:
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
        )
    )


# The columns each results table must hold, and which of them hold numbers: a table cut
# short or damaged is refused in one line naming it, never drawn from what is left of it
# (a species.csv cut inside its header gave a report without a single species, exit 0)
_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "species.csv": (("species", "family", "abundance"), ("abundance",)),
    "ions.csv": (("ion", "mz", "intensity"), ("mz", "intensity")),
    "families.csv": (("family", "fraction"), ("fraction",)),
    "fit.csv": (("mz", "intensity"), ("mz", "intensity")),
    "series.csv": (("label", "family", "abundance"), ("abundance",)),
    "summary.csv": (("label",), ()),
    "truth.csv": (("label", "family", "abundance"), ("abundance",)),
    "populations.csv": (("time_h", "family", "fraction"), ("time_h", "fraction")),
    "final.csv": (("family", "fraction"), ("fraction",)),
    "bands.csv": (("wavelength_nm", "kind", "height"), ("wavelength_nm",)),
    "fractions.csv": (("reference", "fraction"), ()),
}
_RERUN = "a damaged or truncated file: rerun the command that wrote the folder"


def _read_csv(path: Path, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """A results table, checked whole: every row as wide as the header, the table's
    columns present (``columns``, else by its file name) and their numbers numbers."""
    import csv

    import pandas as pd

    where = str(path)
    need, numeric = _COLUMNS.get(path.name, ((), ())) if columns is None else (columns, columns)
    try:
        with path.open("rb") as raw:  # every table nanoalloy writes ends with its newline
            size = raw.seek(0, 2)
            if size and raw.seek(size - 1) >= 0 and raw.read(1) not in (b"\n", b"\r"):
                raise InputError(f"cannot read {where!r}: the file ends mid-line ({_RERUN})")
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            for row in reader:
                if header is not None and row and len(row) != len(header):
                    raise InputError(
                        f"cannot read {where!r}: line {reader.line_num} has {len(row)} fields, "
                        f"the header {len(header)} ({_RERUN})"
                    )
        table = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, csv.Error) as exc:
        raise InputError(f"cannot read {where!r}: {' '.join(str(exc).split())}") from None
    except UnicodeDecodeError:
        raise InputError(f"cannot read {where!r}: not UTF-8 text ({_RERUN})") from None
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise InputError(
            f"cannot read {where!r}: no column {', '.join(missing)} "
            f"(columns: {', '.join(map(str, table.columns))}; {_RERUN})"
        )
    for c in numeric:
        if not pd.api.types.is_numeric_dtype(table[c]) and table[c].notna().any():
            values = pd.to_numeric(table[c], errors="coerce")
            bad = table[c][values.isna() & table[c].notna()]
            if len(bad):
                raise InputError(
                    f"cannot read {where!r}: line {int(bad.index[0]) + 2}, column {c!r}: "
                    f"{bad.iloc[0]!r} is not a number ({_RERUN})"
                )
            table[c] = values
    return table


def _read_json(path: Path) -> dict[str, Any]:
    """A results folder's JSON record (run.json, summary.json, ...), or one line naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {str(path)!r}: {exc} ({_RERUN})") from None
    if not isinstance(data, dict):
        raise InputError(f"cannot read {str(path)!r}: expected a JSON object ({_RERUN})")
    return data


def _family_color(fam: str) -> str:
    from .figures import FAMILY_COLORS

    return FAMILY_COLORS.get(fam, "#9467bd")


def _spectrum_figure(
    spec: pd.DataFrame, ions: pd.DataFrame, species: pd.DataFrame, title: str
) -> Any:
    """Measured profile, fitted model and ion markers with hover text."""
    import plotly.graph_objects as go

    from ..ms.spectrum import decimate

    fig = go.Figure()
    # the file holds the spectrum whole; the page shows its min-max envelope (same picture)
    cols = [spec[c].to_numpy(dtype=float) for c in ("intensity", "model") if c in spec.columns]
    mz, y, *model = decimate(spec["mz"].to_numpy(dtype=float), *cols)
    fig.add_trace(
        go.Scatter(x=mz, y=y, mode="lines", name="measured", line={"color": "#333", "width": 1})
    )
    yref = y
    if model:
        ym = yref = model[0]
        fig.add_trace(
            go.Scatter(
                x=mz, y=ym, mode="lines", name="model", line={"color": "#d62728", "width": 1}
            )
        )
        fig.add_trace(
            go.Scatter(
                x=mz,
                y=y - ym,
                mode="lines",
                name="residual",
                visible="legendonly",
                line={"color": "#9467bd", "width": 1},
            )
        )
    if not ions.empty and {"mz", "ion"} <= set(ions.columns):
        ions = ions.copy()
        score = {}
        if {"species", "score"} <= set(species.columns):
            score = dict(zip(species["species"], species["score"], strict=False))
        ions["_score"] = ions["species"].map(score) if "species" in ions.columns else np.nan
        fam = {}
        if {"species", "family"} <= set(species.columns):
            fam = dict(zip(species["species"], species["family"], strict=False))
        imz = ions["mz"].to_numpy(dtype=float)
        iy = np.interp(imz, mz, yref) if mz.size else np.zeros_like(imz)
        ions["_y"] = iy
        ions["_fam"] = ions["species"].map(fam).fillna("other") if "species" in ions else "other"
        for f, part in ions.groupby("_fam", sort=False):
            hover = [
                f"<b>{_esc(r.get('ion'))}</b><br>species {_esc(r.get('species', ''))}"
                f"<br>charge {_fmt(r.get('charge'))[0]}<br>m/z {_fmt(r.get('mz'))[0]}"
                f"<br>ppm error {_fmt(r.get('ppm_error'))[0]}<br>score {_fmt(r.get('_score'))[0]}"
                for r in part.to_dict("records")
            ]
            fig.add_trace(
                go.Scatter(
                    x=part["mz"],
                    y=part["_y"],
                    mode="markers",
                    name=f"ions {f}",
                    marker={"color": _family_color(str(f)), "size": 6, "symbol": "triangle-down"},
                    hovertext=hover,
                    hoverinfo="text",
                )
            )
        top = (
            ions.sort_values("intensity", ascending=False).head(8)
            if "intensity" in ions
            else ions.head(0)
        )
        for r in top.to_dict("records"):
            fig.add_annotation(
                x=r["mz"],
                y=r["_y"],
                text=_esc(r.get("species", r["ion"])),
                showarrow=True,
                arrowhead=0,
                ax=0,
                ay=-22,
                font={"size": 9, "color": _family_color(str(r["_fam"]))},
            )
    fig.update_layout(
        title={"text": _esc(title), "font": {"size": 14}},
        height=420,
        margin={"l": 60, "r": 20, "t": 40, "b": 90},
        xaxis_title="m/z",
        yaxis_title="intensity",
        template="plotly_white",
        legend={"orientation": "h", "y": -0.25, "x": 1, "xanchor": "right"},
        hovermode="closest",
    )
    return fig


def _xaxis(run: dict[str, Any], summ: pd.DataFrame) -> tuple[list[Any], str, str]:
    axis = run.get("axis", "label")
    if axis == "time":
        return list(summ["time_h"]), "time (h)", "linear"
    if axis == "ratio":
        what = (
            "n(Au44)/n(Ag44)" if str(run.get("preset", "auag44")).startswith("auag44") else "feed"
        )
        return list(summ["ratio"]), f"feed ratio R = {what}", "log"
    return list(summ["label"].astype(str)), "spectrum", "category"


def _fractions_figure(tab: pd.DataFrame, summ: pd.DataFrame, run: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    xs, xt, xtype = _xaxis(run, summ)
    fam_tab = tab.groupby(["label", "family"], sort=False)["abundance"].sum()
    fig = go.Figure()
    fams = [f for f in ("M44S30", "M44S27", "M44S26") if f in set(tab["family"])]
    fams += sorted(set(tab["family"].astype(str)) - set(fams))
    for fam in fams:
        ys = [float(fam_tab.get((lab, fam), 0.0)) for lab in summ["label"].astype(str)]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers",
                name=fam,
                line={"color": _family_color(fam)},
                text=list(summ["label"].astype(str)),
                hovertemplate="%{text}: %{y:.3f}",
            )
        )
    fig.update_layout(
        title="Family fractions",
        height=340,
        template="plotly_white",
        xaxis_title=xt,
        yaxis_title="fraction",
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
    )
    fig.update_xaxes(type=xtype)
    if xtype == "log":
        fig.update_xaxes(tickvals=xs, ticktext=list(summ["label"].astype(str)))
    return fig


def _heatmap_figure(
    tab: pd.DataFrame, labels: list[str], fams: list[str], preset: str | None = None
) -> Any:
    """One heat map per family (x against the series axis), side by side; each y axis
    is named after what the family's x counts in ``preset``."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from ..ms.preset import x_axis_label

    fig = make_subplots(rows=1, cols=len(fams), subplot_titles=fams, horizontal_spacing=0.06)
    pos = {lab: j for j, lab in enumerate(labels)}
    xcol = "x" if "x" in tab.columns and tab["x"].notna().any() else "au"
    for k, fam in enumerate(fams):
        part = tab[tab["family"] == fam]
        xs = part[xcol].to_numpy(dtype=float)
        top = int(np.nanmax(xs)) if xs.size and np.isfinite(xs).any() else 44
        grid = np.zeros((max(top, 0) + 1, len(labels)))
        for lab, x, ab in zip(
            part["label"].astype(str), part[xcol], part["abundance"], strict=True
        ):
            if lab in pos and np.isfinite(x) and 0 <= int(x) <= top and np.isfinite(ab):
                grid[int(x), pos[lab]] += float(ab)
        rows = np.nonzero(grid.sum(axis=1) > 0)[0]
        lo, hi = (
            (max(int(rows.min()) - 2, 0), min(int(rows.max()) + 2, top)) if rows.size else (0, top)
        )
        fig.add_trace(
            go.Heatmap(
                z=grid[lo : hi + 1],
                x=labels,
                y=list(range(lo, hi + 1)),
                coloraxis="coloraxis",
                hovertemplate=f"{fam}<br>%{{x}}<br>x = %{{y}}<br>abundance %{{z:.4f}}<extra></extra>",
            ),
            row=1,
            col=k + 1,
        )
        fig.update_xaxes(type="category", row=1, col=k + 1)
        fig.update_yaxes(title_text=x_axis_label(preset, fam), row=1, col=k + 1)
    fig.update_layout(
        title="Composition distribution per family",
        height=360,
        template="plotly_white",
        coloraxis={"colorscale": "Magma", "reversescale": True, "colorbar": {"title": "abundance"}},
        margin={"l": 60, "r": 20, "t": 60, "b": 60},
    )
    return fig


def _truth_table(folder: Path, tab: pd.DataFrame) -> str:
    """Simulated (truth) against assigned family fractions and x distributions (demo)."""
    import pandas as pd

    truth = _read_csv(folder / "truth.csv")
    rows = []
    for (lab, fam), part in truth.groupby(["label", "family"], sort=False):
        got = tab[(tab["label"].astype(str) == str(lab)) & (tab["family"] == fam)]
        xt = "x" if "x" in part.columns else "au"
        xg = "x" if "x" in got.columns and got["x"].notna().all() else "au"
        t = part.groupby(xt)["abundance"].sum()
        g = got.groupby(xg)["abundance"].sum()
        ft, fg = float(t.sum()), float(g.sum())
        if ft < 0.01 and fg < 0.01:
            continue
        idx = t.index.union(g.index)
        tv = np.nan
        if ft > 0 and fg > 0:
            tn = t.reindex(idx, fill_value=0) / ft
            gn = g.reindex(idx, fill_value=0) / fg
            tv = 0.5 * float(np.abs(tn - gn).sum())
        rows.append(
            {
                "label": str(lab),
                "family": fam,
                "simulated fraction": ft,
                "assigned fraction": fg,
                "x distribution TV distance": tv,
            }
        )
    if not rows:
        return ""
    extra = ""
    if (folder / "truth_instrument.csv").exists():  # simulated against fitted instrument
        extra = table_html(
            _read_csv(folder / "truth_instrument.csv"),
            table_id=f"truth-instrument-{abs(hash(str(folder))) % 10**6}",
        )
    return (
        "<h3>Simulated truth against assignment</h3><p>The spectra were simulated from known "
        "populations; this table closes the loop.</p>"
        + table_html(pd.DataFrame(rows), table_id=f"truth-{abs(hash(str(folder))) % 10**6}")
        + extra
    )


def _series_section(folder: Path, ids: _Ids) -> tuple[str, str]:
    run = _read_json(folder / "run.json") if (folder / "run.json").exists() else {}
    tab = _read_csv(folder / "series.csv")
    summ = _read_csv(folder / "summary.csv") if (folder / "summary.csv").exists() else None
    title = run.get("title") or f"Series {folder.name}"
    parts = [f"<h2>{_esc(title)}</h2>"]
    if summ is not None and not summ.empty:
        parts.append(
            "<h3>Spectra</h3>"
            + table_html(
                summ.drop(columns=["spectrum_file"], errors="ignore"), table_id=ids("summary")
            )
        )
        parts.append(_plotly_div(_fractions_figure(tab, summ, run), ids("fractions")))
        labels = list(summ["label"].astype(str))
        fams = [f for f in ("M44S30", "M44S27", "M44S26") if f in set(tab["family"])]
        fams += sorted(set(tab["family"].astype(str)) - set(fams) - {"fragment", "complex"})
        if fams:
            parts.append(
                _plotly_div(_heatmap_figure(tab, labels, fams, run.get("preset")), ids("heat"))
            )
    if (folder / "truth.csv").exists():
        parts.append(_truth_table(folder, tab))
    if summ is not None and "spectrum_file" in summ.columns:
        ions = _read_csv(folder / "ions.csv") if (folder / "ions.csv").exists() else None
        species = _read_csv(folder / "species.csv") if (folder / "species.csv").exists() else tab
        parts.append(
            "<h3>Spectra with fitted model and labelled ions (zoom: drag; reset: double-click)</h3>"
        )
        for row in summ.to_dict("records"):
            f = folder / str(row["spectrum_file"])
            if not f.exists():
                continue
            lab = str(row["label"])
            mine = (
                ions[ions["label"].astype(str) == lab]
                if ions is not None and "label" in ions
                else None
            )
            sp = species[species["label"].astype(str) == lab] if "label" in species else species
            fig = _spectrum_figure(
                _read_csv(f, ("mz", "intensity")), mine if mine is not None else _empty(), sp, lab
            )
            parts.append(_plotly_div(fig, ids("spectrum")))
    figs = sorted((folder / "figures").glob("*.png")) if (folder / "figures").is_dir() else []
    if figs:
        parts.append('<h3>Figures</h3><div class="figs">')
        for p in figs:
            svg = p.with_suffix(".svg")
            link = f' (<a href="figures/{_esc(svg.name)}">SVG</a>)' if svg.exists() else ""
            parts.append(f"<p><b>{_esc(p.stem.replace('_', ' '))}</b>{link}<br>{_img(p)}</p>")
        parts.append("</div>")
    if (folder / "families.csv").exists():
        parts.append(
            "<h3>Families</h3>"
            + table_html(_read_csv(folder / "families.csv"), table_id=ids("families"))
        )
    parts.append("<h3>Species (44-metal clusters; series.csv)</h3>")
    shown = tab[tab["abundance"].astype(float) >= _SPECIES_MIN] if "abundance" in tab else tab
    parts.append(table_html(shown, table_id=ids("species")))
    parts.append(_params(run))
    return title, "".join(parts)


def _empty() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame()


def _params(run: dict[str, Any]) -> str:
    if not run:
        return ""
    shown = {k: v for k, v in run.items() if k != "versions"}
    return "<h3>Parameters</h3><pre>" + _esc(json.dumps(shown, indent=2, default=str)) + "</pre>"


def _assign_section(folder: Path, ids: _Ids) -> tuple[str, str]:
    species = _read_csv(folder / "species.csv")
    ions = _read_csv(folder / "ions.csv") if (folder / "ions.csv").exists() else _empty()
    title = f"Assignment {folder.name}"
    parts = [f"<h2>{_esc(title)}</h2>"]
    for name in ("fit.csv", "model.csv", "spectrum.csv"):
        f = folder / name
        if f.exists():
            spec = _read_csv(f)
            if {"mz", "intensity"} <= set(spec.columns):
                cols = [c for c in ("intensity", "model") if c in spec.columns]
                dec = decimate(spec["mz"].to_numpy(float), *(spec[c].to_numpy(float) for c in cols))
                import pandas as pd

                spec = pd.DataFrame(dict(zip(["mz", *cols], dec, strict=True)))
                parts.append(
                    _plotly_div(_spectrum_figure(spec, ions, species, folder.name), ids("spectrum"))
                )
                break
    if (folder / "spectrum.png").exists():
        parts.append('<div class="figs">' + _img(folder / "spectrum.png") + "</div>")
    if (folder / "families.csv").exists():
        parts.append(
            "<h3>Families</h3>"
            + table_html(_read_csv(folder / "families.csv"), table_id=ids("families"))
        )
    parts.append(_ambiguity_html(species, ions, ids))
    parts.append("<h3>Species</h3>" + table_html(species, table_id=ids("species")))
    if not ions.empty:
        parts.append("<h3>Ions</h3>" + table_html(ions, table_id=ids("ions")))
    for name in ("run.json", "parameters.json", "summary.json", "instrument.json"):
        if (folder / name).exists():
            parts.append(_params(_read_json(folder / name)))
    return title, "".join(parts)


def _text(v: Any) -> str:
    """A CSV cell as text: empty for a missing value (read back as NaN)."""
    return "" if v is None or (isinstance(v, float) and v != v) else str(v)


def _ambiguity_html(species: pd.DataFrame, ions: pd.DataFrame, ids: _Ids) -> str:
    """The "Ambiguities" block: hypotheses the data cannot tell apart, with their shares.

    Reads ``species.csv`` (``ambiguity_group``, ``ambiguity_share``) and ``ions.csv``
    (``ambiguous_with``); says so in one line when there is no ambiguity (or the
    tables predate these columns).
    """
    head = "<h3>Ambiguities</h3>"
    if "ambiguity_group" not in species.columns:
        return head + "<p>(this assignment does not report ambiguities)</p>"
    amb = species[[_text(v) != "" for v in species["ambiguity_group"]]]
    if amb.empty:
        return head + (
            "<p>None: no alternative explanation of the data came within the noise "
            "(near-isobaric families, Au/Ag swaps against four Na<sup>+</sup>/H<sup>+</sup>, "
            "calibration shifts were tested).</p>"
        )
    cols = [
        c
        for c in (
            "ambiguity_group",
            "species",
            "family",
            "ambiguity_share",
            "abundance",
            "abundance_sd",
        )
        if c in amb.columns
    ]
    out = [
        head,
        "<p>These species take part in competing explanations of the same signal; "
        "<code>ambiguity_share</code> is the weight of the hypotheses holding each, the "
        "abundances are averaged over them and <code>abundance_sd</code> includes their "
        "spread.</p>",
        table_html(amb[cols], table_id=ids("ambiguity")),
    ]
    if "ambiguous_with" in ions.columns:
        pairs = ions[[_text(v) != "" for v in ions["ambiguous_with"]]]
        if not pairs.empty:
            out.append(
                "<p>Ions and the ions of the other hypotheses at their place:</p>"
                + table_html(pairs[["ion", "intensity", "ambiguous_with"]], table_id=ids("ambions"))
            )
    return "".join(out)


def timecourse_figure(pops: pd.DataFrame, /) -> Any:
    """Family fractions against time from a ``populations.csv`` table (plotly)."""
    import plotly.graph_objects as go

    fam = pops.groupby(["time_h", "family"])["fraction"].sum().unstack(fill_value=0.0)
    fig = go.Figure()
    for f in fam.columns:
        fig.add_trace(
            go.Scatter(
                x=fam.index,
                y=fam[f],
                mode="lines",
                name=str(f),
                line={"color": _family_color(str(f))},
            )
        )
    fig.update_layout(
        title="Family fractions against time",
        height=340,
        template="plotly_white",
        xaxis_title="time (h)",
        yaxis_title="fraction",
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
    )
    return fig


def _simulate_section(folder: Path, ids: _Ids) -> tuple[str, str]:
    pops = _read_csv(folder / "populations.csv")
    title = f"Simulation {folder.name}"
    parts = [f"<h2>{_esc(title)}</h2>"]
    if {"time_h", "family", "fraction"} <= set(pops.columns):
        parts.append(_plotly_div(timecourse_figure(pops), ids("simfrac")))
    if (folder / "timecourse.png").exists():
        parts.append('<div class="figs">' + _img(folder / "timecourse.png") + "</div>")
    if (folder / "final.csv").exists():
        final = _read_csv(folder / "final.csv")
        if "fraction" in final.columns:
            final = final[final["fraction"] > 1e-4]
        parts.append("<h3>Final populations</h3>" + table_html(final, table_id=ids("final")))
    if (folder / "summary.json").exists():
        parts.append(_params(_read_json(folder / "summary.json")))
    return title, "".join(parts)


def _uvvis_section(folder: Path, ids: _Ids) -> tuple[str, str]:
    title = f"UV-vis {folder.name}"
    parts = [f"<h2>{_esc(title)}</h2>"]
    if (folder / "uvvis.png").exists():
        parts.append('<div class="figs">' + _img(folder / "uvvis.png") + "</div>")
    if (folder / "fractions.csv").exists():
        parts.append(
            "<h3>Unmixing: fractions of the references</h3>"
            + table_html(_read_csv(folder / "fractions.csv"), table_id=ids("uvfrac"))
        )
    parts.append(
        "<h3>Bands and shoulders</h3>"
        + table_html(_read_csv(folder / "bands.csv"), table_id=ids("bands"))
    )
    return title, "".join(parts)


def _sections(folder: Path, ids: _Ids) -> list[tuple[str, str, str]]:
    out = []
    if (folder / "series.csv").exists():
        out.append(("series", *_series_section(folder, ids)))
    elif (folder / "species.csv").exists():
        out.append(("assign", *_assign_section(folder, ids)))
    if (folder / "populations.csv").exists():
        out.append(("simulate", *_simulate_section(folder, ids)))
    if (folder / "bands.csv").exists():
        out.append(("uvvis", *_uvvis_section(folder, ids)))
    return out


# The figure and table builders, public for the web app (nanoalloy.app), which draws the
# same figures as the report
spectrum_figure = _spectrum_figure
fractions_figure = _fractions_figure
heatmap_figure = _heatmap_figure
TABLE_JS = _TABLE_JS


def write_report(folder: str | Path, /, *, title: str | None = None, note: str = "") -> Path:
    """Build ``FOLDER/report.html`` from the results in ``folder`` (and its sub-folders).

    Parameters
    ----------
    folder
        A folder written by ``series``, ``demo``, ``assign`` or ``simulate``.
    title
        Report title (default: from the folder name).
    note
        A highlighted note under the title (the demo states its spectra are simulated).

    Raises
    ------
    InputError
        The folder holds no results nanoalloy knows.
    """
    import plotly.offline

    from ..output import atomic_file

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{str(folder)!r} is not a folder")
    ids = _Ids()
    sections = _sections(folder, ids)
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        sections += _sections(sub, ids)
    if not sections:
        raise InputError(
            f"{str(folder)!r} holds no nanoalloy results "
            "(series.csv, species.csv, populations.csv or bands.csv)"
        )
    run = _read_json(folder / "run.json") if (folder / "run.json").exists() else {}
    title = title or run.get("report_title") or f"nanoalloy report: {folder.resolve().name}"
    note = note or run.get("note", "")
    nav = "".join(f'<a href="#sec-{i}">{_esc(t)}</a>' for i, (_, t, _) in enumerate(sections))
    body = "".join(
        f'<section class="block" id="sec-{i}">{h}</section>' for i, (_, _, h) in enumerate(sections)
    )
    vers = versions()
    vtab = "".join(
        f"<tr><td class='t'>{_esc(k)}</td><td class='t'>{_esc(v)}</td></tr>"
        for k, v in vers.items()
    )
    doc = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_esc(title)}</title><style>{_CSS}</style>"
        f"<script>{_ERROR_JS}</script><script>{plotly.offline.get_plotlyjs()}</script></head><body>"
        f"<header><h1>{_esc(title)}</h1><p>nanoalloy {_esc(vers['nanoalloy'])}</p></header><main>"
        + (f'<p class="note">{_esc(note)}</p>' if note else "")
        + f'<pre id="js-status"></pre><nav>{nav}</nav>{body}'
        + f'<section class="block"><h2>Versions</h2><table>{vtab}</table></section>'
        + f"</main><script>{_TABLE_JS}</script></body></html>"
    )
    target = folder / "report.html"
    with atomic_file(target) as tmp:
        tmp.write_text(doc, encoding="utf-8")
    return target
