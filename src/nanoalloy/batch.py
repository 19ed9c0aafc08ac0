"""Batch assignment of many spectra on Dask, resumable.

A batch reads each spectrum on the client, assigns it on a Dask worker (a
:class:`distributed.LocalCluster` by default, any running scheduler by
address, from a laptop to an HPC or cloud cluster), and writes the tables
back on the client, so workers need no shared file system. Each spectrum is
keyed by the SHA-256 of its file bytes and a hash of the settings (preset,
assignment options, nanoalloy version); ``manifest.json`` records what is
done, and a rerun skips every spectrum already done with the same settings.

A bad input (unreadable file, a spectrum the assigner refuses, a task that
keeps killing its workers) does not stop the batch: the others are done and
the failures are listed (file, one-line reason) in :attr:`BatchResult.failed`
and ``failures.csv``; ``fail_fast=True`` stops at the first one instead.
Spectra go to the workers by ``scatter`` (never inside the task graph). A
lost scheduler, or no worker joining it within ``worker_timeout`` seconds,
ends the batch with one :class:`~nanoalloy.errors.BatchError` line; what was
done is recorded and a rerun resumes.

Layout of ``--out DIR``::

    manifest.json                 what is done (key -> file, hashes, result folder)
    spectra/<stem>-<sha8>/        species, ions, families (.parquet and .csv) per spectrum
    species.parquet|csv, ions.parquet|csv, families.parquet|csv
                                  combined tables of this run's inputs (column ``spectrum``),
                                  each written atomically; the Parquet files carry the list
                                  of inputs in their schema metadata (key ``nanoalloy``)
    combined.json                 manifest of the combined tables: the inputs they combine
                                  (file, sha256, result folder), rows and SHA-256 of each
                                  table file; written last, removed first
    failures.csv                  file, reason: inputs that failed in this run (if any)

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

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BatchError, InputError, NanoalloyError

if TYPE_CHECKING:
    import pandas as pd

    from .results.series import Packed

__all__ = ["BatchResult", "file_sha256", "run_batch", "settings_hash"]

MANIFEST = "manifest.json"
COMBINED = "combined.json"
FAILURES = "failures.csv"
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
    failed: tuple[tuple[Path, str], ...] = ()
    """Inputs that failed in this run, each with a one-line reason."""

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
        return (
            f"<BatchResult {self.out}: {len(self.done)} assigned, {len(self.skipped)} skipped, "
            f"{len(self.failed)} failed>"
        )


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


@dataclass(frozen=True, slots=True)
class _TaskFailed:
    """What a task returns for an input it could not assign (raised again on the client).

    Returned, not raised: a worker logs every raising task with its traceback on its own
    stderr, which the batch cannot silence in a worker process; the failures table says it.
    """

    error: BaseException
    """The assigner's exception (or a picklable stand-in with its one-line reason)."""


def _assign_task(
    packed: Packed, preset: str, kwargs: dict[str, Any], given: Callable[..., Any] | None
) -> dict[str, pd.DataFrame] | _TaskFailed:
    """Runs on a worker: assign one spectrum, return its tables (or why it failed)."""
    import pickle

    try:
        return _assign_tables(packed, preset, kwargs, given)
    except Exception as exc:
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            exc = BatchError(_reason(exc))
        return _TaskFailed(exc)


def _assign_tables(
    packed: Packed, preset: str, kwargs: dict[str, Any], given: Callable[..., Any] | None
) -> dict[str, pd.DataFrame]:
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

    with atomic_dir(folder, overwrite=True) as stage:
        for name, df in tables.items():
            df.to_csv(stage / f"{name}.csv", index=False)
            _to_parquet(df, stage / f"{name}.parquet")


def _to_parquet(df: pd.DataFrame, path: Path, meta: dict[str, Any] | None = None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # object columns with mixed types trip Arrow: store them as strings
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    table = pa.Table.from_pandas(df, preserve_index=False)
    if meta is not None:
        extra = {b"nanoalloy": json.dumps(meta, sort_keys=True).encode()}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
    pq.write_table(table, path)


def _combine(out: Path, entries: list[tuple[Path, dict[str, Any]]]) -> dict[str, pd.DataFrame]:
    """Concatenate the per-spectrum tables; write them and ``combined.json`` atomically."""
    import pandas as pd

    from .output import atomic_file

    inputs = [
        {"spectrum": path.name, "file": str(path), "sha256": e["sha256"], "result": e["result"]}
        for path, e in entries
    ]
    # the manifest goes first and comes back last: tables without it are from a cut run
    (out / COMBINED).unlink(missing_ok=True)
    tables: dict[str, pd.DataFrame] = {}
    files: dict[str, dict[str, Any]] = {}
    for name in TABLES:
        parts = []
        for path, entry in entries:
            f = out / entry["result"] / f"{name}.parquet"
            df = pd.read_parquet(f)
            df.insert(0, "sha256", entry["sha256"])
            df.insert(0, "spectrum", path.name)
            parts.append(df)
        tables[name] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        with atomic_file(out / f"{name}.csv") as tmp:
            tables[name].to_csv(tmp, index=False)
            files[f"{name}.csv"] = {"rows": len(tables[name]), "sha256": file_sha256(tmp)}
        with atomic_file(out / f"{name}.parquet") as tmp:
            _to_parquet(tables[name], tmp, {"combined": inputs})
            files[f"{name}.parquet"] = {"rows": len(tables[name]), "sha256": file_sha256(tmp)}
    with atomic_file(out / COMBINED) as tmp:
        tmp.write_text(json.dumps({"inputs": inputs, "tables": files}, indent=1) + "\n")
    return tables


def _write_failures(out: Path, failed: Sequence[tuple[Path, str]]) -> None:
    import csv

    from .output import atomic_file

    if not failed:
        (out / FAILURES).unlink(missing_ok=True)
        return
    with atomic_file(out / FAILURES) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "reason"])
        w.writerows((str(f), reason) for f, reason in failed)


def _reason(exc: BaseException) -> str:
    """One line saying why one input failed."""
    name = type(exc).__name__
    msg = " ".join(str(exc).split())
    if name == "KilledWorker":
        return (
            "the workers assigning it died repeatedly (KilledWorker: out of memory, or a crash "
            "in a compiled library)"
        )
    if isinstance(exc, NanoalloyError | OSError | ValueError):
        return msg or name
    return f"{name}: {msg}" if msg else name


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
    fail_fast: bool = False,
    worker_timeout: float = 60.0,
    columns: str | Sequence[int | str] | None = None,
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
    fail_fast
        Stop at the first bad input (raise its error) instead of going on and
        listing the failures.
    worker_timeout
        Seconds to wait for at least one worker on the scheduler.
    columns
        Text spectra: the m/z and intensity columns (see :func:`nanoalloy.ms.io.read`);
        part of the resume key.

    Returns
    -------
    BatchResult
        With ``failed``: (file, one-line reason) of each input that failed.

    Raises
    ------
    BatchError
        The scheduler is unreachable or lost, or no worker joined within
        ``worker_timeout``.
    """
    from .ms.io import check_regular_file, parse_columns
    from .output import clean_stale_parts_in
    from .results.series import collect_inputs

    if workers < 1:
        raise InputError(f"workers must be >= 1, got {workers}")
    if not worker_timeout > 0:
        raise InputError(f"worker timeout must be > 0 seconds, got {worker_timeout}")
    files = collect_inputs(inputs)
    out = Path(out)
    with _removed_if_nothing_written(out):
        clean_stale_parts_in(out)  # parts of killed runs: combined tables, manifest
        clean_stale_parts_in(out / "spectra")  # and per-spectrum folders
        manifest = _load_manifest(out)
        entries: dict[str, Any] = manifest["entries"]
        cols = parse_columns(columns)
        key_kwargs = dict(assign_kwargs or {}) | ({"columns": list(cols)} if cols else {})
        settings = settings_hash(preset, key_kwargs)
        plan: list[tuple[Path, str, dict[str, Any]]] = []
        failed: list[tuple[Path, str]] = []
        for f in files:
            try:
                check_regular_file(f, InputError)
                sha = file_sha256(f)
            except (OSError, NanoalloyError) as exc:
                if fail_fast:
                    raise
                failed.append((f, _reason(exc)))
                continue
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
            failed += _run_on_dask(
                todo, out, manifest, preset, kwargs, assign_fn,
                workers=workers, scheduler=scheduler, processes=processes,
                progress=progress, client=client, fail_fast=fail_fast,
                worker_timeout=worker_timeout, columns=cols,
            )  # fmt: skip
        bad = {f for f, _ in failed}
        used = [(f, entries[k]) for f, k, _ in plan if f not in bad and k in entries]
        tables = _combine(out, used)
        _write_failures(out, failed)
        done = tuple(f for f, _, _ in todo if f not in bad)
        return BatchResult(out, done, skipped, tables, tuple(failed))


@contextlib.contextmanager
def _removed_if_nothing_written(out: Path) -> Iterator[None]:
    """Make ``out``; a folder made here that holds no file when the run fails goes again.

    The scheduler unreachable, no worker, Ctrl-C before the first result: no empty DIR is
    left behind (a resumable run's results, once written, stay).
    """
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        if created and not any(p.is_file() for p in out.rglob("*")):
            shutil.rmtree(out, ignore_errors=True)
        raise


def _connect(
    stack: Any, scheduler: str | None, workers: int, processes: bool, timeout: float
) -> Any:
    """A client on ``scheduler`` (or a new local cluster) with at least one worker."""
    from distributed import Client, LocalCluster

    if not scheduler:
        cluster = stack.enter_context(
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=processes,
                dashboard_address=":0",  # random free port: never clash with a running cluster
            )
        )
        return stack.enter_context(Client(cluster))
    try:
        client = stack.enter_context(Client(scheduler, timeout=timeout))
    except (OSError, TimeoutError) as exc:
        raise BatchError(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({_reason(exc)})"
        ) from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError):
        raise BatchError(
            f"no Dask worker joined the scheduler at {scheduler} within {timeout:g} s "
            f"(start workers with: dask worker {scheduler}; or wait longer with "
            "--worker-timeout SECONDS)"
        ) from None
    return client


def _lost(client: Any, exc: BaseException) -> bool:
    """Did this failure come from losing the scheduler rather than from the input?"""
    from distributed.comm.core import CommClosedError

    if isinstance(exc, CommClosedError) or "scheduler-connection-lost" in str(exc):
        return True
    return getattr(client, "status", "running") not in ("running", "connecting")


ATTEMPTS = 3
"""Times a spectrum is sent again after the worker holding it died."""


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
    fail_fast: bool,
    worker_timeout: float,
    columns: tuple[int | str, int | str] | None = None,
) -> list[tuple[Path, str]]:
    """Assign ``todo`` on Dask; returns the failures (file, reason)."""
    import contextlib
    from concurrent.futures import CancelledError

    from distributed import as_completed

    from .ms.io import read
    from .results.series import pack_spectrum

    failed: list[tuple[Path, str]] = []
    n_done = 0
    stack = contextlib.ExitStack()
    try:
        if client is None:
            client = _connect(stack, scheduler, workers, processes, worker_timeout)
        where = f" at {scheduler}" if scheduler else ""
        bar = _progress(len(todo)) if progress else None
        if bar is not None:
            stack.enter_context(bar[0])
        try:
            # one spectrum in flight per worker: a worker that dies (out of memory) takes
            # only its own spectrum with it, which is then sent again (ATTEMPTS in all)
            window = max(len(client.scheduler_info().get("workers", {})), 1)
        except (OSError, TimeoutError) as exc:
            raise BatchError(f"lost the Dask scheduler{where}: {_reason(exc)}") from None
        pending = list(todo)
        meta: dict[str, tuple[Path, str, dict[str, Any]]] = {}
        attempts: dict[str, int] = {}

        def advance(f: Path, what: str) -> None:
            if bar is not None:
                bar[0].update(bar[1], advance=1, description=f"{what} {f.name}")

        def submit() -> Any:
            """Submit the next readable input; None when nothing is left."""
            while pending:
                f, key, entry = pending.pop(0)
                try:
                    packed = pack_spectrum(read(f, columns=columns))
                except (OSError, NanoalloyError) as exc:
                    if fail_fast:
                        raise
                    failed.append((f, _reason(exc)))
                    advance(f, "failed")
                    continue
                # the spectrum travels by scatter, never inside the task graph
                data = client.scatter(packed, hash=False)
                attempts[key] = attempts.get(key, 0) + 1
                fut = client.submit(
                    _assign_task, data, preset, kwargs, assign_fn,
                    key=f"assign-{key}-{attempts[key]}", pure=False,
                )  # fmt: skip
                meta[fut.key] = (f, key, entry)
                return fut
            return None

        try:
            first = [fut for _ in range(window) if (fut := submit()) is not None]
            ac = as_completed(first)
            for fut in ac:
                f, key, entry = meta.pop(fut.key)
                try:
                    tables = fut.result()
                    if isinstance(tables, _TaskFailed):
                        raise tables.error
                except Exception as exc:
                    if _lost(client, exc):
                        raise
                    if isinstance(exc, CancelledError) and attempts[key] < ATTEMPTS:
                        # the worker holding its spectrum died (maybe while assigning
                        # another one): send it again
                        pending.insert(0, (f, key, entry))
                        fut.release()
                        nxt = submit()
                        if nxt is not None:
                            ac.add(nxt)
                        continue
                    if isinstance(exc, CancelledError):
                        exc = BatchError(
                            f"the worker assigning it died on each of {ATTEMPTS} attempts "
                            "(killed: out of memory, or a crash in a compiled library)"
                        )
                    if fail_fast:
                        if isinstance(exc, NanoalloyError) and not isinstance(exc, BatchError):
                            raise exc from None  # the assigner's own error, as it is
                        raise BatchError(f"{f}: {_reason(exc)}") from None
                    failed.append((f, _reason(exc)))
                    advance(f, "failed")
                else:
                    _write_tables(out / entry["result"], tables)
                    entry["n_species"] = int(len(tables["species"]))
                    manifest["entries"][key] = entry
                    _save_manifest(out, manifest)
                    n_done += 1
                    advance(f, "assigned")
                fut.release()
                nxt = submit()
                if nxt is not None:
                    ac.add(nxt)
        except NanoalloyError:
            raise
        except Exception as exc:
            if not _lost(client, exc) and not isinstance(exc, OSError | TimeoutError):
                raise
            raise BatchError(
                f"lost the Dask scheduler{where} ({_reason(exc)}); {n_done} of {len(todo)} "
                "spectra were done and recorded: rerun the same command to resume"
            ) from None

    finally:
        # closing a client whose scheduler is gone fails too: the batch's own error counts
        with contextlib.suppress(Exception):
            stack.close()
    return failed


def _progress(total: int) -> tuple[Any, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    )
    return bar, bar.add_task("assigning", total=total)
