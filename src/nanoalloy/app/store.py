"""The workspace: a folder with an SQLite index of every upload and job.

Layout of a workspace folder::

    nanoalloy.sqlite     uploads, jobs (parameters, state, progress, messages)
    uploads/<uid>.<ext>  uploaded spectra, named by a random id (never by the sent name)
    presets/<uid>.toml   uploaded preset files
    jobs/<jid>/          one results folder per finished job

Every row carries ``owner``: the SHA-256 of the browser's session cookie, so two
browsers never see each other's uploads or jobs (the cookie itself is not stored).
The database runs in WAL mode and every call opens its own short-lived
connection, so the web threads and the worker processes can share it.

Contents
--------
Store
    Open (create) a workspace and read or write its rows.
JOB_STATES
    The states a job goes through.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["JOB_STATES", "Store"]

JOB_STATES = ("queued", "running", "done", "failed", "interrupted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    stored TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'spectrum',
    size INTEGER NOT NULL,
    created REAL NOT NULL,
    scans TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    stage TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    summary TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS uploads_owner ON uploads(owner, created);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner, created);
"""


def new_id() -> str:
    """A random, URL- and file-name-safe id (12 hex digits)."""
    return secrets.token_hex(6)


class Store:
    """A workspace folder and its SQLite index."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(f"workspace {str(root)!r} exists and is not a folder")
        for sub in ("uploads", "presets", "jobs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.db = self.root / "nanoalloy.sqlite"
        with self.connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in a transaction (committed on success), closed afterwards."""
        con = sqlite3.connect(self.db, timeout=30.0)
        con.row_factory = sqlite3.Row
        try:
            with con:
                yield con
        finally:
            con.close()

    def upload_path(self, row: dict[str, Any]) -> Path:
        """Where an upload's bytes live (built from our own id, never from the sent name)."""
        return self.root / "uploads" / str(row["stored"])

    def job_dir(self, job_id: str) -> Path:
        """The results folder of a job."""
        return self.root / "jobs" / job_id

    # ------------------------------------------------------------------ uploads
    def add_upload(
        self, owner: str, name: str, stored: str, size: int, scans: list[dict[str, Any]], kind: str
    ) -> str:
        """Index an upload already written to ``uploads/stored``; returns its id."""
        uid = stored.split(".", 1)[0]
        with self.connect() as con:
            con.execute(
                "INSERT INTO uploads (id, owner, name, stored, kind, size, created, scans)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (uid, owner, name, stored, kind, size, time.time(), json.dumps(scans)),
            )
        return uid

    def uploads(self, owner: str, kind: str = "spectrum") -> list[dict[str, Any]]:
        """The owner's uploads of one kind, newest first."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT * FROM uploads WHERE owner = ? AND kind = ? ORDER BY created DESC",
                (owner, kind),
            ).fetchall()
        return [_upload(r) for r in rows]

    def upload(self, owner: str, uid: str) -> dict[str, Any] | None:
        """One upload of the owner (None if absent or someone else's)."""
        with self.connect() as con:
            r = con.execute(
                "SELECT * FROM uploads WHERE id = ? AND owner = ?", (uid, owner)
            ).fetchone()
        return None if r is None else _upload(r)

    # ------------------------------------------------------------------ jobs
    def add_job(self, owner: str, kind: str, title: str, params: dict[str, Any]) -> str:
        """A new queued job; returns its id."""
        jid = new_id()
        with self.connect() as con:
            con.execute(
                "INSERT INTO jobs (id, owner, kind, title, params, state, created)"
                " VALUES (?, ?, ?, ?, ?, 'queued', ?)",
                (jid, owner, kind, title, json.dumps(params), time.time()),
            )
        return jid

    def jobs(self, owner: str, kind: str | None = None) -> list[dict[str, Any]]:
        """The owner's jobs (of one kind), newest first."""
        sql = "SELECT * FROM jobs WHERE owner = ?"
        args: tuple[str, ...] = (owner,)
        if kind is not None:
            sql += " AND kind = ?"
            args = (owner, kind)
        with self.connect() as con:
            rows = con.execute(sql + " ORDER BY created DESC", args).fetchall()
        return [_job(r) for r in rows]

    def job(self, owner: str | None, jid: str) -> dict[str, Any] | None:
        """One job (of ``owner``; any owner with None, for the workers)."""
        with self.connect() as con:
            if owner is None:
                r = con.execute("SELECT * FROM jobs WHERE id = ?", (jid,)).fetchone()
            else:
                r = con.execute(
                    "SELECT * FROM jobs WHERE id = ? AND owner = ?", (jid, owner)
                ).fetchone()
        return None if r is None else _job(r)

    def update_job(self, jid: str, **fields: Any) -> None:
        """Set some columns of a job (``summary`` as a dict)."""
        if "summary" in fields:
            fields["summary"] = json.dumps(fields["summary"], allow_nan=False, default=str)
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.connect() as con:
            con.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*fields.values(), jid))

    def requeue(self, jid: str) -> None:
        """Put a failed or interrupted job back in the queue."""
        self.update_job(
            jid,
            state="queued",
            progress=0.0,
            stage="",
            message="",
            started=None,
            finished=None,
            summary={},
        )

    def mark_interrupted(self) -> list[str]:
        """Jobs left queued or running by a server that stopped: mark them interrupted."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT id FROM jobs WHERE state IN ('queued', 'running')"
            ).fetchall()
            con.execute(
                "UPDATE jobs SET state = 'interrupted', stage = '',"
                " message = 'interrupted: the server stopped before this job finished'"
                " WHERE state IN ('queued', 'running')"
            )
        return [r["id"] for r in rows]


def _upload(r: sqlite3.Row) -> dict[str, Any]:
    d = dict(r)
    d["scans"] = json.loads(d["scans"])
    return d


def _job(r: sqlite3.Row) -> dict[str, Any]:
    d = dict(r)
    d["params"] = json.loads(d["params"])
    d["summary"] = json.loads(d["summary"])
    return d
