"""Benchmark: aggregated isotope patterns of the whole issue-2 candidate family.

Family: M44 cores with x = 0..44 Au (rest Ag), three p-MBA shells (SR = C7H5O2S)
with their core charges ((SR)30 4-, (SR)27 3-, (SR)26 2-), 0-3 Cl replacing SR,
ion charges 2- to 8-, 0-20 Na; protons removed h = nNa + |z| - |core charge|,
kept when 0 <= h <= number of p-MBA ligands (infeasible ions are skipped).

Ours: ``nanoalloy.chem.isotopes.batch_patterns`` (coverage 0.9999) on every ion.
Peer: a per-ion loop of IsoSpecPy ``IsoTotalProb(0.9999)`` fine structure,
aggregated to nominal shifts exactly as ours (probability sum and
probability-weighted mean mass per shift). When the full peer loop would take
longer than 60 s it runs on a seeded random subsample and its time is
extrapolated per ion (the script says so). The accuracy figure is the largest
absolute per-shift probability difference over the ions the peer computed.

Usage::

    python benchmarks/isotopes.py [--quick]

The last line is ``ratio: N`` (peer time / our time).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

import IsoSpecPy
import numpy as np
from IsoSpecPy import PeriodicTbl

from nanoalloy.chem import isotopes
from nanoalloy.chem.isotopes import ELECTRON_MASS, Pattern, batch_patterns, isospec

isospec()  # cffi functions bound before use (see nanoalloy.chem.isotopes.isospec)

SHELLS = {30: 4, 27: 3, 26: 2}  # ligands -> |core charge|
PEER_BUDGET_S = 60.0


def family(quick: bool) -> tuple[list[dict[str, int]], list[int]]:
    """Compositions and charges of the candidate family."""
    xs = range(0, 45, 11) if quick else range(45)
    nas = range(0, 21, 5) if quick else range(21)
    comps: list[dict[str, int]] = []
    charges: list[int] = []
    for x in xs:
        for shell, core in SHELLS.items():
            for cl in range(4):
                sr = shell - cl
                for z in range(2, 9):
                    for na in nas:
                        h = na + z - core
                        if not 0 <= h <= sr:
                            continue
                        comp = {"Au": x, "Ag": 44 - x, "C": 7 * sr, "H": 5 * sr - h}
                        comp |= {"O": 2 * sr, "S": sr, "Cl": cl, "Na": na}
                        comps.append(comp)
                        charges.append(-z)
    return comps, charges


def lightest_mass(comp: dict[str, int]) -> float:
    return sum(n * min(PeriodicTbl.symbol_to_masses[s]) for s, n in comp.items() if n)


def peer_pattern(comp: dict[str, int], charge: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IsoSpecPy fine structure at 99.99 %, aggregated by nominal shift: (shift, probability, m/z)."""
    formula = {s: n for s, n in comp.items() if n}
    dist = IsoSpecPy.IsoTotalProb(0.9999, formula=formula)
    masses, probs = dist.np_masses(), dist.np_probs()
    shift = np.rint(masses - lightest_mass(comp)).astype(np.intp)
    lo = int(shift.min())
    p = np.bincount(shift - lo, weights=probs)
    pm = np.bincount(shift - lo, weights=probs * masses)
    k = np.flatnonzero(p > 0)
    mz = (pm[k] / p[k] - charge * ELECTRON_MASS) / abs(charge)  # mean m/z per shift
    return k + lo, p[k], mz


def our_shifts(pat: Pattern, comp: dict[str, int]) -> np.ndarray:
    mass = pat.mz * abs(pat.charge) + pat.charge * ELECTRON_MASS
    return np.rint(mass - lightest_mass(comp)).astype(np.intp)


def differences(
    ours: Pattern, comp: dict[str, int], peer: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[float, float]:
    """Largest |probability difference| per shift; largest |m/z difference| where p > 1e-3."""
    a_k, a_p, a_mz = our_shifts(ours, comp), ours.probability, ours.mz
    b_k, b_p, b_mz = peer
    lo = min(int(a_k.min()), int(b_k.min()))
    hi = max(int(a_k.max()), int(b_k.max()))
    a, b = np.zeros(hi - lo + 1), np.zeros(hi - lo + 1)
    am, bm = np.full(hi - lo + 1, np.nan), np.full(hi - lo + 1, np.nan)
    a[a_k - lo], am[a_k - lo] = a_p, a_mz
    b[b_k - lo], bm[b_k - lo] = b_p, b_mz
    big = (a > 1e-3) & (b > 1e-3)
    return float(np.abs(a - b).max()), float(np.abs(am - bm)[big].max())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="a small slice of the family")
    ap.add_argument("--seed", type=int, default=2022)
    args = ap.parse_args(argv)

    comps, charges = family(args.quick)
    n = len(comps)
    print(f"n ions: {n} ({'quick slice' if args.quick else 'full family'})")

    # ours: cold caches, no tracing
    isotopes._power.cache_clear()
    t0 = time.perf_counter()
    ours = batch_patterns(comps, charges)
    t_ours = time.perf_counter() - t0
    print(f"ours (batch_patterns, coverage 0.9999): {t_ours:.3f} s ({t_ours / n * 1e6:.1f} us/ion)")

    # peak memory of our run (second, traced run with cold caches)
    isotopes._power.cache_clear()
    tracemalloc.start()
    again = batch_patterns(comps, charges)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del again
    print(f"ours peak traced memory: {peak / 2**20:.1f} MiB")

    # peer: per-ion IsoSpecPy loop
    rng = np.random.default_rng(args.seed)
    probe = rng.choice(n, size=min(n, 50), replace=False)
    t0 = time.perf_counter()
    for i in probe:
        peer_pattern(comps[i], charges[i])
    per_ion = (time.perf_counter() - t0) / probe.size
    if per_ion * n <= PEER_BUDGET_S:
        idx = np.arange(n)
        note = "all ions"
    else:
        m = max(200, min(n, int(PEER_BUDGET_S / 4 / per_ion)))
        idx = np.sort(rng.choice(n, size=m, replace=False))
        note = f"seeded random subsample of {m} ions (seed {args.seed}), extrapolated per ion"
    t0 = time.perf_counter()
    peer = [peer_pattern(comps[i], charges[i]) for i in idx]
    t_sample = time.perf_counter() - t0
    t_peer = t_sample / idx.size * n
    print(
        f"peer (IsoSpecPy IsoTotalProb 0.9999 per ion + nominal aggregation): {t_peer:.1f} s "
        f"({t_sample / idx.size * 1e3:.2f} ms/ion; {note})"
    )

    diffs = np.array([differences(ours[i], comps[i], pp) for i, pp in zip(idx, peer, strict=True)])
    print(f"max abs probability difference over {idx.size} compared ions: {diffs[:, 0].max():.2e}")
    print(f"max abs mean m/z difference (peaks > 1e-3): {diffs[:, 1].max():.2e}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS: {rss:.0f} MiB")
    print(f"ratio: {t_peer / t_ours:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
