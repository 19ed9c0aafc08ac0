"""Accuracy sweep: ``assign`` on random synthetic spectra, scored like issue 3's acceptance.

Run ``python scripts/assign_sweep.py`` (``--seed S`` for another draw, ``--reps N``
for N rounds of the five kinds). Each case draws a smooth x distribution per
family (a Gaussian over a window: Ag-rich M44S30, evenly mixed M44S27, Au-rich
M44S26, all three, or M44S30 + M44S27), family weights, resolving power
15,000-30,000, calibration error -20..20 ppm with a slope of -5..5 ppm per
1000 m/z, and either the kind's own m/z window or 400-4500, then synthesises a
spectrum (:func:`nanoalloy.ms.synth.synthesize`: charge and Na+ ladders, Cl
shells, fragments, complexes, baseline, Poisson and Gaussian noise) and
assigns it blind (preset ``auag44-pmba``). A case passes when every family's x
distribution comes back within total variation 0.05 and every family fraction
(decoy families included) within 0.03. One line per case, failures with their
populations, and the pass count last.

This is a harder test than the four fixed scenarios of ``tests/test_assign.py``
(wider calibration slopes, whole-range spectra, random shapes); it is a
script, not a test, because its pass rate is a figure to improve, not a
contract. Measured on 2026-12-02: see the README's performance section.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd


def _gauss(rng: np.random.Generator, lo: int, hi: int) -> dict[int, float]:
    xs = np.arange(lo, hi + 1)
    w = np.exp(-0.5 * ((xs - rng.uniform(lo, hi)) / rng.uniform(0.8, 2.0)) ** 2)
    w /= w.sum()
    return {int(x): float(v) for x, v in zip(xs, w, strict=True) if v > 0.01}


KINDS = {
    # kind: (families and x windows, own m/z window)
    "ag_rich": ({"M44S30": (8, 13)}, (1700.0, 2800.0)),
    "even": ({"M44S27": (17, 25)}, (2500.0, 3900.0)),
    "au_rich": ({"M44S26": (38, 44)}, (1500.0, 2300.0)),
    "three": ({"M44S30": (8, 13), "M44S27": (18, 24), "M44S26": (39, 44)}, (1500.0, 3900.0)),
    "two": ({"M44S30": (4, 14), "M44S27": (14, 28)}, (1500.0, 3900.0)),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=8)
    args = parser.parse_args(argv)

    from nanoalloy.ms.assign import assign
    from nanoalloy.ms.composition import family_fractions, total_variation, x_distribution
    from nanoalloy.ms.synth import synthesize

    rng = np.random.default_rng(args.seed)
    passed = total = 0
    for _ in range(args.reps):
        for kind, (windows, own_range) in KINDS.items():
            pops = {}
            for fam, (lo, hi) in windows.items():
                scale = rng.uniform(0.5, 1.5) if len(windows) > 1 else 1.0
                pops[fam] = {x: w * scale for x, w in _gauss(rng, lo, hi).items()}
            resolution = float(rng.choice([15_000, 20_000, 25_000, 30_000]))
            cal, slope = float(rng.uniform(-20, 20)), float(rng.uniform(-5, 5))
            mz_range = own_range if rng.random() < 0.5 else (400.0, 4500.0)
            seed = int(rng.integers(1_000_000))
            rows = [(f, x, w) for f, d in pops.items() for x, w in d.items()]
            t0 = time.perf_counter()
            syn = synthesize(
                pd.DataFrame(rows, columns=["family", "au", "fraction"]),
                mz_range=mz_range,
                resolution=resolution,
                calibration_ppm=cal,
                calibration_slope_ppm=slope,
                seed=seed,
            )
            res = assign(syn.spectrum)
            truth, got = family_fractions(syn.truth), family_fractions(res.species)
            tv = {
                f: total_variation(x_distribution(res.species, f), x_distribution(syn.truth, f))
                for f in truth
            }
            frac = {f: abs(got.get(f, 0.0) - truth.get(f, 0.0)) for f in set(truth) | set(got)}
            ok = max(tv.values()) <= 0.05 and max(frac.values()) <= 0.03
            total += 1
            passed += ok
            print(
                f"{'ok  ' if ok else 'FAIL'} {kind:8s} R={resolution:.0f} "
                f"cal={cal:+.1f} ppm {slope:+.1f}/1000 m/z={mz_range} seed={seed} "
                f"({time.perf_counter() - t0:.1f} s) R2={res.r2:.4f} "
                f"max TV {max(tv.values()):.3f} max dfrac {max(frac.values()):.3f}",
                flush=True,
            )
            if not ok:
                shown = {f: {x: round(w, 3) for x, w in d.items()} for f, d in pops.items()}
                print(f"     populations {shown}", flush=True)
    print(f"passed {passed} of {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
