"""Assigners that fail on purpose, for the batch fault tests (importable by Dask workers).

A spectrum is marked as bad by a first intensity of exactly 7.
"""

from __future__ import annotations

from typing import Any

from _fake_assign import FakeAssignment, fake_assign
from nanoalloy.ms.spectrum import Spectrum


def picky_assign(spectrum: Spectrum, /, **kw: Any) -> FakeAssignment:
    """Like :func:`fake_assign`, but refuses marked spectra with a FitError."""
    from nanoalloy.errors import FitError

    if spectrum.intensity[0] == 7.0:
        raise FitError("no cluster ion fits this spectrum")
    return fake_assign(spectrum, **kw)


def crashing_assign(spectrum: Spectrum, /, **kw: Any) -> FakeAssignment:
    """Kills its worker process on marked spectra (as an out-of-memory kill would)."""
    import os

    if spectrum.intensity[0] == 7.0:
        os._exit(137)
    return fake_assign(spectrum, **kw)


def slow_assign(spectrum: Spectrum, /, **kw: Any) -> FakeAssignment:
    """:func:`fake_assign` after a pause of one second (time to kill the scheduler)."""
    import time

    time.sleep(1.0)
    return fake_assign(spectrum, **kw)
