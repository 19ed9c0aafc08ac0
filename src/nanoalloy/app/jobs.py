"""Background jobs: assign, series and simulate runs on a pool of worker processes.

The web threads only write a row and hand its id to :class:`JobQueue`; a worker
process (spawned, so it shares no locks with the server) reads the parameters
from the workspace database, reports its progress there, writes its results into
a staging folder and renames it to ``jobs/<id>/`` when it succeeds. A failure is
recorded as one readable line (the traceback goes to ``jobs/<id>.log``, never to
the page).

Contents
--------
JobQueue
    The worker pool of a running server.
run_job
    Run one job (in a worker process).
readable
    One line for an exception, with workspace paths replaced by the names the user sent.
"""

from __future__ import annotations

import functools
import json
import math
import re
import shutil
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from .store import Store

__all__ = ["JobQueue", "readable", "run_job"]

Progress = Callable[[float, str], None]


def readable(exc: BaseException, names: dict[str, str] | None = None) -> str:
    """One line for ``exc``; stored paths in the text are replaced by the sent names."""
    from ..errors import NanoalloyError

    text = " ".join(str(exc).split())
    if isinstance(exc, MemoryError):
        text = "out of memory"
    elif not isinstance(exc, NanoalloyError | ValueError | OSError | KeyError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    for stored, name in (names or {}).items():
        text = text.replace(stored, name)
    # the readers' advice names a CLI option the upload form does not have
    text = re.sub(
        r"choose (?:columns|them) with --columns MZ,INTENSITY(?: \(1-based numbers or header names\))?",
        "save the file with its m/z and intensity columns first, or use "
        "`nanoalloy assign FILE --columns MZ,INTENSITY`",
        text,
    )
    return text or type(exc).__name__


# ----------------------------------------------------------------------------- runners


def _preset(store: Store, params: dict[str, Any]) -> str:
    if params.get("preset_file"):
        return str(store.root / "presets" / params["preset_file"])
    return str(params.get("preset") or "auag44-pmba")


def _names(store: Store, params: dict[str, Any]) -> dict[str, str]:
    out = {}
    for item in [params, *params.get("items", [])]:
        if item.get("stored"):
            out[str(store.root / "uploads" / item["stored"])] = str(item.get("name", "upload"))
    if params.get("preset_file"):
        out[str(store.root / "presets" / params["preset_file"])] = str(
            params.get("preset_name", "preset.toml")
        )
    out[str(store.root)] = "workspace"
    return out


def _run_assign(store: Store, params: dict[str, Any], out: Path, progress: Progress) -> dict:
    from nanoalloy.ms.assign import assign
    from nanoalloy.ms.io import read
    from nanoalloy.results.report import write_report

    path = store.root / "uploads" / params["stored"]
    progress(0.05, "reading the spectrum")
    spec = read(path, scan=params.get("scan"), time=params.get("time"))
    progress(0.15, "assigning (joint fit, calibration, model selection)")
    res = assign(
        spec,
        preset=_preset(store, params),
        resolution=params.get("resolution"),
        calibrate=bool(params.get("calibrate", True)),
    )
    progress(0.7, "writing tables and figures")
    res.write(out, plot=True, fit=True)
    summary = res.summary()
    summary["source"] = params.get("name", "")
    summary["scan"] = spec.metadata.get("index")
    summary["rt_min"] = spec.rt_min
    (out / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    progress(0.85, "writing report.html")
    write_report(out, title=f"nanoalloy assign: {params.get('name', '')}")
    return summary


def _run_series(store: Store, params: dict[str, Any], out: Path, progress: Progress) -> dict:
    from nanoalloy.results.series import run_series

    items = params["items"]
    paths = [store.root / "uploads" / it["stored"] for it in items]
    labels = [str(it["label"]) for it in items]
    done = [0]

    def tick(label: str) -> None:
        done[0] += 1
        progress(0.05 + 0.75 * done[0] / max(len(items), 1), f"assigned {label}")

    progress(0.05, f"assigning {len(items)} spectra")
    series = run_series(
        paths,
        out=out,
        preset=_preset(store, params),
        labels=labels if len(items) > 1 else None,
        progress=tick,
    )
    summ = series.summary
    return {
        "labels": series.labels,
        "axis": series.axis,
        "n_spectra": len(series),
        "families": sorted(set(series.table["family"].astype(str))),
        "points": int(len(summ)),
    }


def _run_simulate(store: Store, params: dict[str, Any], out: Path, progress: Progress) -> dict:
    from nanoalloy.kinetics import simulate
    from nanoalloy.results.report import write_report

    feed = {k: float(v) for k, v in params["feed"].items()}
    adds = [(float(a[0]), str(a[1]), float(a[2])) for a in params.get("additions", [])]
    progress(0.1, "integrating the kinetic model")
    sim = simulate(feed, hours=float(params["hours"]), additions=adds)
    progress(0.7, "writing tables")
    sim.final.to_csv(out / "final.csv", index=False)
    sim.populations.to_csv(out / "populations.csv", index=False)
    summary = sim.summary
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    progress(0.85, "writing report.html")
    write_report(out, title=f"nanoalloy simulate: {params.get('title', '')}")
    return {
        "fractions": summary.get("fractions", {}),
        "mode_x": summary.get("mode_x", {}),
        "hours": summary.get("hours"),
    }


RUNNERS: dict[str, Callable[[Store, dict[str, Any], Path, Progress], dict]] = {
    "assign": _run_assign,
    "series": _run_series,
    "simulate": _run_simulate,
}


def _clean(v: Any) -> Any:
    """JSON-safe summary values (NaN and inf become None)."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        return _clean(v.item())
    return v


_STOPPING = False
"""Set in a worker once Ctrl-C or exit reached it: the server is stopping."""


def run_job(root: str, jid: str) -> str:
    """Run job ``jid`` of the workspace ``root``; returns its final state.

    Never raises for a bad input: the state becomes ``failed`` with a readable message.
    A worker that has seen Ctrl-C runs nothing more: the jobs it still receives are
    marked interrupted (an interrupted import, e.g. of NumPy, cannot be repeated in the
    same process, so running them would only fail them).
    """
    global _STOPPING
    store = Store(root)
    job = store.job(None, jid)
    if job is None or job["state"] != "queued":
        return "skipped"
    if _STOPPING:
        store.update_job(
            jid,
            state="interrupted",
            stage="",
            message="interrupted: the server stopped before this job started",
            finished=time.time(),
        )
        return "interrupted"
    params = job["params"]
    store.update_job(jid, state="running", started=time.time(), progress=0.01, stage="starting")

    def progress(frac: float, stage: str) -> None:
        store.update_job(jid, progress=float(frac), stage=stage)

    target = store.job_dir(jid)
    stage = target.with_name(f".{jid}.part")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        summary = RUNNERS[job["kind"]](store, params, stage, progress)
        progress(0.95, "preparing the result page")
        from .views import write_view

        write_view(job["kind"], stage)
        if target.exists():
            shutil.rmtree(target)
        stage.rename(target)
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a readable state
        shutil.rmtree(stage, ignore_errors=True)
        log = target.with_name(f"{jid}.log")
        log.write_text("".join(traceback.format_exception(exc)))
        if not isinstance(exc, Exception):  # Ctrl-C or exit: the server is stopping
            _STOPPING = True
            store.update_job(
                jid,
                state="interrupted",
                stage="",
                message="interrupted: the server stopped while this job ran",
                finished=time.time(),
            )
            raise
        store.update_job(
            jid,
            state="failed",
            stage="",
            message=readable(exc, _names(store, params)),
            finished=time.time(),
        )
        return "failed"
    store.update_job(
        jid, state="done", progress=1.0, stage="done", finished=time.time(), summary=_clean(summary)
    )
    return "done"


class JobQueue:
    """A pool of worker processes running the jobs of one workspace.

    ``workers`` processes (spawned); jobs queue in the pool in submission order.
    """

    def __init__(self, store: Store, workers: int = 2) -> None:
        import multiprocessing

        self.store = store
        self.workers = max(1, int(workers))
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")
        )
        self._futures: dict[str, Future[str]] = {}
        self._closing = False

    def submit(self, jid: str) -> None:
        """Queue job ``jid`` (already written as ``queued``)."""
        fut = self._pool.submit(run_job, str(self.store.root), jid)
        self._futures[jid] = fut
        fut.add_done_callback(functools.partial(self._finished, jid))

    def _finished(self, jid: str, fut: Future[str]) -> None:
        self._futures.pop(jid, None)
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None and self._closing:  # workers stopped with the server
            self.store.update_job(
                jid,
                state="interrupted",
                stage="",
                message="interrupted: the server stopped while this job ran",
                finished=time.time(),
            )
        elif exc is not None:  # the worker process died (killed, out of memory)
            self.store.update_job(
                jid,
                state="failed",
                stage="",
                message=f"the worker process stopped: {readable(exc)}",
                finished=time.time(),
            )

    def pending(self) -> int:
        """Jobs submitted and not finished."""
        return len(self._futures)

    def shutdown(self, grace: float = 10.0) -> None:
        """Stop taking jobs; queued ones are cancelled and marked interrupted.

        Workers get ``grace`` seconds to stop (a Ctrl-C reaches them too and they mark
        their job interrupted); one still busy after that (its interrupt landed in a
        long computation or a library that swallows it) is terminated and its job
        marked interrupted, so the server never waits on a whole assignment to exit.
        """
        self._closing = True
        # the pool's worker processes (a private attribute of concurrent.futures,
        # stable since 3.8; without it the workers are left to stop by themselves)
        workers = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self.store.connect() as con:
            con.execute(
                "UPDATE jobs SET state = 'interrupted', stage = '',"
                " message = 'interrupted: the server stopped before this job started'"
                " WHERE state = 'queued'"
            )
        deadline = time.monotonic() + grace
        for w in workers:
            w.join(max(0.0, deadline - time.monotonic()))
        stuck = [w for w in workers if w.is_alive()]
        for w in stuck:
            w.terminate()
        for w in stuck:
            w.join(5.0)
        if stuck:
            with self.store.connect() as con:
                con.execute(
                    "UPDATE jobs SET state = 'interrupted', stage = '',"
                    " message = 'interrupted: the server stopped while this job ran',"
                    " finished = ? WHERE state = 'running'",
                    (time.time(),),
                )
