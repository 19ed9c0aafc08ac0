"""Options that contradict each other, or values out of range, are usage errors (exit 2, one
line, nothing written), as the README promises; a stranger found these accepted silently
(`--response` with `--no-response`, `--calibration-range` with `--no-calibrate`,
`--worker-timeout` without `--scheduler`) or refused with exit 1 (`--workers 0`, `--scan -1`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanoalloy import cli


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["assign", "s.csv", "--no-calibrate", "--calibration-range", "50"], "--no-calibrate"),
        (["assign", "s.csv", "--scan", "-1"], "--scan must be a 0-based scan index"),
        (["fit-kinetics", "t.csv", "--response", "M44S26=0.5", "--no-response"], "--no-response"),
        (["batch", "s.csv", "--worker-timeout", "3"], "--worker-timeout is for --scheduler"),
        (["batch", "s.csv", "--workers", "0"], "--workers must be >= 1"),
    ],
)
def test_contradicting_or_out_of_range_options_are_usage_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.csv").write_text("m/z,intensity\n2000,1\n2000.1,2\n2000.2,1\n")
    (tmp_path / "t.csv").write_text("time_min,family,fraction\n0,M44S26,1\n")
    assert cli.main([*argv, "--out", "out"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
