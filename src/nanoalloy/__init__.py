"""nanoalloy: atomically precise alloy nanoclusters, from notation to reaction.

Import is light: heavy modules (plotting, pandas, dask) load inside the
functions that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
