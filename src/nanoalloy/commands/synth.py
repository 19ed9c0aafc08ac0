"""``nanoalloy synth POPULATIONS.csv --out FILE.(csv|mzML)``: simulated ESI spectra."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from ..errors import InputError, UsageError

NAME = "synth"
HELP = "Turn a populations table (from simulate) into a realistic ESI mass spectrum."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "populations",
        help="CSV from simulate (family,au,ag,ligands,core_charge,fraction[,time_h]) or naming "
        "species by label (family,species,fraction; labels as species.csv of assign writes them)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="output .csv or .txt (one spectrum, comma-separated m/z,intensity) or .mzML (time course)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--resolution", type=float, default=20_000.0, help="resolving power (default 20000)"
    )
    parser.add_argument(
        "--preset", default="auag44-pmba", help="candidate preset (default auag44-pmba)"
    )
    parser.add_argument(
        "--mz-range",
        metavar="LO:HI",
        help="m/z window (default 400:4500, or where the ions are when none falls there)",
    )
    parser.add_argument(
        "--calibration-ppm", type=float, default=0.0, help="calibration error in ppm"
    )
    parser.add_argument(
        "--polarity",
        choices=("negative", "positive"),
        help="ion mode (default: negative when the preset forms anions)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    parser.add_argument(
        "--all-times",
        action="store_true",
        help="for CSV output of a time course: error instead of writing the last time",
    )


def _range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise UsageError(f"--mz-range must look like 400:4500, got {text!r}") from None
    if not 0 < lo < hi:
        raise UsageError(f"--mz-range must satisfy 0 < LO < HI, got {text!r}")
    return lo, hi


def run(args: argparse.Namespace) -> int:
    from ..ms.io import write_csv, write_mzml
    from ..ms.synth import read_populations, synthesize, synthesize_series

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".mzml", ".txt"):
        raise UsageError(f"--out must end in .csv, .txt or .mzML, got {args.out!r}")
    if not 100 <= args.resolution <= 1e7:
        raise UsageError(f"--resolution must be between 100 and 1e7, got {args.resolution}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if not (math.isfinite(args.calibration_ppm) and abs(args.calibration_ppm) <= 1000):
        raise UsageError(
            f"--calibration-ppm must be within +-1000 ppm, got {args.calibration_ppm:g}"
        )
    refuse_existing(out, args.force)
    pops = read_populations(args.populations)
    window = args.mz_range or DEFAULT_RANGE
    mz_range = _range(window)
    if args.mz_range is None:
        # the default window holds the Au44/Ag44 demo; an Au25 1- ion (m/z ~7,400) lies
        # beyond it: the window is then where the populations' ions are
        lo, hi = ion_mz_range(pops, preset=args.preset, polarity=args.polarity)
        if hi < mz_range[0] or lo > mz_range[1]:
            mz_range = (max(1.0, math.floor(lo - 10.0)), math.ceil(hi + 10.0))
            window = f"{mz_range[0]:g}:{mz_range[1]:g}"
            print(f"note: no ion in the default --mz-range {DEFAULT_RANGE}; simulated {window}")
    kw = dict(
        preset=args.preset,
        resolution=args.resolution,
        mz_range=mz_range,
        calibration_ppm=args.calibration_ppm,
        polarity=args.polarity,
    )
    times = sorted(pops["time_h"].unique()) if "time_h" in pops.columns else []
    if suffix == ".mzml":
        results = synthesize_series(pops, seed=args.seed, **kw)
        if not any(len(r.ions) for r in results):
            raise _no_ions(window)
        write_mzml([r.spectrum for r in results], out)
        print(f"wrote {out}: {len(results)} simulated scan(s)")
        return 0
    if len(times) > 1:
        if args.all_times:
            raise InputError("a time course needs --out FILE.mzML (one scan per time point)")
        pops = pops[pops["time_h"] == times[-1]]
        print(
            f"note: {len(times)} time points; CSV holds the last one (t = {times[-1]:g} h). Use .mzML for all."
        )
    res = synthesize(pops, seed=args.seed, **kw)
    if not len(res.ions):
        raise _no_ions(window)
    write_csv(res.spectrum, out)
    print(f"wrote {out}: simulated spectrum, {len(res.spectrum.mz)} points, {len(res.ions)} ions")
    return 0


def _no_ions(window: str) -> UsageError:
    # a spectrum of noise alone, written with exit 0, was no simulation of the populations
    return UsageError(
        f"no ion of these populations falls in --mz-range {window}: widen it (default "
        f"{DEFAULT_RANGE}, or where the ions are when none falls there)"
    )


DEFAULT_RANGE = "400:4500"


def refuse_existing(path: str | Path, force: bool) -> None:
    """Refuse an ``--out`` file that exists unless ``--force`` (a typo replaced a spectrum)."""
    if Path(path).exists() and not force:
        raise InputError(f"{str(path)!r} exists; choose another --out or add --force")


def ion_mz_range(pops: Any, *, preset: str, polarity: str | None) -> tuple[float, float]:
    """The m/z span of the populations' cluster ions (average m/z) under ``preset``."""
    from ..ms.library import load_preset
    from ..ms.synth import ESIModel, _polarity, _weights_from_populations

    p = load_preset(preset)
    cands, w = _weights_from_populations(pops, p, ESIModel(), _polarity(p, polarity))
    mz = [c.ion.mz_average for c, wi in zip(cands, w, strict=True) if wi > 0]
    if not mz:
        return 400.0, 4500.0
    return float(min(mz)), float(max(mz))
