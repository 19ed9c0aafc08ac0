"""Batch assignment of many spectra on Dask, resumable.

A batch reads each spectrum on the client, assigns it on a Dask worker (a
:class:`distributed.LocalCluster` by default, any running scheduler by
address, from a laptop to an HPC or cloud cluster), and writes the tables
back on the client, so workers need no shared file system. Each spectrum is
keyed by the SHA-256 of its file bytes and a hash of the settings (preset,
assignment options, nanoalloy version); ``manifest.json`` records what is
done, and a rerun skips every spectrum already done with the same settings.

Layout of ``--out DIR``::

    manifest.json                 what is done (key -> file, hashes, result folder)
    spectra/<stem>-<sha8>/        species, ions, families (.parquet and .csv) per spectrum
    species.parquet|csv, ions.parquet|csv, families.parquet|csv
                                  combined tables of this run's inputs (column ``spectrum``)

Contents
--------
BatchResult
    What a batch did: done and skipped files, combined tables, output folder.
file_sha256
    SHA-256 of a file's bytes (streamed).
run_batch
    Assign many spectra in parallel; resumable.
settings_hash
    Hash of the settings that decide an assignment.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from .results.series import Packed

__all__ = ["BatchResult", "file_sha256", "run_batch", "settings_hash"]

MANIFEST = "manifest.json"
TABLES = ("species", "ions", "families")


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a batch run did."""

    out: Path
    """Output folder."""
    done: tuple[Path, ...]
    """Files assigned in this run."""
    skipped: tuple[Path, ...]
    """Files skipped because they were already done with the same settings."""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Combined ``species``, ``ions`` and ``families`` tables (column ``spectrum``)."""

    @property
    def species(self) -> pd.DataFrame:
        """Combined species table."""
        return self.tables["species"]

    @property
    def ions(self) -> pd.DataFrame:
        """Combined ions table."""
        return self.tables["ions"]

    @property
    def families(self) -> pd.DataFrame:
        """Combined families table."""
        return self.tables["families"]

    def __repr__(self) -> str:
        return f"<BatchResult {self.out}: {len(self.done)} assigned, {len(self.skipped)} skipped>"


def file_sha256(path: str | os.PathLike[str], /) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB chunks.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"; _ = p.write_bytes(b"abc")
    >>> file_sha256(p)[:12]
    'ba7816bf8f01'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def settings_hash(preset: str, assign_kwargs: dict[str, Any] | None = None, /) -> str:
    """Hash (hex) of the settings that decide an assignment, nanoalloy's version included."""
    from ._version import __version__

    blob = json.dumps(
        {"preset": preset, "kwargs": assign_kwargs or {}, "version": __version__},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _assign_task(
    packed: Packed, preset: str, kwargs: dict[str, Any], given: Callable[..., Any] | None
) -> dict[str, pd.DataFrame]:
    """Runs on a worker: assign one spectrum, return its tables."""
    import pandas as pd

    from .results.series import _default_assign, unpack_spectrum

    fn = given if given is not None else _default_assign()
    spectrum = unpack_spectrum(packed)
    a = fn(spectrum, preset=preset, **kwargs)
    out = {}
    for name in TABLES:
        v = getattr(a, name, None)
        out[name] = v.copy() if isinstance(v, pd.DataFrame) else pd.DataFrame()
    return out


def _load_manifest(out: Path) -> dict[str, Any]:
    p = out / MANIFEST
    if not p.exists():
        return {"version": 1, "entries": {}}
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(
            f"manifest {str(p)!r} is corrupt ({exc}); remove it to start over"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
        raise InputError(f"manifest {str(p)!r} has no 'entries'; remove it to start over")
    return data


def _save_manifest(out: Path, manifest: dict[str, Any]) -> None:
    from .output import atomic_file

    with atomic_file(out / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def _write_tables(folder: Path, tables: dict[str, pd.DataFrame]) -> None:
    from .output import atomic_dir

    with atomic_dir(folder) as stage:
        for name, df in tables.items():
            df.to_csv(stage / f"{name}.csv", index=False)
            _to_parquet(df, stage / f"{name}.parquet")


def _to_parquet(df: pd.DataFrame, path: Path) -> None:
    # object columns with mixed types trip Arrow: store them as strings
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    df.to_parquet(path, index=False)


def _combine(out: Path, entries: list[tuple[Path, dict[str, Any]]]) -> dict[str, pd.DataFrame]:
    import pandas as pd

    tables: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        parts = []
        for path, entry in entries:
            f = out / entry["result"] / f"{name}.parquet"
            df = pd.read_parquet(f)
            df.insert(0, "sha256", entry["sha256"])
            df.insert(0, "spectrum", path.name)
            parts.append(df)
        tables[name] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        tables[name].to_csv(out / f"{name}.csv", index=False)
        _to_parquet(tables[name], out / f"{name}.parquet")
    return tables


def run_batch(
    inputs: Iterable[str | Path],
    /,
    *,
    out: str | Path,
    preset: str = "auag44-pmba",
    assign_kwargs: dict[str, Any] | None = None,
    workers: int = 2,
    scheduler: str | None = None,
    processes: bool = True,
    progress: bool = True,
    assign_fn: Callable[..., Any] | None = None,
    client: Any = None,
) -> BatchResult:
    """Assign many spectra in parallel on Dask; skip those already done.

    Parameters
    ----------
    inputs
        Files, folders or glob patterns (see :func:`nanoalloy.results.series.collect_inputs`).
    out
        Output folder (created; reused by reruns).
    preset, assign_kwargs
        Settings passed to the assigner; part of the resume key.
    workers
        Workers of the local cluster (ignored with ``scheduler`` or ``client``).
    scheduler
        Address of a running Dask scheduler, e.g. ``tcp://10.0.0.5:8786``.
    processes
        Local cluster with worker processes (True) or threads in this process (False).
    progress
        Show a progress bar (rich) on stderr.
    assign_fn
        The assigner (default :func:`nanoalloy.ms.assign.assign`); must be importable
        on the workers.
    client
        An existing :class:`distributed.Client` to use (not closed here).

    Returns
    -------
    BatchResult
    """
    from .results.series import collect_inputs

    if workers < 1:
        raise InputError(f"workers must be >= 1, got {workers}")
    files = collect_inputs(inputs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(out)
    entries: dict[str, Any] = manifest["entries"]
    settings = settings_hash(preset, assign_kwargs)
    plan: list[tuple[Path, str, dict[str, Any]]] = []
    for f in files:
        sha = file_sha256(f)
        key = f"{sha}:{settings}"
        entry = {
            "file": str(f),
            "sha256": sha,
            "settings": settings,
            "preset": preset,
            "result": f"spectra/{f.stem}-{sha[:8]}-{settings[:6]}",
        }
        plan.append((f, key, entry))
    todo = [
        (f, k, e)
        for f, k, e in plan
        if not (k in entries and (out / entries[k]["result"]).is_dir())
    ]
    todo_keys = {k for _, k, _ in todo}
    skipped = tuple(f for f, k, _ in plan if k not in todo_keys)
    kwargs = dict(assign_kwargs or {})
    if todo:
        _run_on_dask(
            todo, out, manifest, preset, kwargs, assign_fn,
            workers=workers, scheduler=scheduler, processes=processes,
            progress=progress, client=client,
        )  # fmt: skip
    used = [(f, entries[k]) for f, k, _ in plan]
    tables = _combine(out, used)
    return BatchResult(out, tuple(f for f, _, _ in todo), skipped, tables)


def _run_on_dask(
    todo: Sequence[tuple[Path, str, dict[str, Any]]],
    out: Path,
    manifest: dict[str, Any],
    preset: str,
    kwargs: dict[str, Any],
    assign_fn: Callable[..., Any] | None,
    *,
    workers: int,
    scheduler: str | None,
    processes: bool,
    progress: bool,
    client: Any,
) -> None:
    import contextlib

    from distributed import Client, LocalCluster, as_completed

    from .ms.io import read
    from .results.series import pack_spectrum

    with contextlib.ExitStack() as stack:
        if client is None:
            if scheduler:
                client = stack.enter_context(Client(scheduler))
            else:
                cluster = stack.enter_context(
                    LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=processes,
                        dashboard_address=":0",  # random free port: never clash with a running cluster
                    )
                )
                client = stack.enter_context(Client(cluster))
        bar = _progress(len(todo)) if progress else None
        if bar is not None:
            stack.enter_context(bar[0])
        window = max(2 * len(client.scheduler_info().get("workers", {})), 4)
        pending = list(todo)
        meta: dict[str, tuple[Path, str, dict[str, Any]]] = {}

        def submit() -> Any:
            f, key, entry = pending.pop(0)
            fut = client.submit(
                _assign_task,
                pack_spectrum(read(f)),
                preset,
                kwargs,
                assign_fn,
                key=f"assign-{key}",
                pure=False,
            )
            meta[fut.key] = (f, key, entry)
            return fut

        ac = as_completed([submit() for _ in range(min(window, len(pending)))])
        for fut in ac:
            f, key, entry = meta.pop(fut.key)
            tables = fut.result()
            _write_tables(out / entry["result"], tables)
            entry["n_species"] = int(len(tables["species"]))
            manifest["entries"][key] = entry
            _save_manifest(out, manifest)
            fut.release()
            if bar is not None:
                bar[0].update(bar[1], advance=1, description=f"assigned {f.name}")
            if pending:
                ac.add(submit())


def _progress(total: int) -> tuple[Any, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    )
    return bar, bar.add_task("assigning", total=total)
