"""A tiny stand-in assigner for the series, report and batch tests.

Spectra are drawn with one Gaussian peak per species at ``mz = BASE[family] + 20 x``; the fake
assigner reads the peak heights back. Fast, deterministic, and independent of the real fitter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nanoalloy.ms.spectrum import Spectrum

BASE = {"M44S30": 1000.0, "M44S27": 2000.0, "M44S26": 3000.0}
LIG = {"M44S30": 30, "M44S27": 27, "M44S26": 26}
CHG = {"M44S30": -4, "M44S27": -3, "M44S26": -2}
GRID = np.arange(900.0, 4000.0, 0.5)


def make_spectrum(
    dist: dict[tuple[str, int], float], meta: dict[str, Any] | None = None
) -> Spectrum:
    """A spectrum with one peak per (family, x), height = weight."""
    y = np.full(GRID.size, 1e-4)
    for (fam, x), w in dist.items():
        y += w * np.exp(-0.5 * ((GRID - (BASE[fam] + 20 * x)) / 1.0) ** 2)
    return Spectrum(GRID, y, meta or {})


@dataclass
class FakeAssignment:
    species: pd.DataFrame
    ions: pd.DataFrame
    families: pd.DataFrame
    model: np.ndarray


def fake_assign(spectrum: Spectrum, /, *, preset: str = "auag44-pmba", **kw: Any) -> FakeAssignment:
    """Read peak heights at the species positions."""
    rows, ions = [], []
    for fam, base in BASE.items():
        for x in range(45):
            mz = base + 20 * x
            h = float(spectrum.intensity_at(np.array([mz]))[0])
            if h > 0.01:
                sp = f"Au{x}Ag{44 - x}(p-MBA){LIG[fam]}"
                rows.append(
                    {
                        "species": sp,
                        "family": fam,
                        "au": x,
                        "ag": 44 - x,
                        "ligands": LIG[fam],
                        "core_charge": CHG[fam],
                        "electrons": 44 - LIG[fam] - CHG[fam],
                        "abundance": h,
                        "abundance_sd": 0.01 * h,
                        "score": 10.0,
                    }
                )
                ions.append(
                    {
                        "ion": f"[{sp}]{-CHG[fam]}-",
                        "species": sp,
                        "charge": CHG[fam],
                        "mz": mz,
                        "ppm_error": 0.5,
                        "intensity": h,
                    }
                )
    rows.append(
        {
            "species": "Au1Ag1(p-MBA)3",
            "family": "complex",
            "au": 1,
            "ag": 1,
            "ligands": 3,
            "core_charge": -1,
            "electrons": 0,
            "abundance": 0.01,
            "abundance_sd": 0.0,
            "score": 1.0,
        }
    )
    sp = pd.DataFrame(rows)
    cl = sp["family"] != "complex"
    sp.loc[cl, "abundance"] /= sp.loc[cl, "abundance"].sum()
    fams = []
    for fam, part in sp[cl].groupby("family"):
        w = part["abundance"].to_numpy()
        mx = float((w * part["au"]).sum() / w.sum())
        fams.append(
            {
                "family": fam,
                "fraction": w.sum(),
                "mean_x": mx,
                "au_ag_ratio": mx / (44 - mx),
                "x90_low": int(part["au"].min()),
                "x90_high": int(part["au"].max()),
            }
        )
    return FakeAssignment(
        sp, pd.DataFrame(ions), pd.DataFrame(fams), np.asarray(spectrum.intensity) * 0.98
    )
