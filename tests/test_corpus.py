"""Fuzz corpus (tests/data/bad, written by its _make.py): every file gets one line and
exit 1 from every command that reads spectra, or a correct read (issue 13)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nanoalloy import cli
from nanoalloy.errors import SpectrumFormatError
from nanoalloy.ms import io as nio

BAD = Path(__file__).parent / "data" / "bad"
EXPECTED: dict[str, dict[str, object]] = json.loads((BAD / "EXPECTED.json").read_text())
ERRORS = sorted(k for k, v in EXPECTED.items() if "error" in v)
GOOD = sorted(k for k, v in EXPECTED.items() if "error" not in v)


def test_corpus_is_complete() -> None:
    files = {
        p.name for p in BAD.iterdir() if not p.name.startswith("_") and p.name != "EXPECTED.json"
    }
    assert files == set(EXPECTED)
    assert len(ERRORS) >= 35 and len(GOOD) >= 15


@pytest.mark.parametrize("name", GOOD)
def test_correct_read(name: str) -> None:
    want = EXPECTED[name]
    s = nio.read(BAD / name)
    assert len(s) == want["points"]
    np.testing.assert_allclose([s.mz[0], s.mz[-1]], want["mz"], rtol=1e-12)  # type: ignore[arg-type]
    assert s.tic == pytest.approx(want["tic"], rel=1e-12)


@pytest.mark.parametrize("name", ERRORS)
def test_refused_with_one_line(
    name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fragment = str(EXPECTED[name]["error"])
    with pytest.raises(SpectrumFormatError) as info:
        nio.read(BAD / name)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    # every command that reads a spectrum: the same one line, exit 1, nothing written
    for argv in (
        ["info", str(BAD / name)],
        ["assign", str(BAD / name), "--out", str(tmp_path / "a")],
        ["msms", str(BAD / name), "--out", str(tmp_path / "m"), "--precursor", "[Au25(PET)18]-"],
    ):
        code = cli.main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1, argv
        assert len(err) == 1 and err[0].startswith(f"nanoalloy {argv[0]}: error: ")
        assert fragment in err[0], (argv, err)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("command", ["info", "assign", "uvvis", "batch", "series"])
def test_named_pipe_refused_at_once(command: str, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    argv = [command, str(fifo)]
    if command != "info":
        argv += ["--out", str(tmp_path / "out")]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    # a reader that opened the pipe would wait for a writer forever: the timeout would fire
    proc = subprocess.run(
        [sys.executable, "-m", "nanoalloy.cli", *argv],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "named pipe" in lines[0], proc.stderr
    with pytest.raises(SpectrumFormatError, match="named pipe"):
        nio.read(fifo)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_device_refused_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    # /dev/zero never ends: a reader that opened it would fill memory
    with pytest.raises(SpectrumFormatError, match="is a device"):
        nio.read("/dev/zero")
    assert cli.main(["info", "/dev/zero"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "device" in err[0]
