"""Test configuration: make the shared strategies importable and locate shared data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nanoalloy.chem.isotopes import isospec

sys.path.insert(0, str(Path(__file__).parent))

# IsoSpecPy's cffi functions bound before any test (or finalizer) looks one up: the
# lazy lookup under cffi's lock deadlocked a full run once (see isotopes.isospec)
isospec()


def _shared() -> Path | None:
    here = Path(__file__).resolve()
    for base in (here.parents[1], *here.parents[2:4]):
        cand = base / "shared"
        if (cand / "DOMAIN.md").exists():
            return cand
    return None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's ../shared folder (skips the test where it is absent)."""
    p = _shared()
    if p is None:
        pytest.skip("../shared (real data) is not present beside this checkout")
    return p


REAL_NAME = "FLASHDeconv_sample_input1_CytC_ETD.mzML"


@pytest.fixture(scope="session")
def real_file(shared_dir: Path) -> Path:
    """The real cytochrome c Orbitrap mzML in ../shared/data/real (skips where absent)."""
    p = shared_dir / "data" / "real" / REAL_NAME
    if not p.exists():
        pytest.skip(f"real data file {REAL_NAME} not present in {p.parent}")
    return p


@pytest.fixture(autouse=True, scope="session")
def _cache_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The on-disk library cache lives in a session temp folder, never in ~/.cache."""
    import os

    os.environ["NANOALLOY_CACHE_DIR"] = str(tmp_path_factory.mktemp("nanoalloy-cache"))
