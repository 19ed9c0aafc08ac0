"""Benchmark: maximum resident memory of ``nanoalloy assign`` on a 10,000,000-point profile spectrum.

Run ``python benchmarks/assign_memory.py`` (``--points N`` to change the size,
``--format csv`` to feed a text export instead of mzML). The spectrum is
synthesised with :func:`nanoalloy.ms.synth.synthesize` (auag44-pmba preset,
three families, 12 ppm calibration error, baseline, noise) on a uniform grid
over m/z 1500-4000 and written to a temporary file in this process; then
``nanoalloy assign FILE --out DIR`` runs as a child process (plot, fit table
and report included) and its maximum resident set size is read with
``resource.getrusage(RUSAGE_CHILDREN)`` (the largest child this process
waited for; nothing else runs as a child).

The last line is ``ratio: N``: the 1.5 GB budget of issue 13 divided by the
measured maximum RSS (above 1 means within budget).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_MB = 1536.0


def _populations():  # type: ignore[no-untyped-def]
    import pandas as pd

    rows = [("M44S30", x, w) for x, w in {9: 0.05, 10: 0.1, 11: 0.12, 12: 0.08}.items()]
    rows += [("M44S27", x, w) for x, w in {19: 0.05, 20: 0.1, 21: 0.12, 22: 0.08}.items()]
    rows += [("M44S26", x, w) for x, w in {41: 0.1, 42: 0.12, 43: 0.08}.items()]
    return pd.DataFrame(rows, columns=["family", "au", "fraction"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--format", choices=("mzml", "csv"), default="mzml")
    args = parser.parse_args(argv)
    if args.points < 10_000:
        parser.error("--points must be >= 10000")

    from nanoalloy.ms.io import write_csv, write_mzml
    from nanoalloy.ms.synth import synthesize

    lo, hi, resolution = 1500.0, 4000.0, 20_000.0
    ppf = args.points * (lo / resolution) / (hi - lo)
    syn = synthesize(
        _populations(),
        mz_range=(lo, hi),
        resolution=resolution,
        points_per_fwhm=ppf,
        calibration_ppm=12.0,
        seed=7,
    )
    n = len(syn.spectrum)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("big.mzML" if args.format == "mzml" else "big.csv")
        if args.format == "mzml":
            write_mzml([syn.spectrum], path)
        else:
            write_csv(syn.spectrum, path)
        del syn
        size_mb = path.stat().st_size / 2**20
        print(f"spectrum: {n:,} points, {path.name} {size_mb:.0f} MB")
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[1] / "src")
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        cmd = [sys.executable, "-m", "nanoalloy.cli", "assign", str(path), "--out", f"{tmp}/out"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            print(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed")
            print("ratio: nan")
            return 1
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    print(f"nanoalloy assign: {wall:.1f} s wall")
    print(f"max RSS of the assign process: {rss_mb:.0f} MB (budget {BUDGET_MB:.0f} MB)")
    print(f"ratio: {BUDGET_MB / rss_mb:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
