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

A spectrum in which no cluster is found is not an error: the tables are
written empty (headers only), ``no clusters found`` is printed on stderr and
the exit code is 0 (``clusters_found: false`` in the JSON summary). Unreadable
or invalid input exits 1 with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from ..errors import InputError

NAME = "assign"
HELP = "Assign cluster ions in a spectrum: species, ions and family tables with a fit plot."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("spectrum", help="profile spectrum (mzML, mzXML, CSV, TSV, TXT)")
    parser.add_argument(
        "--preset", default="auag44-pmba", help="candidate preset name or TOML path"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--scan", type=int, metavar="N", help="0-based scan index")
    which.add_argument("--time", type=float, metavar="MIN", help="retention time in minutes")
    parser.add_argument("--out", default="assign_out", metavar="DIR", help="output folder")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
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
    parser.add_argument("--no-plot", action="store_true", help="skip spectrum.png")
    parser.add_argument(
        "--no-report", action="store_true", help="skip fit.csv and the interactive report.html"
    )


def run(args: argparse.Namespace) -> int:
    """Read, assign, write; returns the exit code."""
    from ..ms.assign.pipeline import assign
    from ..ms.io import read

    if args.resolution is not None and not (
        math.isfinite(args.resolution) and 100 <= args.resolution <= 1e7
    ):
        raise InputError(f"--resolution must be between 100 and 1e7, got {args.resolution}")
    if args.time is not None and not math.isfinite(args.time):
        raise InputError(f"--time must be a finite number of minutes, got {args.time}")
    spectrum = read(args.spectrum, scan=args.scan, time=args.time)
    result = assign(
        spectrum,
        preset=args.preset,
        resolution=args.resolution,
        calibrate=not args.no_calibrate,
        peak_shape=args.peak_shape,
    )
    result.write(args.out, plot=not args.no_plot, fit=not args.no_report)
    if not args.no_report:
        from ..results.report import write_report

        write_report(args.out, title=f"nanoalloy assign: {args.spectrum}")
    if result.message:
        print(f"nanoalloy assign: {result.message}", file=sys.stderr)
    if args.json:
        summary = result.summary()
        summary["out"] = str(args.out)
        print(json.dumps(summary, indent=2, allow_nan=False))
    return 0
