"""Coverage of the assigner's uncertainty: is the truth within +-2 sd in >= 90 % of cases?

Run ``python scripts/assign_coverage.py`` (``--draws N`` noise draws per scenario,
``--seed S``). Each scenario is one population table rendered by
:func:`nanoalloy.ms.synth.synthesize` with fixed instrument settings; only the noise
seed changes between draws. Every draw is assigned (preset ``auag44-pmba``) and
compared with the synthesizer's truth:

- species: every species the assigner reports, plus every true species holding
  >= 2 % of the cluster signal that it misses (a miss counts as not covered), is a
  case; covered when ``|abundance - truth| <= 2 abundance_sd``;
- families: every family reported or true (>= 2 %) is a case; covered when
  ``|fraction - truth| <= 2 fraction_sd``.

Prints one line per scenario and the coverage figures last. Importable:
``from assign_coverage import coverage`` (``scripts/assign_sweep.py`` calls it).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import pandas as pd

SCENARIOS: dict[str, dict[str, Any]] = {
    # Ag-rich M44S30 with Cl shells, a calibration error, full 4-/5- window
    "ag_rich": dict(
        pops={"M44S30": {9: 0.2, 10: 0.3, 11: 0.3, 12: 0.2}},
        mz_range=(1700.0, 2800.0),
        resolution=15_000.0,
        calibration_ppm=12.0,
    ),
    # evenly mixed M44S27 (the Au/Ag-against-Na+/H+ near-isobars of one family)
    "even": dict(
        pops={"M44S27": {19: 0.15, 20: 0.3, 21: 0.3, 22: 0.15, 23: 0.1}},
        mz_range=(2500.0, 3900.0),
        resolution=20_000.0,
        calibration_ppm=-8.0,
    ),
    # two families, overlapping in m/z
    "two": dict(
        pops={"M44S30": {10: 0.2, 11: 0.3, 12: 0.2}, "M44S27": {20: 0.15, 21: 0.15}},
        mz_range=(1500.0, 3900.0),
        resolution=20_000.0,
        calibration_ppm=5.0,
    ),
    # Au-rich M44S26 with deep Na+ ladders, low resolving power
    "au_rich": dict(
        pops={"M44S26": {40: 0.2, 41: 0.35, 42: 0.3, 43: 0.15}},
        mz_range=(1500.0, 2300.0),
        resolution=12_000.0,
        calibration_ppm=-3.0,
    ),
}
"""Scenario name -> populations (family -> x -> weight) and synthesizer settings."""

MIN_TRUTH = 0.02
"""True species/families below this share are not counted when missed."""


def _draw(spec: dict[str, Any], seed: int) -> tuple[Any, Any]:
    from nanoalloy.ms.synth import synthesize

    rows = [(f, x, w) for f, d in spec["pops"].items() for x, w in d.items()]
    kw = {k: v for k, v in spec.items() if k != "pops"}
    return synthesize(pd.DataFrame(rows, columns=["family", "au", "fraction"]), seed=seed, **kw), kw


def _cases(res: Any, truth: pd.DataFrame) -> tuple[list[bool], list[bool]]:
    """Covered flags of the species and family cases of one assignment."""
    t = truth[~truth["family"].isin(["fragment", "complex"])]
    t_sp = dict(zip(t["species"], t["abundance"], strict=True))
    t_fam = t.groupby("family")["abundance"].sum().to_dict()
    sp = res.species[~res.species["family"].isin(["fragment", "complex"])]
    species: list[bool] = []
    seen = set()
    for name, ab, sd in zip(sp["species"], sp["abundance"], sp["abundance_sd"], strict=True):
        seen.add(name)
        species.append(abs(float(ab) - t_sp.get(name, 0.0)) <= 2.0 * float(sd) + 1e-9)
    species += [False for name, v in t_sp.items() if name not in seen and v >= MIN_TRUTH]
    fams: list[bool] = []
    got = dict(zip(res.families["family"], res.families["fraction"], strict=True))
    sds = dict(zip(res.families["family"], res.families["fraction_sd"], strict=True))
    for fam in set(got) | {f for f, v in t_fam.items() if v >= MIN_TRUTH}:
        err = abs(float(got.get(fam, 0.0)) - float(t_fam.get(fam, 0.0)))
        fams.append(fam in got and err <= 2.0 * float(sds[fam]) + 1e-9)
    return species, fams


def coverage(
    scenarios: dict[str, dict[str, Any]] | None = None,
    *,
    draws: int = 6,
    seed: int = 1,
    verbose: bool = True,
) -> dict[str, float]:
    """Share of cases where the truth lies within +-2 sd, over noise draws of each scenario.

    Returns ``{"species": ..., "families": ..., "n_species": ..., "n_families": ...}``.
    """
    from nanoalloy.ms.assign import assign

    rng = np.random.default_rng(seed)
    all_sp: list[bool] = []
    all_fam: list[bool] = []
    for name, spec in (scenarios or SCENARIOS).items():
        sp_cov: list[bool] = []
        fam_cov: list[bool] = []
        for _ in range(draws):
            syn, kw = _draw(spec, int(rng.integers(1_000_000)))
            res = assign(syn.spectrum)
            s, f = _cases(res, syn.truth)
            sp_cov += s
            fam_cov += f
        if verbose:
            print(
                f"{name:8s} species {np.mean(sp_cov) if sp_cov else float('nan'):.3f} "
                f"({len(sp_cov)} cases)  families "
                f"{np.mean(fam_cov) if fam_cov else float('nan'):.3f} ({len(fam_cov)} cases)",
                flush=True,
            )
        all_sp += sp_cov
        all_fam += fam_cov
    return {
        "species": float(np.mean(all_sp)) if all_sp else float("nan"),
        "families": float(np.mean(all_fam)) if all_fam else float("nan"),
        "n_species": float(len(all_sp)),
        "n_families": float(len(all_fam)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--draws", type=int, default=6, help="noise draws per scenario")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.draws < 1:
        print("assign_coverage: --draws must be >= 1", file=sys.stderr)
        return 2
    cov = coverage(draws=args.draws, seed=args.seed)
    print(
        f"coverage at +-2 sd: species {cov['species']:.3f} ({int(cov['n_species'])} cases), "
        f"families {cov['families']:.3f} ({int(cov['n_families'])} cases)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
