"""Every failure ends in one line and exit 1 (2 for usage), never a traceback, never
half-written or mixed output (issue 13). One test per class of failure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nanoalloy import cli

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}


def _one_error_line(err: str, command: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"nanoalloy {command}: error: ")
    return lines[0]


# ----------------------------------------------------------------------------- Dask: real scheduler
def _scheduler(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    pytest.importorskip("distributed")
    sfile = tmp_path / "scheduler.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--scheduler-file", str(sfile),
         "--port", "0", "--dashboard-address", ":0"],
        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(600):
        if sfile.exists():
            try:
                return proc, json.loads(sfile.read_text())["address"], sfile
            except (json.JSONDecodeError, KeyError):
                pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail("the Dask scheduler did not start within 60 s")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def _spectra(folder: Path, n: int) -> list[Path]:
    from _fake_assign import make_spectrum
    from nanoalloy.ms.io import write_csv

    folder.mkdir()
    files = []
    for i in range(n):
        write_csv(make_spectrum({("M44S30", 2 + i % 11): 1.0}), folder / f"s{i:02d}.csv")
        files.append(folder / f"s{i:02d}.csv")
    return files


def test_scheduler_without_workers_gives_up_after_the_printed_timeout(tmp_path: Path) -> None:
    sched, address, _ = _scheduler(tmp_path)
    try:
        files = _spectra(tmp_path / "in", 2)
        proc = subprocess.run(
            [sys.executable, "-m", "nanoalloy.cli", "batch", *map(str, files), "--out",
             str(tmp_path / "out"), "--scheduler", address, "--worker-timeout", "3",
             "--no-progress"],
            env=ENV, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        _kill(sched)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == f"nanoalloy batch: connecting to {address}, waiting up to 3 s for a worker"
    line = _one_error_line("\n".join(lines[1:]), "batch")
    assert "no Dask worker joined" in line and "within 3 s" in line


_SLOW_BATCH = """
import sys
import nanoalloy.batch as b
from _faulty_assign import slow_assign
real = b.run_batch
b.run_batch = lambda *a, **k: real(*a, **{**k, "assign_fn": slow_assign})
from nanoalloy.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_scheduler_killed_mid_batch_ends_in_one_line_and_resumes(tmp_path: Path) -> None:
    sched, address, sfile = _scheduler(tmp_path)
    worker = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(sfile),
         "--nthreads", "1", "--nworkers", "1", "--dashboard-address", ":0"],
        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    out = tmp_path / "out"
    files = _spectra(tmp_path / "in", 12)
    args = ["batch", *map(str, files), "--out", str(out), "--scheduler", address, "--no-progress"]
    try:
        batch = subprocess.Popen(
            [sys.executable, "-c", _SLOW_BATCH, *args],
            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for _ in range(1200):  # until the first spectrum is recorded
            if (out / "manifest.json").exists() or batch.poll() is not None:
                break
            time.sleep(0.1)
        os.kill(sched.pid, signal.SIGKILL)
        _, err = batch.communicate(timeout=180)
    finally:
        _kill(sched)
        _kill(worker)
        if batch.poll() is None:
            batch.kill()
    assert batch.returncode == 1, err
    lines = err.strip().splitlines()
    line = _one_error_line("\n".join(lines[1:]), "batch")
    assert "lost the Dask scheduler" in line and "rerun the same command to resume" in line
    done = json.loads((out / "manifest.json").read_text())["entries"]
    assert 1 <= len(done) < 12
    # no combined table claims to combine what it does not
    assert not (out / "combined.json").exists()
    assert not list(out.glob(".*.part")) and not list((out / "spectra").glob(".*.part"))
