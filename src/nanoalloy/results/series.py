"""Series of spectra across feed ratios or time: assign each, tabulate, plot, write.

Chemists think in series: spectra across feed ratios (Fig. 2 and Fig. S6 of Lin
et al. 2022) and across reaction time (Fig. 3). A :class:`Series` holds one
assigned spectrum per point and turns them into the tables and figures of a
paper; :meth:`Series.write` also writes the interactive report.

Contents
--------
Assigned
    The tables and fitted model of one assigned spectrum (light, picklable).
SeriesPoint
    One point of a series: label, time or feed ratio, spectrum and assignment.
Series
    The assigned series with ``.table``, ``.families``, ``.summary``, ``.plot()``,
    ``.write(dir)`` and ``_repr_html_``.
assign_series
    Assign a list of labelled spectra (optionally in parallel).
collect_inputs
    Expand files, folders and glob patterns into spectrum files.
load_inputs
    Files or one multi-scan file -> labelled spectra (time axis from scan times).
pack_spectrum, unpack_spectrum
    A picklable form of a spectrum, for worker processes.
parse_label
    ``"1:3"`` -> feed ratio 1/3, ``"30min"`` -> 0.5 h, anything else -> a plain label.
run_series
    The ``nanoalloy series`` pipeline: inputs -> assigned :class:`Series` written to a folder.
to_assigned
    Convert an :class:`~nanoalloy.ms.assign.Assignment` (or look-alike) to :class:`Assigned`.
write_series_data
    Write a series' tables, decimated spectra and ``run.json`` into a folder (the
    report reads them).
series_html_summary
    The small HTML summary of a :class:`Series` (``_repr_html_``).
"""

from __future__ import annotations

import functools
import glob
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import InputError
from ..ms.spectrum import decimate

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from ..ms.spectrum import Spectrum

__all__ = [
    "Assigned",
    "Series",
    "SeriesPoint",
    "assign_series",
    "collect_inputs",
    "load_inputs",
    "pack_spectrum",
    "parse_label",
    "run_series",
    "series_html_summary",
    "to_assigned",
    "unpack_spectrum",
    "write_series_data",
]

#: families that are not clusters (outside the abundance sum)
NON_CLUSTER = ("fragment", "complex")
#: columns of the long series table, in order
TABLE_COLUMNS = (
    "label",
    "time_h",
    "ratio",
    "family",
    "au",
    "ag",
    "x",
    "ligands",
    "core_charge",
    "electrons",
    "abundance",
    "abundance_sd",
    "score",
    "window_share",
)
SPECTRUM_SUFFIXES = {".mzml", ".mzxml", ".csv", ".tsv", ".txt", ".xy", ".dat"}

AssignFn = Callable[..., Any]
Axis = Literal["time", "ratio", "label"]


@dataclass(frozen=True, slots=True)
class Assigned:
    """Tables and fitted model of one assigned spectrum."""

    species: pd.DataFrame
    """Per species: species, family, au, ag, ligands, core_charge, electrons, abundance, abundance_sd, score."""
    ions: pd.DataFrame
    """Per fitted ion: ion, species, charge, mz, ppm_error, intensity, ..."""
    families: pd.DataFrame
    """Per family: family, fraction, mean_x, au_ag_ratio, x90_low, x90_high."""
    model: np.ndarray | None = None
    """Fitted model on the spectrum's m/z grid (None when the assigner gives none)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Goodness of fit and other scalars reported by the assigner."""


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One point of a series."""

    label: str
    """Display label (file stem, ``1:3``, ``30 min``, ...)."""
    spectrum: Spectrum
    """The measured (or simulated) spectrum."""
    assigned: Assigned
    """Its assignment."""
    time_h: float | None = None
    """Reaction time in hours (time series)."""
    ratio: float | None = None
    """Feed ratio n(Au44)/n(Ag44) (ratio series)."""
    source: str = ""
    """Where the spectrum came from (path, or 'simulated')."""


@functools.lru_cache(maxsize=32)
def au44_ag44_feed(preset: str, /) -> bool:
    """Whether ``preset`` is the Au44/Ag44 system the feed electron count describes.

    The feed of ``R`` parts Au44 (20 e) to 1 part Ag44 (18 e) holds ``(20R + 18)/(R + 1)``
    valence electrons per cluster; that count, the Table S1 rule and the axis title
    ``n(Au44)/n(Ag44)`` belong to a preset whose families are the 44-metal ones
    (``M44S30`` and ``M44S26``). Any other preset (or one that cannot be loaded) has no
    feed electron count.
    """
    from ..errors import NanoalloyError
    from ..ms.library import load_preset

    try:
        families = {f.name for f in load_preset(preset).families}
    except (NanoalloyError, OSError, ValueError):
        return False
    return {"M44S30", "M44S26"} <= families


def _float_or_nan(v: float | None) -> float:
    return float("nan") if v is None else float(v)


@dataclass(frozen=True, slots=True)
class Series:
    """An assigned series of spectra.

    Examples
    --------
    >>> s = Series(())
    >>> s.axis, len(s.table)
    ('label', 0)
    """

    points: tuple[SeriesPoint, ...]
    """The points, ordered by time or ratio where those are known."""
    preset: str = "auag44-pmba"
    """Preset used to assign."""
    title: str = ""
    """Title used in figures and the report."""
    parameters: dict[str, Any] = field(default_factory=dict)
    """Settings recorded in ``run.json`` and the report."""

    def __len__(self) -> int:
        return len(self.points)

    @property
    def axis(self) -> Axis:
        """``"time"`` when every point has a time, ``"ratio"`` when every point has a ratio."""
        if self.points and all(p.time_h is not None for p in self.points):
            return "time"
        if self.points and all(p.ratio is not None for p in self.points):
            return "ratio"
        return "label"

    @property
    def labels(self) -> list[str]:
        """Labels in order."""
        return [p.label for p in self.points]

    def _stack(self, attr: str) -> pd.DataFrame:
        import pandas as pd

        parts = []
        for p in self.points:
            df = getattr(p.assigned, attr).copy()
            df.insert(0, "ratio", _float_or_nan(p.ratio))
            df.insert(0, "time_h", _float_or_nan(p.time_h))
            df.insert(0, "label", p.label)
            parts.append(df)
        if not parts:
            return pd.DataFrame(columns=["label", "time_h", "ratio"])
        return pd.concat(parts, ignore_index=True)

    @property
    def species(self) -> pd.DataFrame:
        """Every species row of every point (fragments and complexes included)."""
        return self._stack("species")

    @property
    def table(self) -> pd.DataFrame:
        """Long table of the cluster species (any preset), readable by ``fit-kinetics``.

        Columns ``label, time_h, ratio, family, au, ag, x, ligands, core_charge, electrons,
        abundance, abundance_sd, score, window_share``; ``time_h`` (``ratio``) is NaN outside
        time (ratio) series. ``window_share`` (the share of each species' ions inside its
        spectrum's m/z window, see :mod:`nanoalloy.ms.response`) is what ``fit-kinetics``
        corrects the comparison with its model populations by.
        """
        import pandas as pd

        sp = self.species
        if sp.empty or "family" not in sp.columns:
            return pd.DataFrame(columns=list(TABLE_COLUMNS))
        sp = sp[~sp["family"].isin(NON_CLUSTER)]
        if "x" not in sp.columns and "au" in sp.columns:
            sp = sp.assign(x=sp["au"])
        for c in TABLE_COLUMNS:
            if c not in sp.columns:
                sp = sp.assign(**{c: np.nan})
        return sp[list(TABLE_COLUMNS)].reset_index(drop=True)

    @property
    def ions(self) -> pd.DataFrame:
        """Every fitted ion of every point, with the point's label, time and ratio."""
        return self._stack("ions")

    @property
    def families(self) -> pd.DataFrame:
        """Per point and family: fraction, mean x, Au/Ag ratio and the 90 % x range."""
        return self._stack("families")

    @property
    def summary(self) -> pd.DataFrame:
        """One row per point: label, time_h, ratio, feed and product electron counts, species."""
        import pandas as pd

        rows = []
        tab = self.table
        for p in self.points:
            part = tab[tab["label"] == p.label]
            w = part["abundance"].to_numpy(dtype=float)
            e = part["electrons"].to_numpy(dtype=float)
            ok = np.isfinite(w) & np.isfinite(e)
            mean_e = float((w[ok] * e[ok]).sum() / w[ok].sum()) if w[ok].sum() > 0 else np.nan
            feed_e = np.nan
            if p.ratio is not None and au44_ag44_feed(self.preset):
                feed_e = (20 * p.ratio + 18) / (p.ratio + 1)
            fams = p.assigned.families
            dom = ""
            if not fams.empty and {"family", "fraction"} <= set(fams.columns):
                dom = str(fams.loc[fams["fraction"].astype(float).idxmax(), "family"])
            rows.append(
                {
                    "label": p.label,
                    "time_h": _float_or_nan(p.time_h),
                    "ratio": _float_or_nan(p.ratio),
                    "feed_electrons": feed_e,
                    "mean_electrons": mean_e,
                    "dominant_family": dom,
                    "n_species": int((part["abundance"] > 0.005).sum()),
                    "source": p.source,
                    **{k: v for k, v in p.assigned.info.items() if np.isscalar(v)},
                }
            )
        return pd.DataFrame(rows)

    def plot(
        self,
        kind: Literal["spectra", "heatmap", "fractions", "au_ag", "electrons"] = "spectra",
        /,
    ) -> Figure:
        """One of the series figures as a matplotlib Figure (no pyplot, no backend change).

        ``kind`` is ``"spectra"`` (stacked annotated spectra), ``"heatmap"`` (x distribution
        per family), ``"fractions"`` (family fractions), ``"au_ag"`` (mean Au/Ag per family
        against feed ratio, Fig. S6) or ``"electrons"`` (mean valence electrons against feed,
        the Table S1 rule).
        """
        from . import figures

        makers = {
            "spectra": figures.stacked_spectra,
            "heatmap": figures.heatmaps,
            "fractions": figures.family_fractions,
            "au_ag": figures.au_ag_vs_feed,
            "electrons": figures.electrons_vs_feed,
        }
        if kind not in makers:
            raise InputError(f"unknown plot kind {kind!r}; expected one of {', '.join(makers)}")
        return makers[kind](self)

    def _repr_html_(self) -> str:

        return series_html_summary(self)

    def __repr__(self) -> str:
        return f"<Series {self.axis}: {len(self.points)} spectra, preset {self.preset!r}>"

    def write(self, out: str | Path, /, *, report: bool = True) -> Path:
        """Write tables, spectra, figures (PNG and SVG) and ``report.html`` into ``out``.

        Written atomically: on failure nothing new is left in ``out``.
        """
        from ..output import atomic_dir
        from .figures import write_series_figures
        from .report import write_report

        out = Path(out)
        with atomic_dir(out) as stage:
            write_series_data(self, stage)
            write_series_figures(self, stage / "figures")
            if report:
                write_report(stage, title=self.title or None)
        return out


# ----------------------------------------------------------------------------- inputs

_RATIO_RE = re.compile(
    r"^(?:r|ratio)?[\s_-]*(\d+(?:\.\d+)?)\s*(?::|to|-|_|/)\s*(\d+(?:\.\d+)?)$", re.IGNORECASE
)
_RATIO_ANY_RE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?::|to)\s*(\d+(?:\.\d+)?)(?![\d.])")
_TIME_RE = re.compile(r"^(?:t[\s_-]*)?(\d+(?:\.\d+)?)\s*(h|hr|hours?|min|m|s)$", re.IGNORECASE)


def parse_label(label: str, /) -> tuple[str, float | None, float | None]:
    """Read a feed ratio or a time out of a label.

    Returns ``(label, time_h, ratio)``; both None for a plain label.

    Examples
    --------
    >>> parse_label("1:3")
    ('1:3', None, 0.3333333333333333)
    >>> parse_label("ratio_30to1")
    ('30:1', None, 30.0)
    >>> parse_label("30min")
    ('30 min', 0.5, None)
    >>> parse_label("sample A")
    ('sample A', None, None)
    """
    text = label.strip()
    m = _RATIO_RE.match(text) or _RATIO_ANY_RE.search(text)
    if m:
        au, ag = float(m.group(1)), float(m.group(2))
        if au > 0 and ag > 0:
            return f"{m.group(1)}:{m.group(2)}", None, au / ag
    t = _TIME_RE.match(text)
    if t:
        v, unit = float(t.group(1)), t.group(2).lower()
        hours = v if unit.startswith("h") else v / 60 if unit in ("min", "m") else v / 3600
        shown = f"{t.group(1)} {'h' if unit.startswith('h') else 'min' if unit in ('min', 'm') else 's'}"
        return shown, hours, None
    return text, None, None


def collect_inputs(inputs: Iterable[str | Path], /) -> list[Path]:
    """Expand files, folders (their spectrum files, sorted) and glob patterns.

    Raises
    ------
    InputError
        A pattern or path that matches nothing, or no input at all.
    """
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(
                f for f in p.iterdir() if f.is_file() and f.suffix.lower() in SPECTRUM_SUFFIXES
            )
            if not found:
                raise InputError(f"folder {str(p)!r} holds no spectrum files")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        elif glob.has_magic(str(item)):
            found = sorted(Path(f) for f in glob.glob(str(item)) if Path(f).is_file())
            if not found:
                raise InputError(f"pattern {str(item)!r} matches no file")
            out.extend(found)
        else:
            raise InputError(f"input {str(item)!r} does not exist")
    if not out:
        raise InputError("no input spectra given")
    return list(dict.fromkeys(out))


def _split_labels(labels: Sequence[str] | None) -> list[str] | None:
    if not labels:
        return None
    out: list[str] = []
    for lab in labels:
        out.extend(x.strip() for x in lab.split(",") if x.strip())
    return out


def _check_unique_labels(labels: Sequence[str], sources: Sequence[str], how: str = "") -> None:
    """Two spectra under one label would be merged in every table: refused."""
    seen: dict[str, str] = {}
    for lab, src in zip(labels, sources, strict=True):
        if lab in seen:
            raise InputError(
                f"spectra {seen[lab]!r} and {src!r} have the same label {lab!r}{how}: "
                "give each spectrum its own label (--labels), or rename one"
            )
        seen[lab] = src


def load_inputs(
    inputs: Iterable[str | Path],
    /,
    *,
    labels: Sequence[str] | None = None,
    columns: str | Sequence[int | str] | None = None,
) -> list[tuple[str, float | None, float | None, Spectrum]]:
    """Files or one multi-scan file -> ``(label, time_h, ratio, spectrum)``.

    One file holding several MS1 scans is a time course: the scan times
    (minutes) become ``time_h``. Several files give one spectrum each (the
    first MS1 scan); their labels come from ``labels`` (comma-separated
    allowed) or the file stems, and are read as ratios or times where they
    look like ``1:3``/``1to3`` or ``30min``/``2h``. ``columns`` picks the m/z and
    intensity columns of text spectra (see :func:`nanoalloy.ms.io.parse_columns`).
    """
    from ..ms.io import parse_columns, read, read_series

    cols = parse_columns(columns)
    files = collect_inputs(inputs)
    labs = _split_labels(labels)
    if labs is None or len(labs) == len(files):  # before reading: refuse at once
        _check_unique_labels(
            [parse_label(labs[i] if labs else f.stem)[0] for i, f in enumerate(files)],
            [str(f) for f in files],
            " (given by --labels)" if labs else " (read from their file names)",
        )
    out: list[tuple[str, float | None, float | None, Spectrum]] = []
    if len(files) == 1:
        scans = read_series(files[0], columns=cols)
        timed = [s for s in scans if s.rt_min is not None]
        if len(scans) > 1 and len(timed) == len(scans):
            if labs is not None and len(labs) != len(scans):
                raise InputError(f"{len(labs)} labels given for {len(scans)} scans")
            for i, s in enumerate(scans):
                t_min = float(s.rt_min or 0.0)
                lab = labs[i] if labs else f"{t_min:.4g} min"
                out.append((lab, t_min / 60.0, None, s.with_metadata(source=str(files[0]))))
            return out
    if labs is not None and len(labs) != len(files):
        raise InputError(f"{len(labs)} labels given for {len(files)} input files")
    for i, f in enumerate(files):
        s = read(f, columns=cols)
        label, t, r = parse_label(labs[i] if labs else f.stem)
        out.append((label, t, r, s))
    return out


# ----------------------------------------------------------------------------- assigning


def _model_array(model: Any, spectrum: Spectrum) -> np.ndarray | None:
    if model is None:
        return None
    if hasattr(model, "mz") and hasattr(model, "intensity"):
        mz = np.asarray(model.mz, dtype=float)
        y = np.asarray(model.intensity, dtype=float)
        if mz.size == len(spectrum) and np.array_equal(mz, spectrum.mz):
            return y
        return np.interp(spectrum.mz, mz, y, left=0.0, right=0.0) if mz.size else None
    arr = np.asarray(model, dtype=float)
    if arr.ndim == 1 and arr.size == len(spectrum):
        return arr
    return None


def to_assigned(assignment: Any, spectrum: Spectrum, /) -> Assigned:
    """Take the tables, the model and scalar fit statistics out of an assignment."""
    import pandas as pd

    def frame(name: str) -> pd.DataFrame:
        v = getattr(assignment, name, None)
        return v.copy() if isinstance(v, pd.DataFrame) else pd.DataFrame()

    info: dict[str, Any] = {}
    for key in ("r2", "r_squared", "rmse", "ppm_shift", "resolution", "calibration_ppm"):
        v = getattr(assignment, key, None)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            info[key] = float(v)
    return Assigned(
        species=frame("species"),
        ions=frame("ions"),
        families=frame("families"),
        model=_model_array(getattr(assignment, "model", None), spectrum),
        info=info,
    )


def _default_assign() -> AssignFn:
    """The real assigner, :func:`nanoalloy.ms.assign.assign`."""
    try:
        from ..ms.assign.pipeline import assign
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.assignment":
            raise
        from ..errors import NanoalloyError

        raise NanoalloyError(
            "spectrum assignment (nanoalloy.ms.assign) is not available in this installation"
        ) from None
    return assign


Packed = tuple[np.ndarray, np.ndarray, dict[str, Any]]


def pack_spectrum(spectrum: Spectrum, /) -> Packed:
    """A picklable form of a spectrum (its metadata is a read-only mapping proxy)."""
    return (np.asarray(spectrum.mz), np.asarray(spectrum.intensity), dict(spectrum.metadata))


def unpack_spectrum(packed: Packed, /) -> Spectrum:
    """Inverse of :func:`pack_spectrum`."""
    from ..ms.spectrum import Spectrum

    return Spectrum(packed[0], packed[1], packed[2])


def _assign_one(args: tuple[Packed, str, dict[str, Any], AssignFn]) -> Assigned:
    packed, preset, kwargs, fn = args
    spectrum = unpack_spectrum(packed)
    return to_assigned(fn(spectrum, preset=preset, **kwargs), spectrum)


def assign_series(
    items: Sequence[tuple[str, float | None, float | None, Spectrum]],
    /,
    *,
    preset: str = "auag44-pmba",
    assign_fn: AssignFn | None = None,
    assign_kwargs: dict[str, Any] | None = None,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
    title: str = "",
    parameters: dict[str, Any] | None = None,
    sources: Sequence[str] | None = None,
) -> Series:
    """Assign each ``(label, time_h, ratio, spectrum)`` and build a :class:`Series`.

    Parameters
    ----------
    items
        Labelled spectra, e.g. from :func:`load_inputs`.
    preset
        Candidate preset passed to the assigner.
    assign_fn
        The assigner (default :func:`nanoalloy.ms.assign.assign`); called as
        ``assign_fn(spectrum, preset=preset, **assign_kwargs)``.
    workers
        Processes to use (> 1 needs a picklable ``assign_fn``).
    progress
        Called with each label as its spectrum is done.
    """
    kw = dict(assign_kwargs or {})
    fn = assign_fn if assign_fn is not None else _default_assign()
    _check_unique_labels(
        [lab for lab, *_ in items],
        [str(s.metadata.get("source", f"spectrum {i}")) for i, (*_, s) in enumerate(items)],
    )
    jobs = [(pack_spectrum(s), preset, kw, fn) for (_, _, _, s) in items]
    results: list[Assigned] = []
    if workers > 1 and len(jobs) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for (label, *_), res in zip(items, pool.map(_assign_one, jobs), strict=True):
                results.append(res)
                if progress:
                    progress(label)
    else:
        for (label, *_), job in zip(items, jobs, strict=True):
            results.append(_assign_one(job))
            if progress:
                progress(label)
    pts = [
        SeriesPoint(
            label=lab,
            spectrum=s,
            assigned=a,
            time_h=t,
            ratio=r,
            source=(sources[i] if sources else str(s.metadata.get("source", ""))),
        )
        for i, ((lab, t, r, s), a) in enumerate(zip(items, results, strict=True))
    ]
    return Series(
        tuple(_ordered(pts)), preset=preset, title=title, parameters=dict(parameters or {})
    )


def _ordered(points: list[SeriesPoint]) -> list[SeriesPoint]:
    if points and all(p.time_h is not None for p in points):
        return sorted(points, key=lambda p: float(p.time_h or 0.0))
    if points and all(p.ratio is not None for p in points):
        return sorted(points, key=lambda p: float(p.ratio or 0.0))
    return points


def run_series(
    inputs: Iterable[str | Path],
    /,
    *,
    out: str | Path,
    preset: str = "auag44-pmba",
    labels: Sequence[str] | None = None,
    assign_fn: AssignFn | None = None,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
    columns: str | Sequence[int | str] | None = None,
) -> Series:
    """Read, assign and write a series (the ``nanoalloy series`` command)."""
    inputs = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    items = load_inputs(inputs, labels=labels, columns=columns)
    params = {
        "command": "series",
        "preset": preset,
        "inputs": [str(i) for i in inputs],
        "labels": list(labels or []),
    }
    series = assign_series(
        items,
        preset=preset,
        assign_fn=assign_fn,
        workers=workers,
        progress=progress,
        parameters=params,
        title=f"Series of {len(items)} spectra",
    )
    series.write(out)
    return series


SPECTRUM_POINTS = 200_000
"""``spectra/NNN.csv`` holds a spectrum whole up to this many points (min-max decimated beyond)."""


def write_series_data(series: Series, folder: str | Path, /) -> None:
    """Write ``series.csv`` and the other tables, ``spectra/NNN.csv`` and ``run.json``."""
    import json

    from .report import versions

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    series.table.to_csv(folder / "series.csv", index=False)
    series.species.to_csv(folder / "species.csv", index=False)
    series.families.to_csv(folder / "families.csv", index=False)
    series.ions.to_csv(folder / "ions.csv", index=False)
    summ = series.summary
    summ["spectrum_file"] = [f"spectra/{i:03d}.csv" for i in range(len(series.points))]
    summ.to_csv(folder / "summary.csv", index=False)
    spec_dir = folder / "spectra"
    spec_dir.mkdir(exist_ok=True)
    import pandas as pd

    for i, p in enumerate(series.points):
        mz = np.asarray(p.spectrum.mz, dtype=float)
        y = np.asarray(p.spectrum.intensity, dtype=float)
        cols = [y] if p.assigned.model is None else [y, p.assigned.model]
        # whole up to SPECTRUM_POINTS (a spectrum read back must assign as the original: the
        # demo's were min-max decimated and written to 6 digits, m/z to 0.01, ~4 ppm, and
        # re-assigned 8 ppm off with wings), min-max decimated beyond; m/z to 1e-6
        mz_d, *rest = decimate(mz, *cols, max_points=SPECTRUM_POINTS)
        data: dict[str, Any] = {"mz": np.char.mod("%.6f", mz_d), "intensity": rest[0]}
        if len(rest) > 1:
            data["model"] = rest[1]
        pd.DataFrame(data).to_csv(spec_dir / f"{i:03d}.csv", index=False, float_format="%.7g")
    run = {
        "title": series.title,
        "preset": series.preset,
        "axis": series.axis,
        "labels": series.labels,
        "parameters": series.parameters,
        "versions": versions(),
    }
    (folder / "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n")


def series_html_summary(series: Series, /) -> str:
    """A compact HTML view of a series for Jupyter: summary table and family fractions."""
    summ = series.summary
    fam = (
        series.table.groupby(["label", "family"], sort=False)["abundance"]
        .sum()
        .unstack(fill_value=0.0)
    )
    from .report import _esc

    return (
        f"<div><b>Series</b> ({_esc(series.axis)}, {len(series)} spectra, preset "
        f"{_esc(series.preset)})"
        + summ.drop(columns=["source"], errors="ignore").to_html(index=False, float_format="%.4g")
        + "<b>Family fractions</b>"
        + fam.to_html(float_format="%.3f")
        + "</div>"
    )
