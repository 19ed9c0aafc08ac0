"""Test configuration: make the shared strategies importable and locate shared data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


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
