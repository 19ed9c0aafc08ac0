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

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "Assignment": "assignment",
    "Ion": "formula",
    "Pattern": "isotopes",
    "Series": "series",
    "Spectrum": "spectrum",
    "aggregated_pattern": "isotopes",
    "assign": "assignment",
    "enumerate_candidates": "library",
    "fine_pattern": "isotopes",
    "load_preset": "library",
    "make_ion": "formula",
    "parse": "formula",
    "read": "io",
    "run_batch": "batch",
    "run_demo": "demo",
    "run_series": "series",
    "simulate": "kinetics",
    "synthesize": "synth",
    "write_report": "report",
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
    from .assignment import Assignment, assign
    from .batch import run_batch
    from .demo import run_demo
    from .formula import Ion, make_ion, parse
    from .io import read
    from .isotopes import Pattern, aggregated_pattern, fine_pattern
    from .kinetics import simulate
    from .library import enumerate_candidates, load_preset
    from .report import write_report
    from .series import Series, run_series
    from .spectrum import Spectrum
    from .synth import synthesize


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'nanoalloy' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
