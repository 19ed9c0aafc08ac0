"""``nanoalloy assign SPECTRUM [--preset P] [--scan N | --time MIN] [--out DIR] [--json]``.

Assigns every cluster, fragment and complex ion of a preset in one profile
spectrum (see :func:`nanoalloy.ms.assign.assign`) and writes into DIR
(atomically: nothing is left behind when the command fails):

* ``species.csv`` - one row per neutral species (``species,family,au,ag,ligands,
  core_charge,electrons,abundance,abundance_sd,score,signal,n_ions,near_isobar``);
  ``abundance`` sums to 1 over the cluster families, fragments and complexes
  are on the same scale outside that sum;
* ``ions.csv`` - every fitted ion (``ion,species,family,charge,na,halides,mz,
  mz_observed,ppm_error,intensity,sd,near_isobar``);
* ``families.csv`` - ``family,fraction,mean_x,au_ag_ratio,x90_low,x90_high,mean_electrons``;
* ``spectrum.png`` - spectrum, fitted model, labelled strongest ions, residual;
* ``fit.csv`` - ``mz,intensity,model`` (decimated) and ``report.html``, the
  self-contained interactive report (zoomable spectrum with the model and
  labelled ions, sortable tables); ``--no-report`` skips both.

DIR is replaced as a whole (built beside it, then swapped in): nothing of an
older run survives beside the new one. A DIR that already holds files is
refused unless ``--overwrite`` is given.

A spectrum in which no cluster is found is not an error: the tables are
written empty (headers only), ``no clusters found`` is printed on stderr (with
the preset searched and how to choose or write another) and the exit code is 0
(``clusters_found: false`` in the JSON summary). Unreadable
or invalid input exits 1 with one line on stderr.
A fit that explains less than 90 % of the signal (R^2 < 0.9: ions outside the
preset?) says so in one line on stderr, as the other notes of the result do.
Small negative intensities of a baseline-subtracted export (down to -5 % of the
largest) are set to 0 by the reader and counted in one line on stderr. A file of
several scans read without ``--scan``/``--time`` is assigned from its first MS1 scan
holding data, with one line on stderr naming it, the number of scans and how to choose.
"""

from __future__ import annotations

import argparse
import json
import math
import numbers
import os
import sys
from typing import Any

from ..errors import UsageError

NAME = "assign"
_PRIORS = ("na_ladder", "charge", "x_smooth", "h_bookkeeping", "adducts", "fragments", "halides")
HELP = "Assign cluster ions in a spectrum: species, ions and family tables with a fit plot."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("spectrum", help="profile spectrum (mzML, mzXML, CSV, TSV, TXT)")
    parser.add_argument(
        "--preset", default="auag44-pmba", help="candidate preset name or TOML path"
    )
    parser.add_argument(
        "--ligands",
        metavar="TOML",
        help="extra ligand definitions ([ligand.NAME] tables) that the preset names",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--scan", type=int, metavar="N", help="0-based scan index")
    which.add_argument("--time", type=float, metavar="MIN", help="retention time in minutes")
    parser.add_argument(
        "--out", default="assign_out", metavar="DIR", help="output folder (default: %(default)s)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the output folder as a whole if it already holds files",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    parser.add_argument(
        "--columns",
        metavar="MZ,INTENSITY",
        help="text spectra: m/z and intensity columns (1-based numbers or header names); "
        "default: inferred from the header names and the content",
    )
    parser.add_argument(
        "--resolution",
        type=float,
        metavar="R",
        help="resolving power, held fixed (default: fitted to the data)",
    )
    parser.add_argument(
        "--peak-shape",
        choices=("gaussian", "pseudo-voigt", "tailed", "auto"),
        default="auto",
        help="peak shape fitted with the calibration (default: auto, the residual decides)",
    )
    parser.add_argument("--no-calibrate", action="store_true", help="keep the m/z axis as recorded")
    parser.add_argument(
        "--no-charge-search",
        action="store_true",
        help="fit only the charge states the preset lists (by default a reported family is "
        "also looked for at the ones it leaves out, and kept there where the data want it)",
    )
    parser.add_argument(
        "--no-ladder-search",
        action="store_true",
        help="keep each family's Na+ ladder to the preset's max_na (by default a ladder still "
        "strong at max_na is fitted deeper, and kept so where the data want it)",
    )
    parser.add_argument(
        "--calibration-range",
        type=float,
        default=None,
        metavar="PPM",
        help="calibration offsets searched, +-PPM at the spectrum's centre (default: 100; "
        "narrow it when the axis is known to be better: isotope-step aliases wait ~100 ppm "
        "away for ions of charge 5 and more)",
    )
    parser.add_argument(
        "--baseline-knot",
        type=float,
        default=50.0,
        metavar="MZ",
        help="knot spacing (m/z) of the baseline fitted with the ions (default: 50; wider, "
        "e.g. 300, where blurred envelopes at low resolving power pass for baseline)",
    )
    parser.add_argument(
        "--polarity",
        choices=("negative", "positive"),
        help="ion mode (default: as recorded in the file, else the spectrum is fitted as each "
        "and the better fit is reported)",
    )
    parser.add_argument("--no-plot", action="store_true", help="skip spectrum.png")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="rebuild the preset's candidate library and isotope patterns instead of reading "
        "them from the cache folder ($NANOALLOY_CACHE_DIR, else ~/.cache/nanoalloy)",
    )
    parser.add_argument(
        "--no-report", action="store_true", help="skip fit.csv and the interactive report.html"
    )
    parser.add_argument(
        "--no-prior",
        action="append",
        default=[],
        metavar="NAME",
        # (nanoalloy.ms.assign.priors.PRIORS, written out: importing it loads the assigner)
        choices=(*_PRIORS, "all"),
        help=f"switch off a chemistry prior of the model selection ({', '.join(_PRIORS)}, "
        "or all); repeatable",
    )


def _read_first(path: str, columns: str | None) -> Any:
    """The first MS1 scan holding data (else the first scan) of a file, read once; a file of
    several says which one was taken (all are read, to count them)."""
    from ..ms.io import iter_scans, read, release_memory, scan_holds_data

    first = chosen = None
    n = 0
    for s in iter_scans(path, columns=columns):
        n += 1
        if first is None:
            first = s
        # the first MS1 scan holding data: a DDA run may start with an MS2 or an empty scan,
        # or a blank one of zeros (the spray not yet settled)
        if chosen is None and scan_holds_data(s):
            chosen = s
    if first is None:  # no scan at all: read's own error
        return read(path, columns=columns)
    spectrum = chosen or first
    if os.path.getsize(path) > 8 << 20:
        release_memory()  # the parser's buffers, as read() returns them
    if n == 1:
        return spectrum
    rt = spectrum.metadata.get("rt_min")
    at = f" at {rt:g} min" if isinstance(rt, int | float) else ""
    level = spectrum.metadata.get("ms_level")
    ms = f", MS{level}" if level else ""
    print(
        f"nanoalloy assign: the file holds {n} scans; assigned scan "
        f"{spectrum.metadata.get('index', 0)}{at}{ms}, the first"
        f"{'' if spectrum is first else ' MS1 scan holding data'} (choose with --scan N or "
        f"--time MIN, or assign them all with `nanoalloy series {path}`)",
        file=sys.stderr,
    )
    return spectrum


def run(args: argparse.Namespace) -> int:
    """Read, assign, write; returns the exit code."""
    from ..ms.assign.pipeline import assign
    from ..ms.io import NEGATIVE_CLIP, NEGATIVE_SIGMA, read, release_memory

    if args.resolution is not None and not (
        math.isfinite(args.resolution) and 100 <= args.resolution <= 1e7
    ):
        raise UsageError(f"--resolution must be between 100 and 1e7, got {args.resolution}")
    if args.calibration_range is not None and args.no_calibrate:
        raise UsageError("--calibration-range searches a calibration that --no-calibrate turns off")
    cal_range = 100.0 if args.calibration_range is None else args.calibration_range
    if not (math.isfinite(cal_range) and 0 < cal_range <= 1000):
        raise UsageError(f"--calibration-range must be in (0, 1000] ppm, got {cal_range}")
    if args.scan is not None and args.scan < 0:
        raise UsageError(f"--scan must be a 0-based scan index (>= 0), got {args.scan}")
    if not (math.isfinite(args.baseline_knot) and args.baseline_knot > 0):
        raise UsageError(
            f"--baseline-knot must be a positive m/z spacing, got {args.baseline_knot}"
        )
    if args.time is not None and not math.isfinite(args.time):
        raise UsageError(f"--time must be a finite number of minutes, got {args.time}")
    from ..ms.assign.priors import PRIORS

    off = set(args.no_prior)
    priors = () if "all" in off else tuple(p for p in PRIORS if p not in off)
    preset: Any = args.preset
    if args.ligands:
        from ..ms.library import load_preset
        from .mz import registry_from_args

        preset = load_preset(args.preset, registry=registry_from_args(args))
    if args.scan is None and args.time is None:
        spectrum = _read_first(args.spectrum, args.columns)
    else:
        spectrum = read(args.spectrum, scan=args.scan, time=args.time, columns=args.columns)
    rt = spectrum.metadata.get("rt_min")
    level = spectrum.metadata.get("ms_level")
    if isinstance(level, numbers.Integral) and int(level) > 1:
        # a fragment spectrum asked for by --scan/--time: assigned as it is, said so
        prec = spectrum.metadata.get("precursor_mz")
        of = f" of precursor m/z {prec:g}" if isinstance(prec, int | float) else ""
        print(
            f"nanoalloy assign: scan {spectrum.metadata.get('index', '?')} is an MS{level} "
            f"scan{of}; its ions are assigned as cluster ions of the preset (`nanoalloy msms` "
            "assigns fragment spectra)",
            file=sys.stderr,
        )
    if args.time is not None and isinstance(rt, int | float) and abs(rt - args.time) > 0.5:
        # the nearest scan, however far: say which one was taken
        print(
            f"nanoalloy assign: no scan at {args.time:g} min; assigned the nearest, "
            f"at {rt:g} min (scan {spectrum.metadata.get('index', '?')})",
            file=sys.stderr,
        )
    clipped = int(spectrum.metadata.get("clipped_negative", 0))
    if clipped:
        print(
            f"nanoalloy assign: {clipped} small negative intensities (baseline noise, above "
            f"-{NEGATIVE_CLIP:.0%} of the largest or -{NEGATIVE_SIGMA:g} times the noise) set to 0",
            file=sys.stderr,
        )
    result = assign(
        spectrum,
        preset=preset,
        resolution=args.resolution,
        calibrate=not args.no_calibrate,
        cache=not args.no_cache,
        polarity=args.polarity,
        priors=priors,
        peak_shape=args.peak_shape,
        calibration_range_ppm=cal_range,
        baseline_knot_mz=args.baseline_knot,
        search_charges=not args.no_charge_search,
        search_ladders=not args.no_ladder_search,
    )
    release_memory()  # the fit's freed heap goes back before the figure and tables are drawn
    from ..output import atomic_dir

    # the whole folder (tables, figure, report) is built beside --out and swapped in:
    # nothing of an older run survives beside this one
    with atomic_dir(args.out) as stage:
        result.write(stage, plot=not args.no_plot, fit=not args.no_report)
        if not args.no_report:
            from ..results.report import write_report

            write_report(stage, title=f"nanoalloy assign: {args.spectrum}")
    if result.message:
        print(f"nanoalloy assign: {result.message}", file=sys.stderr)
    filled = int(result.spectrum.metadata.get("zero_filled", 0) or 0)
    if filled:
        print(
            f"nanoalloy assign: {filled} gaps between peaks read as zeros (a reduced-profile "
            "export leaves out the points below its threshold)",
            file=sys.stderr,
        )
    if not result.found:
        # most often the wrong preset (the default is the Au44/Ag44 system)
        name = getattr(preset, "name", preset)
        print(
            f"nanoalloy assign: searched preset {str(name)!r}; `nanoalloy preset list` shows the "
            "others (--preset NAME), `nanoalloy preset new FORMULA --out FILE` writes one for your system",
            file=sys.stderr,
        )
    if args.json:
        summary = result.summary()
        summary["out"] = str(args.out)
        # which scan of the file was assigned (mzML/mzXML; a text spectrum is scan 0)
        md = spectrum.metadata
        if "index" in md:
            summary["scan"] = {
                k: md[k]
                for k in ("index", "id", "rt_min", "ms_level")
                if md.get(k) is not None
                and not (isinstance(md[k], float) and not math.isfinite(md[k]))
            }
        print(json.dumps(summary, indent=2, allow_nan=False))
    elif result.found:  # where the results went, and what they say in one line
        fams = ", ".join(
            f"{f} {v:.2f}"
            for f, v in zip(result.families["family"], result.families["fraction"], strict=True)
        )
        report = "" if args.no_report else f"; report: {os.path.join(str(args.out), 'report.html')}"
        print(
            f"Wrote {args.out}: {len(result.species)} species, {len(result.ions)} ions"
            f" (families {fams}; R^2 {result.r2:.4f}){report}"
        )
    return 0
