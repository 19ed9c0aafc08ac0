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

Assigned abundances are shares of the in-window signal, populations are not: at 2 min
M44S30 holds 0.27 of the population but 0.52 of the signal in 2000-2800 m/z, since
M44S26's 7- and 8- ions fall below 2000. By default the assigned fit, as
``fit-kinetics``, compares through the ``window_share`` column of ``series.csv`` (the
share of each species' charge states inside the window, from the preset's
charge-state weights); ``--no-response`` ignores it. ``--response`` instead gives the
synthesizer's exact response (its charge states *and* Na+ ladders).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path


def _window_response(root: Path) -> dict[tuple[str, int], float]:
    """Share of each species' ion signal inside the demo's m/z window (synthesizer's ESI model)."""
    import json

    import pandas as pd

    from nanoalloy.ms.library import load_preset
    from nanoalloy.ms.synth import ESIModel, _weights_from_populations

    settings = json.loads((root / "timecourse" / "run.json").read_text())["parameters"]["settings"]
    lo, hi = settings["mz_range"]
    preset = load_preset(settings["preset"])
    out: dict[tuple[str, int], float] = {}
    model = ESIModel(fragment_share=0.0, complex_share=0.0)
    for fam in preset.families:
        for x in range(fam.x_range[0], fam.x_range[1] + 1):
            pops = pd.DataFrame({"family": [fam.name], "au": [x], "fraction": [1.0]})
            cands, w = _weights_from_populations(pops, preset, model)
            mz = [c.ion.mz_average for c in cands]
            inside = sum(wi for wi, m in zip(w, mz, strict=True) if lo <= m <= hi)
            out[(fam.name, x)] = max(inside / float(sum(w)), 1e-3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("demo", metavar="DIR", help="output folder of nanoalloy demo")
    parser.add_argument("--starts", type=int, default=8)
    parser.add_argument("--max-nfev", type=int, default=40)
    parser.add_argument("--unweighted", action="store_true", help="ignore the assigned sd's")
    parser.add_argument(
        "--response",
        action="store_true",
        help="correct by the synthesizer's exact share of each species' ions in the window",
    )
    parser.add_argument(
        "--no-response", action="store_true", help="ignore series.csv's window_share column"
    )
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
        response=_window_response(root) if args.response else None,
        window_share=not args.no_response,
    )
    print(
        f"assigned fit: {'weighted' if got.weighted else 'unweighted'}, "
        f"reduced chi-square {got.chi2_red:.3g}, response {got.response}"
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
