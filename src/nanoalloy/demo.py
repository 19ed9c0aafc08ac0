"""The whole loop on simulated data: ``nanoalloy demo``.

Simulates the Au44 + Ag44 reaction (the calibrated kinetic model) at the feed
ratios 1:10, 1:3, 3:1, 6:1 and 30:1 (20 h) and a 3:1 time course, turns the
populations into negative-mode ESI spectra (:func:`nanoalloy.ms.synth.synthesize`,
with noise, baseline and a calibration error), assigns them as if measured
(:func:`nanoalloy.ms.assign.assign`), and writes two series (``ratios/`` and
``timecourse/``), the simulated truth beside them, the figures and one
``report.html``. The spectra are simulated; the report says so.

Contents
--------
DemoSettings
    Ratios, times and spectrum settings of the demo.
run_demo
    Run the demo into a folder; returns the two series.
instrument_truth
    Simulated against fitted resolving power and calibration of a demo series
    (``truth_instrument.csv``, shown under the report's truth table).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .results.series import (
    Assigned,
    Packed,
    Series,
    SeriesPoint,
    _default_assign,
    pack_spectrum,
    parse_label,
    to_assigned,
    unpack_spectrum,
)

if TYPE_CHECKING:
    import pandas as pd

    from .ms.synth import SynthResult


__all__ = ["DemoSettings", "instrument_truth", "run_demo"]

NOTE = (
    "All spectra in this report are SIMULATED: populations from nanoalloy's kinetic model of the "
    "Au44 + Ag44 reaction were rendered as ESI mass spectra (isotope patterns, charge and Na+ "
    "ladders, fragments, complexes, noise, calibration error) and then assigned as if measured, "
    "the truth unseen (preset auag44-pmba-windows: each framework within its composition window). "
    "The 'simulated truth' tables compare the assignment with the populations."
)


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """What the demo simulates and how the spectra are rendered."""

    ratios: tuple[str, ...] = ("1:10", "1:3", "3:1", "6:1", "30:1")
    """Feed ratios n(Au44):n(Ag44) simulated for ``hours``."""
    course_ratio: str = "3:1"
    """Feed ratio of the time course."""
    course_minutes: tuple[float, ...] = (2.0, 10.0, 30.0, 60.0, 120.0, 180.0, 1200.0)
    """Time points of the course (min)."""
    hours: float = 20.0
    """Reaction time of the ratio series (h)."""
    mz_range: tuple[float, float] = (2000.0, 2800.0)
    """m/z window of the spectra (holds M44S30 4-, M44S27 4- and M44S26 6- of every x seen)."""
    resolution: float = 10_000.0
    """Resolving power of the simulated instrument."""
    points_per_fwhm: float = 3.0
    """Profile sampling."""
    calibration_ppm: float = 5.0
    """Calibration error of the simulated instrument (ppm)."""
    seed: int = 2022
    """Seed of the noise (spectrum i uses seed + i)."""
    preset: str = "auag44-pmba-windows"
    """Preset used to synthesise and to assign: each framework within its composition window
    (the blind x = 0..44 library confuses M44S30 x ~ 16-18 with M44S27 x ~ 21 when only the
    4- ions are in the window: 3 SR vs 5 Au/Ag swaps differ by ~14 Da)."""


def _ratio_feed(label: str) -> dict[str, float]:
    au, ag = (float(v) for v in label.split(":"))
    return {"Au44": au, "Ag44": ag}


def _simulate(args: tuple[str, float, tuple[float, ...]]) -> pd.DataFrame:
    """Worker: one simulation -> long populations table at the requested times (h)."""
    import numpy as np

    from .kinetics import simulate

    ratio, hours, times = args
    grid = np.unique(np.concatenate([[0.0], times, [hours]]))
    res = simulate(_ratio_feed(ratio), hours=hours, times=grid)
    pops = res.populations
    keep = np.isin(np.round(pops["time_h"].to_numpy(), 9), np.round(np.asarray(times), 9))
    return pops[keep].reset_index(drop=True)


def _clean(pops: pd.DataFrame) -> pd.DataFrame:
    p = pops.copy()
    p["fraction"] = p["fraction"].clip(lower=0.0)
    p = p[p["fraction"] > 1e-4]
    p["fraction"] = p["fraction"] / p["fraction"].sum()
    return p.reset_index(drop=True)


def _spectrum(
    pops: pd.DataFrame, st: DemoSettings, i: int, time_min: float | None = None
) -> SynthResult:
    """The demo's spectrum ``i`` (ratios first, then the course) of populations ``pops``."""
    from .ms.synth import synthesize

    return synthesize(
        _clean(pops),
        preset="auag44-pmba",  # the instrument sees every x; only the assigner uses the windows
        resolution=st.resolution,
        mz_range=st.mz_range,
        points_per_fwhm=st.points_per_fwhm,
        calibration_ppm=st.calibration_ppm,
        seed=st.seed + i,
        time_min=time_min,
    )


def _point(
    args: tuple[pd.DataFrame, DemoSettings, int, float | None, Callable[..., Any] | None],
) -> tuple[Packed, Assigned, pd.DataFrame]:
    """Worker: populations -> synthetic spectrum -> assignment (+ the truth)."""
    pops, st, i, time_min, given = args
    syn = _spectrum(pops, st, i, time_min)
    fn = given if given is not None else _default_assign()
    assigned = to_assigned(fn(syn.spectrum, preset=st.preset), syn.spectrum)
    truth = syn.truth[~syn.truth["family"].isin(("fragment", "complex"))]
    truth = truth[["family", "au", "abundance"]].reset_index(drop=True)
    return pack_spectrum(syn.spectrum), assigned, truth


def _pool(workers: int) -> Any:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


class _Serial:
    """A stand-in for a process pool that runs in this process."""

    def map(self, fn: Callable[..., Any], items: Any) -> Any:
        return map(fn, items)

    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def run_demo(
    out: str | Path = "nanoalloy-demo",
    /,
    *,
    settings: DemoSettings | None = None,
    workers: int = 2,
    progress: bool = True,
    assign_fn: Callable[..., Any] | None = None,
    echo: Callable[[str], None] | None = print,
) -> tuple[Series, Series]:
    """Simulate, synthesise, assign and report; returns the ratio and time series.

    Parameters
    ----------
    out
        Output folder (written atomically).
    settings
        Ratios, times and spectrum settings (default :class:`DemoSettings`).
    workers
        Processes (1: all in this process).
    progress
        Show a rich progress bar.
    assign_fn
        The assigner (default :func:`nanoalloy.ms.assign.assign`; with ``workers > 1``
        it must be picklable).
    echo
        Where the plain-text account goes (None: silent).
    """
    import pandas as pd

    from .output import atomic_dir
    from .results.figures import write_series_figures
    from .results.report import write_report
    from .results.series import write_series_data

    st = settings or DemoSettings()
    if assign_fn is None:
        _default_assign()  # fail fast, before simulating, if the assigner is missing
    say = echo or (lambda _msg: None)
    t0 = time.perf_counter()
    say(
        "nanoalloy demo: simulating the Au44 + Ag44 reaction and rendering SIMULATED ESI spectra "
        f"(feed ratios {', '.join(st.ratios)} after {st.hours:g} h, and a {st.course_ratio} "
        f"time course at {', '.join(f'{m:g}' for m in st.course_minutes)} min), then assigning "
        f"them as if measured, the truth unseen (preset {st.preset})."
    )
    course_h = tuple(m / 60.0 for m in st.course_minutes)
    sims: list[tuple[str, float, tuple[float, ...]]] = [
        (r, st.hours, (st.hours,)) for r in st.ratios
    ]
    sims.append((st.course_ratio, max(course_h), course_h))
    n_points = len(st.ratios) + len(course_h)
    # two bars: the kinetic simulations (one per feed ratio and the time course), then
    # the spectra, each synthesised and assigned (one per time point)
    bar, task = _bar("simulating kinetics", len(sims)) if progress else (None, None)
    pool = _pool(workers) if workers > 1 else _Serial()
    with pool as ex, bar if bar is not None else _Serial():
        pops_list = []
        for pops in ex.map(_simulate, sims):
            pops_list.append(pops)
            if bar is not None:
                bar.update(task, advance=1)
        if bar is not None:
            task = bar.add_task("synthesising + assigning", total=n_points)
        jobs = []
        for i in range(len(st.ratios)):
            p = pops_list[i]
            jobs.append((p[p["time_h"] == p["time_h"].max()], st, i, None, assign_fn))
        course = pops_list[-1]
        for j, t in enumerate(sorted(course["time_h"].unique())):
            jobs.append(
                (course[course["time_h"] == t], st, len(st.ratios) + j, t * 60.0, assign_fn)
            )
        results = []
        for res in ex.map(_point, jobs):
            results.append(res)
            if bar is not None:
                bar.update(task, advance=1)
    ratio_pts, course_pts, truths = [], [], []
    for i, (packed, assigned, truth) in enumerate(results):
        spec = unpack_spectrum(packed)
        if i < len(st.ratios):
            label, _, ratio = parse_label(st.ratios[i])
            ratio_pts.append(SeriesPoint(label, spec, assigned, None, ratio, "simulated"))
            truths.append(("ratios", label, truth))
        else:
            t_min = float(spec.metadata.get("rt_min", 0.0))
            label = f"{t_min:g} min" if t_min < 600 else f"{t_min / 60:g} h"
            course_pts.append(SeriesPoint(label, spec, assigned, t_min / 60.0, None, "simulated"))
            truths.append(("timecourse", label, truth))
    params = {"command": "demo", "settings": asdict(st), "simulated": True}
    ratio_series = Series(
        tuple(ratio_pts),
        preset=st.preset,
        title=f"Feed-ratio series (simulated, {st.hours:g} h)",
        parameters=params,
    )
    course_series = Series(
        tuple(course_pts),
        preset=st.preset,
        title=f"Time course at {st.course_ratio} (simulated)",
        parameters=params,
    )
    import json

    from .results.report import versions

    out = Path(out)
    with atomic_dir(out) as stage:
        for name, s in (("ratios", ratio_series), ("timecourse", course_series)):
            write_series_data(s, stage / name)
            write_series_figures(s, stage / name / "figures")
            rows = [t.assign(label=lab) for kind, lab, t in truths if kind == name]
            pd.concat(rows, ignore_index=True)[["label", "family", "au", "abundance"]].to_csv(
                stage / name / "truth.csv", index=False
            )
            instrument_truth(s, st).to_csv(stage / name / "truth_instrument.csv", index=False)
        sim_dir = stage / "simulations"
        sim_dir.mkdir()
        for (feed, _, _), pops in zip(sims, pops_list, strict=True):
            tag = "timecourse" if pops["time_h"].nunique() > 1 else "final"
            pops.to_csv(sim_dir / f"{tag}_{feed.replace(':', 'to')}.csv", index=False)
        run = {
            "report_title": "nanoalloy demo: Au44 + Ag44 alloying (simulated spectra)",
            "note": NOTE,
            "parameters": params,
            "versions": versions(),
        }
        (stage / "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n")
        write_report(stage)
    dt = time.perf_counter() - t0
    say(
        f"Assigned {n_points} simulated spectra in {dt:.0f} s. Wrote {out}/ratios and "
        f"{out}/timecourse (series.csv, figures as PNG and SVG), the simulated populations in "
        f"{out}/simulations, and the report:\n  {out / 'report.html'}"
    )
    return ratio_series, course_series


def instrument_truth(series: Series, settings: DemoSettings, /) -> pd.DataFrame:
    """Simulated against fitted resolving power and calibration, one row per spectrum.

    Columns: ``label``, ``simulated_resolution``, ``fitted_resolution`` (at the
    median m/z), ``resolution_error_pct``, ``simulated_ppm``, ``fitted_ppm``
    (calibration at the median m/z), ``ppm_error``.
    """
    import pandas as pd

    rows = []
    for p in series.points:
        r = float(p.assigned.info.get("resolution", float("nan")))
        ppm = float(p.assigned.info.get("ppm_shift", float("nan")))
        rows.append(
            {
                "label": p.label,
                "simulated_resolution": settings.resolution,
                "fitted_resolution": round(r, 1),
                "resolution_error_pct": round(100.0 * (r / settings.resolution - 1.0), 2),
                "simulated_ppm": settings.calibration_ppm,
                "fitted_ppm": round(ppm, 2),
                "ppm_error": round(ppm - settings.calibration_ppm, 2),
            }
        )
    return pd.DataFrame(rows)


def _bar(description: str, total: int) -> tuple[Any, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    )
    return bar, bar.add_task(description, total=total)
