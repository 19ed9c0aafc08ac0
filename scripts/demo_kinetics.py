"""The loop downstream: rate constants from the demo's assigned 3:1 time course against the
constants fitted to its simulated populations at the same times.

Run ``nanoalloy demo --out DIR`` first, then ``python scripts/demo_kinetics.py DIR``
(``--starts N``, ``--max-nfev N`` as ``fit-kinetics``). Both time courses are fitted
with :func:`nanoalloy.kinetics.fit.fit_timecourse`: the reference on
``DIR/simulations/timecourse_3to1.csv`` (the simulated populations; unweighted, they
carry no sd), the assigned one on ``DIR/timecourse/series.csv`` (weighted by its
``abundance_sd``). Printed per constant: reference, assigned value +- sd, relative sd,
the factor between them and whether the reference lies within +-2 sd; then the two
acceptance checks of issue 11 (factor <= 1.5 for every constant with relative sd <
0.5; reference within +-2 sd for every constant).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("demo", metavar="DIR", help="output folder of nanoalloy demo")
    parser.add_argument("--starts", type=int, default=8)
    parser.add_argument("--max-nfev", type=int, default=40)
    parser.add_argument("--unweighted", action="store_true", help="ignore the assigned sd's")
    args = parser.parse_args(argv)
    root = Path(args.demo)
    sim = root / "simulations" / "timecourse_3to1.csv"
    assigned = root / "timecourse" / "series.csv"
    for f in (sim, assigned):
        if not f.is_file():
            print(
                f"demo_kinetics: {f} not found (run nanoalloy demo --out {root})", file=sys.stderr
            )
            return 1

    from nanoalloy.kinetics.fit import fit_timecourse

    ref = fit_timecourse(sim, starts=args.starts, max_nfev=args.max_nfev, ratio=3.0)
    got = fit_timecourse(
        assigned,
        starts=args.starts,
        max_nfev=args.max_nfev,
        ratio=3.0,
        weighted=not args.unweighted,
    )
    print(
        f"assigned fit: {'weighted' if got.weighted else 'unweighted'}, "
        f"reduced chi-square {got.chi2_red:.3g}"
    )
    factor_ok = cover_ok = True
    for key, value in got.values.items():
        truth = ref.values[key]
        sd = got.sd[key]
        rel = sd / value if value else math.inf
        factor = max(value / truth, truth / value) if value > 0 and truth > 0 else math.inf
        within = abs(value - truth) <= 2.0 * sd
        cover_ok &= within
        if rel < 0.5:
            factor_ok &= factor <= 1.5
        print(
            f"{key:34s} reference {truth:10.4g}  assigned {value:10.4g} +- {sd:8.2g}  "
            f"rel.sd {rel:6.2f}  factor {factor:7.2f}  {'within' if within else 'OUTSIDE'} 2 sd"
        )
    print(f"factor <= 1.5 where rel.sd < 0.5: {'yes' if factor_ok else 'no'}")
    print(f"reference within +-2 sd for every constant: {'yes' if cover_ok else 'no'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
