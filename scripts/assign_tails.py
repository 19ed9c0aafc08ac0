"""Tailed peaks: is the tail found, with the resolving power and the calibration?

Run ``python scripts/assign_tails.py`` (``--seed S``, default 21). Ten spectra: one M44S30
window (2450-2750 m/z, x 10-12 at 4-) and three families over 1800-3800 m/z, each at
R 15,000 (the core's), +7 ppm, with an exponential tail to high m/z of 0, 0.3, 0.5, 0.8
and 1 FWHM, assigned blind (no resolving power in the metadata). One line per spectrum:
the fitted shape, tail, R and calibration, the largest TV of a family's x distribution;
``ok`` when R is within 10 % and the calibration within 5 ppm; the count last.

``--snr S`` makes the signal weak: the tallest cluster apex S times the noise (Poisson and
Gaussian alike, as the weak cases of ``assign_sweep.py --noise``), where the tail's gain is
a small share of a residual that is mostly noise.
"""

from __future__ import annotations

import argparse
import sys
import time

from assign_sweep import _blind, _errors  # scripts/ is sys.path[0] when run as a script

ONE = {"M44S30": {10: 0.2, 11: 0.5, 12: 0.3}}
THREE = {
    "M44S30": {10: 0.1, 11: 0.25, 12: 0.15},
    "M44S27": {20: 0.1, 21: 0.2, 22: 0.1},
    "M44S26": {41: 0.05, 42: 0.05},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--snr", type=float, default=None, help="apex S/N (default: strong)")
    args = parser.parse_args(argv)

    import pandas as pd

    from nanoalloy.ms.assign import assign
    from nanoalloy.ms.synth import synthesize

    good = total = 0
    noise: dict[str, float] = {}
    if args.snr:  # the apex S/N: Gaussian and Poisson noise alike
        noise = {"gaussian_noise": 1.0 / args.snr / 2**0.5, "counts": 2.0 * args.snr**2}
    for pops, window in ((ONE, (2450.0, 2750.0)), (THREE, (1800.0, 3800.0))):
        table = pd.DataFrame(
            [(f, x, w) for f, xs in pops.items() for x, w in xs.items()],
            columns=["family", "au", "fraction"],
        )
        for tail in (0.0, 0.3, 0.5, 0.8, 1.0):
            syn = synthesize(
                table,
                mz_range=window,
                resolution=15_000.0,
                tail_fwhm=tail,
                calibration_ppm=7.0,
                seed=args.seed,
                **noise,
            )
            t0 = time.perf_counter()
            res = assign(_blind(syn.spectrum), replicates=0)
            took = time.perf_counter() - t0
            ins = res.instrument
            tv, _ = _errors(res.species, syn.truth)
            ok = abs(res.ppm_shift - 7.0) <= 5.0 and abs(res.resolution / 15_000.0 - 1.0) <= 0.1
            good += ok
            total += 1
            print(
                f"{'ok  ' if ok else 'BAD '} {len(pops)} families, tail {tail:.1f} -> "
                f"{ins.shape if ins else '-'} {ins.tail if ins else 0.0:.2f}, "
                f"R 15000 -> {res.resolution:.0f}, +7.0 -> {res.ppm_shift:+.1f} ppm, "
                f"max TV {tv:.3f} ({took:.1f} s)",
                flush=True,
            )
    print(f"R within 10 % and calibration within 5 ppm: {good} of {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
