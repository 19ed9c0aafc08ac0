"""The public API: ``__all__`` stays true and sorted; import stays light."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import nanoalloy
from nanoalloy import cli
from nanoalloy._shim import MOVED

MODULES = sorted(
    m.name.removeprefix("nanoalloy.")
    for m in pkgutil.walk_packages(nanoalloy.__path__, "nanoalloy.")
    if not any(p.startswith("_") for p in m.name.split(".")[1:])
    and ".commands" not in m.name
    and m.name.removeprefix("nanoalloy.") not in MOVED
)


def test_all_is_sorted_and_resolvable() -> None:
    assert nanoalloy.__all__ == sorted(nanoalloy.__all__)
    for name in nanoalloy.__all__:
        assert getattr(nanoalloy, name) is not None


@pytest.mark.parametrize("mod", MODULES)
def test_module_all_sorted_and_true(mod: str) -> None:
    m = importlib.import_module(f"nanoalloy.{mod}")
    names = list(m.__all__)
    assert names == sorted(names)
    for n in names:
        assert hasattr(m, n), f"{mod}.{n} listed in __all__ but missing"


def test_import_is_light() -> None:
    code = (
        "import sys, nanoalloy, nanoalloy.chem.formula;"
        "heavy = [m for m in ('pandas', 'matplotlib', 'plotly', 'dask') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_python_m_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "nanoalloy", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"nanoalloy {nanoalloy.__version__}"


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError):
        nanoalloy.no_such_thing  # noqa: B018


def test_cli_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["mz"])
    assert info.value.code == 2


def test_cli_bad_formula_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["mz", "[Au44(p-MBA)26"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unbalanced '['" in err and "Traceback" not in err


def test_lazy_table_matches_all() -> None:
    assert sorted([*nanoalloy._LAZY, "__version__"]) == nanoalloy.__all__


def test_cli_closed_pipe_is_quiet(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `nanoalloy info FILE | head -1`: the reader leaves; no traceback, no error line
    mz_command = importlib.import_module("nanoalloy.commands.mz")

    def run(args: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(mz_command, "run", run)
    assert cli.main(["mz", "[Ag44(p-MBA)30]4-"]) == 1
    assert capsys.readouterr().err == ""
