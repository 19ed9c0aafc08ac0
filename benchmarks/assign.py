"""Benchmark: ``assign`` on a 700,000-point profile spectrum, against UniDec on the same file.

Run ``python benchmarks/assign.py`` (``--points N`` to change the size,
``--repeat K`` for the number of warm calls). The spectrum is synthesised
with :func:`nanoalloy.ms.synth.synthesize` (auag44-pmba preset, three families,
charge/Na ladders, Cl shells, fragments, complexes, 12 ppm calibration
error, baseline, noise) and written to a temporary CSV; both engines read that
file. Reported: our wall time (cold: first call in the process, including the
one-off candidate library and isotope-pattern build; warm: the median of the
next ``--repeat`` calls, with their minimum and maximum), peak memory (``tracemalloc`` over a third call, and the process's maximum
RSS), and UniDec's time for a default deconvolution of the same file
(``open_file``, ``process_data``, ``run_unidec``, ``pick_peaks`` with UniDec's
default configuration). ``assign`` holds BLAS to one thread itself
(threadpoolctl): its dense blocks are small and BLAS threads only contend.

UniDec (``pip install unidec``) needs Debian's ``libfftw3-dev`` and
``libhdf5-dev`` for its engine: ``apt-get install -y libfftw3-dev libhdf5-dev``.

The last line is ``ratio: N`` (UniDec time / our warm time), or ``ratio: nan``
when UniDec is not available.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def _populations():  # type: ignore[no-untyped-def]
    import pandas as pd

    rows = []
    for x, w in {9: 0.05, 10: 0.1, 11: 0.12, 12: 0.08}.items():
        rows.append(("M44S30", x, w))
    for x, w in {19: 0.05, 20: 0.1, 21: 0.12, 22: 0.08}.items():
        rows.append(("M44S27", x, w))
    for x, w in {41: 0.1, 42: 0.12, 43: 0.08}.items():
        rows.append(("M44S26", x, w))
    return pd.DataFrame(rows, columns=["family", "au", "fraction"])


def _unidec(path: Path) -> float | None:
    try:
        import unidec  # noqa: F401
        from unidec import engine
    except Exception as exc:  # ImportError, or a missing shared library (OSError)
        print(f"UniDec not available ({type(exc).__name__}: {exc}).")
        print(
            "  install: apt-get update && apt-get install -y libfftw3-dev libhdf5-dev "
            "&& pip install unidec"
        )
        return None
    eng = engine.UniDec()
    t0 = time.perf_counter()
    eng.open_file(str(path))
    eng.process_data()
    eng.run_unidec()
    eng.pick_peaks()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=700_000)
    parser.add_argument("--repeat", type=int, default=5, help="warm calls timed (median)")
    parser.add_argument("--no-unidec", action="store_true")
    args = parser.parse_args(argv)
    if args.points < 10_000 or args.repeat < 1:
        parser.error("--points must be >= 10000 and --repeat >= 1")

    import resource
    import statistics
    import tracemalloc

    from nanoalloy.ms.assign import assign
    from nanoalloy.ms.composition import family_fractions
    from nanoalloy.ms.io import read, write_csv
    from nanoalloy.ms.synth import synthesize

    lo, hi = 1500.0, 4000.0
    resolution = 20_000.0
    # uniform grid: points_per_fwhm at the low end gives the requested size
    ppf = args.points * (lo / resolution) / (hi - lo)
    syn = synthesize(
        _populations(),
        mz_range=(lo, hi),
        resolution=resolution,
        points_per_fwhm=ppf,
        calibration_ppm=12.0,
        seed=7,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        write_csv(syn.spectrum, path)
        spec = read(path)
        print(
            f"spectrum: {len(spec):,} points, m/z {spec.mz[0]:.1f}-{spec.mz[-1]:.1f}, {path.name}"
        )

        t0 = time.perf_counter()
        res = assign(spec)
        cold = time.perf_counter() - t0
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            res = assign(spec)
            times.append(time.perf_counter() - t0)
        warm = statistics.median(times)
        tracemalloc.start()  # a third call, traced (tracing slows Python down)
        assign(spec)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        got = family_fractions(res.species)
        truth = family_fractions(syn.truth)
        print(
            "families (ours / truth): "
            + ", ".join(f"{f} {got.get(f, 0):.3f}/{truth[f]:.3f}" for f in sorted(truth))
        )
        print(f"R^2 {res.r2:.4f}, {len(res.species)} species, {len(res.ions)} ions")
        print(
            f"nanoalloy assign: cold {cold:.2f} s, warm {warm:.2f} s "
            f"(median of {len(times)}, {min(times):.2f}-{max(times):.2f} s)"
        )
        print(
            f"memory: peak traced allocations of one call {peak / 2**20:.0f} MB, "
            f"process max RSS {rss_mb:.0f} MB"
        )
        other = None if args.no_unidec else _unidec(path)
    if other is None:
        print("ratio: nan")
        return 0
    print(f"UniDec: {other:.2f} s")
    print(f"ratio: {other / warm:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
