"""Composition summaries: per-family x distributions, Au/Ag ratios, electron counts.

Works on species tables (pandas DataFrames with at least ``family``, ``x`` or
``au`` (x is the family's axis: the first metal's count in the Au/Ag presets, the
dopant, incoming ligand or hydride count in others), ``abundance``; ``ag``, ``ligands``, ``core_charge`` or ``electrons`` where
electron counts are wanted), as written by ``nanoalloy assign`` (``species.csv``),
by :func:`nanoalloy.ms.synth.synthesize` (``truth``) or by the kinetics simulator.
Rows of family ``fragment`` or ``complex`` are never part of a cluster
distribution.

Contents
--------
NON_CLUSTER
    Family labels that are not cluster families (``fragment``, ``complex``).
FAMILY_COLUMNS
    Columns of :func:`family_table`.
x_distribution
    Normalised abundance over x (``x`` column, else ``au``) for one family.
family_fractions
    Share of the cluster signal held by each family.
mean_x, au_ag_ratio, x_range
    Mean x, mean Au/Ag atom ratio and the central x range holding a given mass.
mean_electrons
    Abundance-weighted valence electron count.
total_variation
    Total-variation distance between two distributions (dicts or Series).
family_table
    One row per family: ``family,fraction,mean_x,au_ag_ratio,x90_low,x90_high,mean_electrons``.
summarize_series
    One row per (point, family) for a sequence of labelled species tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FAMILY_COLUMNS",
    "NON_CLUSTER",
    "au_ag_ratio",
    "family_fractions",
    "family_table",
    "mean_electrons",
    "mean_x",
    "summarize_series",
    "total_variation",
    "x_distribution",
    "x_range",
]

NON_CLUSTER = frozenset({"fragment", "complex"})
"""Family labels that are not cluster families."""

FAMILY_COLUMNS = (
    "family",
    "fraction",
    "mean_x",
    "au_ag_ratio",
    "x90_low",
    "x90_high",
    "mean_electrons",
)
"""Columns of :func:`family_table`, in order."""


def _clusters(species: pd.DataFrame) -> pd.DataFrame:
    if species.empty or "family" not in species.columns:
        return species.iloc[0:0]
    return species[~species["family"].isin(NON_CLUSTER)]


def x_distribution(
    species: pd.DataFrame, family: str, /, *, column: str = "abundance"
) -> pd.Series:
    """Abundance over x (``x`` column, else ``au``) of one family, normalised to sum to 1.

    Returns an empty Series when the family holds no signal.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"family": ["M44S30"] * 2, "au": [11, 12], "abundance": [0.1, 0.3]})
    >>> x_distribution(df, "M44S30").round(6).to_dict()
    {11: 0.25, 12: 0.75}
    """
    part = species[species["family"] == family]
    s = part.groupby("x" if "x" in part.columns else "au")[column].sum().astype(float)
    s.index = s.index.astype(int)
    total = float(s.sum())
    if total <= 0:
        return s.iloc[0:0]
    return s / total


def family_fractions(species: pd.DataFrame, /, *, column: str = "abundance") -> dict[str, float]:
    """Share of the cluster signal in each family (fragments and complexes excluded).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"family": ["M44S30", "M44S27", "complex"], "au": [1, 20, 1],
    ...                    "abundance": [0.3, 0.1, 0.5]})
    >>> {k: round(v, 6) for k, v in family_fractions(df).items()}
    {'M44S27': 0.25, 'M44S30': 0.75}
    """
    cl = _clusters(species)
    s = cl.groupby("family")[column].sum().astype(float)
    total = float(s.sum())
    if total <= 0:
        return {}
    return {str(k): float(v) / total for k, v in s.items()}


def mean_x(dist: pd.Series | Mapping[int, float], /) -> float:
    """Mean x of a distribution over x (NaN when empty)."""
    items = _items(dist)
    w = sum(v for _, v in items)
    if w <= 0:
        return math.nan
    return sum(k * v for k, v in items) / w


def au_ag_ratio(dist: pd.Series | Mapping[int, float], /, *, n_metals: int = 44) -> float:
    """Mean Au/Ag atom ratio: mean x over mean (n_metals - x); inf for pure Au."""
    mx = mean_x(dist)
    if math.isnan(mx):
        return math.nan
    rest = n_metals - mx
    return math.inf if rest <= 0 else mx / rest


def x_range(dist: pd.Series | Mapping[int, float], /, *, mass: float = 0.9) -> tuple[int, int]:
    """Central x range holding at least ``mass`` of the distribution.

    Equal tails are cut from both ends: the lowest x whose cumulative share
    exceeds ``(1 - mass) / 2`` and the highest x below ``1 - (1 - mass) / 2``.

    Examples
    --------
    >>> x_range({9: 0.02, 10: 0.3, 11: 0.5, 12: 0.15, 13: 0.03})
    (10, 12)
    """
    items = sorted(_items(dist))
    if not items:
        return (-1, -1)
    xs = np.array([k for k, _ in items])
    w = np.array([v for _, v in items], dtype=float)
    w = w / w.sum()
    tail = (1.0 - mass) / 2.0
    c = np.cumsum(w)
    lo = int(xs[int(np.searchsorted(c, tail, side="right"))])
    c_rev = np.cumsum(w[::-1])
    hi = int(xs[::-1][int(np.searchsorted(c_rev, tail, side="right"))])
    return (min(lo, hi), max(lo, hi))


def _items(dist: pd.Series | Mapping[int, float]) -> list[tuple[int, float]]:
    return [(int(k), float(v)) for k, v in dist.items() if float(v) > 0]


def mean_electrons(species: pd.DataFrame, /, *, column: str = "abundance") -> float:
    """Abundance-weighted valence electron count of the cluster species.

    Uses an ``electrons`` column when present, else ``au + ag - ligands - core_charge``
    (one-electron metals and ligands only).
    """
    cl = _clusters(species)
    if cl.empty:
        return math.nan
    if "electrons" in cl.columns:
        e = cl["electrons"].astype(float)
    else:
        e = (cl["au"] + cl["ag"] - cl["ligands"] - cl["core_charge"]).astype(float)
    w = cl[column].astype(float)
    total = float(w.sum())
    return float((e * w).sum() / total) if total > 0 else math.nan


def total_variation(
    p: pd.Series | Mapping[int, float], q: pd.Series | Mapping[int, float], /
) -> float:
    """Total-variation distance ``0.5 * sum |p - q|`` between two distributions.

    Both are normalised first; an empty distribution counts as all-zero.

    Examples
    --------
    >>> total_variation({1: 0.5, 2: 0.5}, {2: 0.5, 3: 0.5})
    0.5
    """
    a = dict(_items(p))
    b = dict(_items(q))
    sa, sb = sum(a.values()), sum(b.values())
    keys = set(a) | set(b)
    return 0.5 * sum(
        abs((a.get(k, 0.0) / sa if sa else 0.0) - (b.get(k, 0.0) / sb if sb else 0.0)) for k in keys
    )


def family_table(
    species: pd.DataFrame,
    /,
    *,
    column: str = "abundance",
    n_metals: int | Mapping[str, int] = 44,
) -> pd.DataFrame:
    """One row per cluster family with its share and composition summary.

    Columns are :data:`FAMILY_COLUMNS`; ``fraction`` sums to 1 over families.
    ``au_ag_ratio`` is the abundance-weighted Au/Ag atom ratio from the ``au`` and
    ``ag`` columns when both are there (NaN without either metal), else mean x /
    (``n_metals`` - mean x), ``n_metals`` being one count or one per family.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"family": ["M44S30"] * 2, "au": [11, 12], "ag": [33, 32],
    ...                    "ligands": [30, 30], "core_charge": [-4, -4], "abundance": [0.5, 0.5]})
    >>> family_table(df)[["family", "fraction", "mean_x", "x90_low", "x90_high"]].values.tolist()
    [['M44S30', 1.0, 11.5, 11, 12]]
    """
    import pandas as pd

    rows = []
    fractions = family_fractions(species, column=column)
    for fam, frac in sorted(fractions.items()):
        dist = x_distribution(species, fam, column=column)
        lo, hi = x_range(dist)
        part = species[species["family"] == fam]
        ratio = au_ag_ratio(
            dist, n_metals=n_metals if isinstance(n_metals, int) else n_metals.get(fam, 44)
        )
        if {"au", "ag"} <= set(part.columns):  # counted atoms: right for any preset
            w = part[column].astype(float)
            au, ag = float((w * part["au"]).sum()), float((w * part["ag"]).sum())
            ratio = au / ag if ag > 0 else (math.inf if au > 0 else math.nan)
        rows.append(
            {
                "family": fam,
                "fraction": frac,
                "mean_x": mean_x(dist),
                "au_ag_ratio": ratio,
                "x90_low": lo,
                "x90_high": hi,
                "mean_electrons": mean_electrons(part, column=column),
            }
        )
    return pd.DataFrame(rows, columns=list(FAMILY_COLUMNS))


def summarize_series(
    tables: Iterable[tuple[str, pd.DataFrame]], /, *, column: str = "abundance"
) -> pd.DataFrame:
    """Family summaries of several labelled species tables, stacked with a ``label`` column.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"family": ["M44S30"], "au": [12], "ag": [32], "ligands": [30],
    ...                    "core_charge": [-4], "abundance": [1.0]})
    >>> summarize_series([("1:3", df)])[["label", "family", "mean_x"]].values.tolist()
    [['1:3', 'M44S30', 12.0]]
    """
    import pandas as pd

    parts = []
    for label, table in tables:
        t = family_table(table, column=column)
        t.insert(0, "label", label)
        parts.append(t)
    if not parts:
        return pd.DataFrame(columns=["label", *FAMILY_COLUMNS])
    return pd.concat(parts, ignore_index=True)
