"""Benchmark: reading a 22 MB two-column CSV spectrum, against a bare ``pandas.read_csv``.

Run ``python benchmarks/read_text.py`` (``--points N`` to change the size). The
file is a 1,000,000-point spectrum written by :func:`nanoalloy.ms.io.write_csv`
with 6-decimal m/z and 1-decimal intensities (about 22 MB). Timed (median of
``--repeat`` warm calls): :func:`nanoalloy.ms.io.read`, which sniffs the
format, splits Thermo blocks, infers the columns and decimal marks and
validates the values, and ``pandas.read_csv(path)`` alone, the floor for a
library reader.

The last line is ``ratio: N``: pandas' time / ours (1 would mean no overhead
over the bare C parser).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    if args.points < 1000 or args.repeat < 1:
        parser.error("--points must be >= 1000 and --repeat >= 1")

    import numpy as np
    import pandas as pd

    from nanoalloy.ms.io import read

    rng = np.random.default_rng(0)
    mz = np.round(np.linspace(1500.0, 4000.0, args.points), 6)
    y = np.round(rng.uniform(0, 1e5, args.points), 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spectrum.csv"
        with open(path, "w") as fh:
            fh.write("mz,intensity\n")
            fh.writelines(f"{a:.6f},{b:.1f}\n" for a, b in zip(mz, y, strict=True))
        print(f"file: {args.points:,} points, {path.stat().st_size / 1e6:.1f} MB")

        def timed(fn) -> float:  # type: ignore[no-untyped-def]
            fn()
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            return statistics.median(times)

        ours = timed(lambda: read(path))
        bare = timed(lambda: pd.read_csv(path))
        s = read(path)
        assert np.array_equal(s.mz, mz) and np.array_equal(s.intensity, y)
    print(f"nanoalloy.ms.io.read: {ours:.3f} s; pandas.read_csv alone: {bare:.3f} s")
    print(f"ratio: {bare / ours:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
