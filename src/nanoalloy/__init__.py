"""nanoalloy: atomically precise alloy nanoclusters, from notation to reaction.

The names below are loaded lazily, so ``import nanoalloy`` stays fast; heavy
dependencies (pandas, matplotlib, plotly, dask) load inside the functions that
need them.

Examples
--------
>>> import nanoalloy as na
>>> na.parse("[Ag44(p-MBA)30]4-").electrons
18
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# public name -> module that defines it
_LAZY = {
    "Assignment": "ms.assign",
    "Ion": "chem.formula",
    "Pattern": "chem.isotopes",
    "Series": "results.series",
    "Spectrum": "ms.spectrum",
    "aggregated_pattern": "chem.isotopes",
    "assign": "ms.assign",
    "enumerate_candidates": "ms.library",
    "fine_pattern": "chem.isotopes",
    "load_preset": "ms.library",
    "make_ion": "chem.formula",
    "parse": "chem.formula",
    "read": "ms.io",
    "run_batch": "batch",
    "run_demo": "demo",
    "run_series": "results.series",
    "simulate": "kinetics",
    "synthesize": "ms.synth",
    "write_report": "results.report",
}

__all__ = [
    "Assignment",
    "Ion",
    "Pattern",
    "Series",
    "Spectrum",
    "__version__",
    "aggregated_pattern",
    "assign",
    "enumerate_candidates",
    "fine_pattern",
    "load_preset",
    "make_ion",
    "parse",
    "read",
    "run_batch",
    "run_demo",
    "run_series",
    "simulate",
    "synthesize",
    "write_report",
]

if TYPE_CHECKING:  # pragma: no cover
    from .batch import run_batch
    from .chem.formula import Ion, make_ion, parse
    from .chem.isotopes import Pattern, aggregated_pattern, fine_pattern
    from .demo import run_demo
    from .kinetics import simulate
    from .ms.assign import Assignment, assign
    from .ms.io import read
    from .ms.library import enumerate_candidates, load_preset
    from .ms.spectrum import Spectrum
    from .ms.synth import synthesize
    from .results.report import write_report
    from .results.series import Series, run_series


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'nanoalloy' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
