"""The loop closes: simulate -> synth -> assign returns the simulated distribution.

The strongest end-to-end test the project has (DESIGN.md): a simulated reaction
becomes a realistic ESI spectrum (charge and Na ladders, Cl shells, fragments,
complexes, calibration error, noise), the spectrum is assigned as if measured,
and the populations come back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nanoalloy.kinetics import simulate
from nanoalloy.ms.assign import assign
from nanoalloy.ms.synth import synthesize

FAMILIES = ["M44S30", "M44S27", "M44S26"]


def _distribution(table: pd.DataFrame, family: str, column: str) -> pd.Series:
    s = table[table.family == family].groupby("au")[column].sum()
    return s.reindex(range(45), fill_value=0.0)


def _total_variation(p: pd.Series, q: pd.Series) -> float:
    return 0.5 * float(np.abs(p / p.sum() - q / q.sum()).sum())


@pytest.mark.parametrize(
    ("feed", "mz_range"),
    [
        ({"Au44": 1, "Ag44": 3}, (2380.0, 2720.0)),  # M44S30 4- ladder
        ({"Au44": 3, "Ag44": 1}, (1850.0, 2350.0)),  # M44S26 6-/7- and M44S27 4- ladders
    ],
)
def test_simulate_synth_assign_round_trip(
    feed: dict[str, float], mz_range: tuple[float, float]
) -> None:
    sim = simulate(feed, hours=20.0)
    final = sim.final[sim.final.fraction > 1e-4]
    syn = synthesize(final, mz_range=mz_range, resolution=20_000, seed=11, calibration_ppm=12.0)
    got = assign(syn.spectrum).species
    got = got[got.family.isin(FAMILIES)]
    truth = syn.truth[syn.truth.family.isin(FAMILIES)]
    for fam in FAMILIES:
        share_true = float(truth.loc[truth.family == fam, "abundance"].sum())
        share_got = float(got.loc[got.family == fam, "abundance"].sum())
        assert share_got == pytest.approx(share_true, abs=0.03), fam
        if share_true > 0.05:
            tv = _total_variation(
                _distribution(truth, fam, "abundance"), _distribution(got, fam, "abundance")
            )
            assert tv <= 0.05, (fam, tv)
    # and the truth itself is the simulated final distribution (pooled over ion forms)
    main = max(FAMILIES, key=lambda f: final.loc[final.family == f, "fraction"].sum())
    tv_sim = _total_variation(
        _distribution(final, main, "fraction"), _distribution(got, main, "abundance")
    )
    assert tv_sim <= 0.05
