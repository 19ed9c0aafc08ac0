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
    assert not (tmp_path / "out").exists()  # the folder it made is not left behind, empty


def test_unreachable_scheduler_leaves_no_output_folder(tmp_path: Path) -> None:
    files = _spectra(tmp_path / "in", 1)
    proc = subprocess.run(
        [sys.executable, "-m", "nanoalloy.cli", "batch", *map(str, files), "--out",
         str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:1", "--worker-timeout", "3",
         "--no-progress"],
        env=ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    line = _one_error_line(proc.stderr.strip().splitlines()[-1], "batch")
    assert "cannot reach the Dask scheduler" in line
    assert not (tmp_path / "out").exists()


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


# ----------------------------------------------------------------------------- output folders
def _spectrum_file(path: Path, au: dict[int, float], seed: int) -> Path:
    import pandas as pd

    from nanoalloy.ms.io import write_csv
    from nanoalloy.ms.synth import synthesize

    pops = pd.DataFrame({"family": "M44S30", "au": list(au), "fraction": list(au.values())})
    syn = synthesize(pops, mz_range=(2200.0, 2700.0), resolution=20_000, seed=seed)
    write_csv(syn.spectrum, path)
    return path


def test_assign_into_a_used_folder_refused_or_replaced_as_a_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _spectrum_file(tmp_path / "first.csv", {11: 0.4, 12: 0.6}, seed=2)
    second = _spectrum_file(tmp_path / "second.csv", {12: 1.0}, seed=3)
    out = tmp_path / "result"
    assert cli.main(["assign", str(first), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"spectrum.png", "fit.csv", "report.html", "species.csv"} <= set(before)
    capsys.readouterr()
    # refused without --overwrite, before any work, and nothing is touched
    assert cli.main(["assign", str(second), "--out", str(out), "--no-plot", "--no-report"]) == 1
    line = _one_error_line(capsys.readouterr().err, "assign")
    assert "already holds files" in line and "--overwrite" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    # with --overwrite the folder is replaced as a whole: no figure, fit or report of the old run
    argv = ["assign", str(second), "--out", str(out), "--no-plot", "--no-report", "--overwrite"]
    assert cli.main(argv) == 0
    assert {p.name for p in out.iterdir()} == {
        "species.csv",
        "ions.csv",
        "families.csv",
        "instrument.json",
    }
    assert (out / "species.csv").read_bytes() != before["species.csv"]
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("assign", ["--overwrite", "--no-plot"]),
        ("series", ["--overwrite"]),
        ("uvvis", ["--overwrite"]),
        ("msms", ["--precursor", "[Au25(PET)18]-", "--overwrite"]),
        ("batch", ["--workers", "1"]),
    ],
)
@pytest.mark.parametrize("given", ["file", "folder"])
def test_out_that_is_or_holds_an_input_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, extra: list[str], given: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "spec.csv").write_text("m/z,intensity\n1000,1\n1001,2\n1002,1\n")
    (data / "notes.csv").write_text("keep me")
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    src = data / "spec.csv" if given == "file" or command in ("uvvis", "msms") else data
    for out in (data, tmp_path):
        assert cli.main([command, str(src), "--out", str(out), *extra]) == 1
        line = _one_error_line(capsys.readouterr().err, command)
        assert str(out) in line and "input" in line and "choose another --out" in line
        assert {p.name: p.read_bytes() for p in data.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_pattern_checks_the_plot_before_writing_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "y.csv"
    argv = ["pattern", "[Au25(PET)18]-", "--out", str(table)]
    assert cli.main([*argv, "--plot", str(tmp_path / "y.xyz")]) == 2  # the option's value
    line = _one_error_line(capsys.readouterr().err, "pattern")
    assert "'xyz'" in line and "png" in line
    assert list(tmp_path.iterdir()) == []
    # a plot that fails while it is written takes the table with it
    (tmp_path / "taken").write_text("a file where the plot's folder should be")
    assert cli.main([*argv, "--plot", str(tmp_path / "taken" / "y.png")]) == 1
    _one_error_line(capsys.readouterr().err, "pattern")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert cli.main([*argv, "--plot", str(tmp_path / "y.png")]) == 0
    assert table.exists() and (tmp_path / "y.png").exists()


def test_overwrite_never_replaces_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nanoalloy.output import OutputExistsError, atomic_dir

    (tmp_path / "precious.txt").write_text("keep me")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputExistsError, match="current folder"):
        with atomic_dir(".", overwrite=True):
            pass
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_failed_write_leaves_the_old_folder_whole(tmp_path: Path) -> None:
    from nanoalloy.output import atomic_dir

    out = tmp_path / "out"
    out.mkdir()
    (out / "old.csv").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(out, overwrite=True) as stage:
        (stage / "new.csv").write_text("new")
        raise RuntimeError("killed half-way")
    assert [p.name for p in out.iterdir()] == ["old.csv"]
    assert not list(tmp_path.glob(".*.part"))


def test_stale_part_folders_of_killed_runs_are_removed_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # what SIGKILL leaves: a staging folder and a temporary file named after a dead process
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    stale_dir = tmp_path / f".result.{pid}-x1y2.part"
    (stale_dir / "result").mkdir(parents=True)
    (stale_dir / "result" / "species.csv").write_text("half")
    stale_file = tmp_path / f".first.csv.{pid}-abcd.part"
    stale_file.write_text("half")
    unknown = tmp_path / ".result.oldstyle.part"  # no process id: named, not removed
    unknown.mkdir()
    src = _spectrum_file(tmp_path / "first.csv", {11: 0.5, 12: 0.5}, seed=4)
    assert cli.main(["assign", str(src), "--out", str(tmp_path / "result"), "--no-report"]) == 0
    err = capsys.readouterr().err
    assert not stale_dir.exists() and unknown.exists()
    assert f"removed {stale_dir}" in err and str(unknown) in err
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- one line per class
def test_numeric_overflow_in_uvvis_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = "".join(f"{5e302 + i * 1e300:.6e},{0.1 + 0.01 * (i % 7)}\n" for i in range(60))
    path = tmp_path / "uv.csv"
    path.write_text("nm,A\n" + rows)
    assert cli.main(["uvvis", str(path), "--out", str(tmp_path / "out")]) == 1
    line = _one_error_line(capsys.readouterr().err, "uvvis")
    assert "absurd" in line and not (tmp_path / "out").exists()


def test_python_int_limit_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["mz", "Au" + "9" * 4300 + "(PET)2"]) == 1
    line = _one_error_line(capsys.readouterr().err, "mz")
    assert "absurd" in line and len(line) < 300


def test_a_number_beyond_float_and_an_empty_table_name_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.csv"
    big.write_text("mz,intensity\n2000.0,1\n2000.1," + "9" * 4300 + "\n")
    assert cli.main(["info", str(big)]) == 1
    line = _one_error_line(capsys.readouterr().err, "info")
    assert str(big) in line and "too large for a float" in line
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert cli.main(["fit-kinetics", str(empty), "--out", str(tmp_path / "k")]) == 1
    line = _one_error_line(capsys.readouterr().err, "fit-kinetics")
    assert str(empty) in line and "empty file" in line
    assert not (tmp_path / "k").exists()


@pytest.mark.parametrize(
    "exc",
    [
        OverflowError("(34, 'Numerical result out of range')"),
        RuntimeError("boom"),
        MemoryError(),
        RecursionError("maximum recursion depth exceeded"),
    ],
    ids=["overflow", "unforeseen", "memory", "recursion"],
)
def test_unforeseen_failures_are_one_line(
    exc: BaseException, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import nanoalloy.commands.mz as mz_command

    def explode(args: object) -> int:
        raise exc

    monkeypatch.setattr(mz_command, "run", explode)
    monkeypatch.delenv("NANOALLOY_DEBUG", raising=False)
    assert cli.main(["mz", "Au25(PET)18"]) == 1
    _one_error_line(capsys.readouterr().err, "mz")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["assign", "x.csv", "--scan", "not-a-number"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        cli.main(["batch", "x.csv", "--out", "o", "--worker-timeout", "soon"])
    assert info.value.code == 2


def test_columns_option_picks_and_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "four.csv"
    path.write_text("a,b,c,d\n100.1,5,7,9\n100.2,6,9,1\n100.3,6,1,4\n")
    assert cli.main(["info", str(path)]) == 1
    assert "--columns MZ,INTENSITY" in _one_error_line(capsys.readouterr().err, "info")
    assert cli.main(["info", str(path), "--columns", "1,3", "--json"]) == 0
    [scan] = json.loads(capsys.readouterr().out)
    assert scan["n_points"] == 3 and scan["tic"] == 17.0 and scan["base_peak_mz"] == 100.2
    assert cli.main(["info", str(path), "--columns", "a,d", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["tic"] == 14.0
    assert cli.main(["info", str(path), "--columns", "1,9"]) == 1
    assert "has 4 columns" in _one_error_line(capsys.readouterr().err, "info")
    assert cli.main(["info", str(path), "--columns", "mz"]) == 2  # the option's own syntax
    assert "two 1-based column numbers" in _one_error_line(capsys.readouterr().err, "info")


def test_sigterm_removes_the_staging_folder_and_exits_143(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import nanoalloy.commands.mz as mz_command
    from nanoalloy.output import atomic_dir

    out = tmp_path / "out"

    def killed_while_writing(args: object) -> int:
        with atomic_dir(out) as stage:
            (stage / "half.csv").write_text("half")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the signal arrives before this ends
        return 0

    monkeypatch.setattr(mz_command, "run", killed_while_writing)
    before = signal.getsignal(signal.SIGTERM)
    assert cli.main(["mz", "Au25(PET)18"]) == 143
    assert capsys.readouterr().err.strip() == "nanoalloy: terminated"
    assert not out.exists() and not list(tmp_path.iterdir())
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back


def test_batch_removes_parts_of_killed_runs(
    spectra_free_dir: None = None, *, tmp_path: Path
) -> None:
    from nanoalloy.output import clean_stale_parts_in

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    (tmp_path / "spectra").mkdir()
    stale = tmp_path / "spectra" / f".s01-abcdef12-123456.{pid}-q9w8.part"
    stale.mkdir()
    live = tmp_path / "spectra" / f".s02-abcdef12-123456.{os.getpid()}-q9w8.part"
    live.mkdir()
    assert clean_stale_parts_in(tmp_path / "spectra") == [stale]
    assert not stale.exists() and live.exists()


def test_a_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --no-prior name (or command, or a missing argument) printed argparse's
    whole usage block, eight lines, before the error; now the one line and exit 2."""
    from nanoalloy.cli import main

    for argv in (["assign", "x.csv", "--no-prior", "bogus"], ["bogus"], ["assign"]):
        with pytest.raises(SystemExit) as err:
            main(argv)
        assert err.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and "error:" in lines[0] and "--help" in lines[0]


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("simulate", ["--ratio", "3:1"]),
        ("series", ["spec.csv"]),
        ("demo", []),
        ("batch", ["spec.csv"]),
        ("pattern", ["[Au25(PET)18]-"]),
    ],
)
def test_an_out_that_cannot_be_written_is_refused_before_any_work(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    extra: list[str],
) -> None:
    """A file where a folder of --out should be, or a folder without write permission:
    one line naming it before the work (the errno line came after the whole computation)."""
    import importlib

    mod = importlib.import_module(f"nanoalloy.commands.{command.replace('-', '_')}")

    def never(args: object) -> int:
        raise AssertionError("the command ran although --out cannot be written")

    monkeypatch.setattr(mod, "run", never)
    monkeypatch.chdir(tmp_path)
    Path("spec.csv").write_text("m/z,intensity\n1000,1\n1001,2\n1002,1\n")
    Path("taken").write_text("a file where the output's folder should be")
    out = str(Path("taken") / "sub" / ("x.csv" if command == "pattern" else "out"))
    assert cli.main([command, *extra, "--out", out]) == 1
    line = _one_error_line(capsys.readouterr().err, command)
    assert "cannot write" in line and "taken' is a file, not a folder" in line
    # no permission to write in the parent (root ignores file modes: os.access stands in)
    Path("locked").mkdir()
    real_access = os.access

    def access(path: object, mode: int, **kw: object) -> bool:
        if Path(str(path)).name == "locked":
            return False
        return real_access(path, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    out = str(Path("locked") / ("x.csv" if command == "pattern" else "out"))
    assert cli.main([command, *extra, "--out", out]) == 1
    line = _one_error_line(capsys.readouterr().err, command)
    assert "no permission to write in folder" in line and "locked" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locked", "spec.csv", "taken"]
    assert list(Path("locked").iterdir()) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["assign", "x.csv", "--resolution", "50"],
        ["assign", "x.csv", "--baseline-knot", "nan"],
        ["assign", "x.csv", "--columns", "1"],
        ["uvvis", "x.csv", "--window", "0", "--out", "o"],
        ["uvvis", "x.csv", "--range", "900", "300", "--out", "o"],
        ["msms", "--precursor", "[Au25(PET)18]-", "--max-neutral", "-5", "--out", "o"],
        ["pattern", "[Au25(PET)18]-", "--resolution", "0", "--out", "p.csv"],
        ["simulate", "--ratio", "3:1", "--hours", "-1", "--out", "o"],
        ["simulate", "--ratio", "3:1", "--add", "30h:Ag44=1", "--out", "o"],
        ["sweep", "--ratios", "1:0", "--out", "o"],
        ["preset", "check", "au25-sr18", "--mz", "100:50"],
        ["preset", "new", "[Au25(PET)18]-", "--dope", "Ag:4-0", "--out", "p.toml"],
        ["fit-kinetics", "x.csv", "--starts", "0", "--out", "o"],
        ["batch", "x.csv", "--worker-timeout", "0", "--out", "o"],
        ["demo", "--workers", "0", "--out", "o"],
        ["serve", "--workers", "0"],
    ],
)
def test_an_option_out_of_range_exits_2_like_argparse(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    """``--resolution abc`` exited 2 (argparse) but ``--resolution 50`` 1, ``serve --port
    70000`` 2 but ``serve --workers 0`` 1: every option whose value is out of range or
    malformed is a usage error, exit 2, one line, nothing written."""
    monkeypatch.chdir(tmp_path)
    Path("x.csv").write_text("m/z,intensity\n1000,1\n1001,2\n1002,1\n")
    assert cli.main(argv) == 2
    line = _one_error_line(capsys.readouterr().err, argv[0])
    assert "--" in line or "ratio" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]


def test_a_single_valued_option_given_twice_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--preset au25-sr18 ... --preset au25ag-sr18`` assigned with the second preset,
    silently; two values of one option are a usage error. The same value twice, and
    repeatable options (--refs, --feed, --add), stay accepted."""
    for argv, flag in (
        (["assign", "x.csv", "--preset", "au25-sr18", "--preset=au25ag-sr18"], "--preset"),
        (["mz", "[Au25(SR)18]-", "--sr", "PET", "--sr", "p-MBA"], "--sr"),
        (["assign", "x.csv", "--scan", "0", "--scan", "1"], "--scan"),
        (["preset", "check", "au25-sr18", "--mz", "1000:2000", "--mz", "3000:4000"], "--mz"),
    ):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{flag} given twice" in err and "give it once" in err
    assert cli.main(["mz", "[Au25(SR)18]-", "--sr", "PET", "--sr", "PET"]) == 0
    out = tmp_path / "sim"
    argv = ["simulate", "--feed", "Au44=1", "--feed", "Ag44=1", "--hours", "0.1"]
    assert cli.main([*argv, "--no-report", "--out", str(out)]) == 0
