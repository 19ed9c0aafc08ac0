"""``nanoalloy info SPECTRUM``: list the scans of a spectrum file with their metadata."""

from __future__ import annotations

import argparse
import json
import math

NAME = "info"
HELP = "List the scans of a spectrum file (mzML, mzXML, CSV/TXT) with their metadata."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spectrum", help="spectrum file: mzML, mzXML, CSV/TSV/TXT")
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object a scan")
    parser.add_argument(
        "--columns",
        metavar="MZ,INTENSITY",
        help="text spectra: m/z and intensity columns (1-based numbers or header names)",
    )


def _fmt(value: object, spec: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, spec)


def run(args: argparse.Namespace) -> int:
    from ..ms.io import list_scans

    scans = list_scans(args.spectrum, columns=args.columns)
    if args.json:
        print(json.dumps([s.to_dict() for s in scans], indent=2))
        return 0
    head = (
        f"{'index':>5} {'MS':>2} {'RT(min)':>8} {'points':>7} {'TIC':>10} {'base m/z':>10} "
        f"{'prec m/z':>10} {'z':>3} {'pol':>3} {'mode':>8}  id"
    )
    print(head)
    for s in scans:
        pol = {"positive": "pos", "negative": "neg"}.get(s.polarity or "", "?")
        mode = "?" if s.centroided is None else ("centroid" if s.centroided else "profile")
        print(
            f"{s.index:>5} {_fmt(s.ms_level):>2} {_fmt(s.rt_min, '.4f'):>8} {s.n_points:>7} "
            f"{_fmt(s.tic, '.4g'):>10} {_fmt(s.base_peak_mz, '.4f'):>10} "
            f"{_fmt(s.precursor_mz, '.4f'):>10} {_fmt(s.precursor_charge):>3} {pol:>3} "
            f"{mode:>8}  {s.id}"
        )
    for s in scans:  # what the reader did to the data
        if s.read:
            done = []
            if s.read.get("reversed"):
                done.append("m/z axis read high to low, turned round")
            if s.read.get("clipped_negative"):
                done.append(f"{s.read['clipped_negative']} small negative intensities set to 0")
            print(f"scan {s.index}: {'; '.join(done)}")
    return 0
