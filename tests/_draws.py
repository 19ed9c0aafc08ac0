"""The populations a script drew (``scripts/assign_midwindows.py``, ``assign_sweep.py``),
written into a test at full precision, as the table ``synthesize`` takes."""

from __future__ import annotations

import pandas as pd


def populations(weights: dict[str, list[float]], first: dict[str, int]) -> pd.DataFrame:
    """``family, au, fraction`` rows: each family's weights from x = ``first[family]`` up."""
    rows = [(f, first[f] + i, w) for f, ws in weights.items() for i, w in enumerate(ws)]
    return pd.DataFrame(rows, columns=["family", "au", "fraction"])
