"""``nanoalloy msms --precursor ION [SPECTRUM] --out DIR``: fragment ladder and annotation.

Writes into DIR (atomically; nothing on error):

* ``fragments.csv`` - ``ion,charge,mz_average,mz_most_abundant,loss,kind``: the
  precursor, its ``[M(SR)2]-`` / ``M(SR)`` loss fragments and the complementary
  ``[M(SR)2]-`` ions (see :func:`nanoalloy.ms.msms.fragment_ladder`);
* with a product-ion SPECTRUM, ``matches.csv`` (columns of
  :data:`nanoalloy.ms.msms.MATCH_COLUMNS`) and ``msms.png``, the spectrum with the
  fitted envelopes of the matched ions drawn and labelled.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..ms.msms import Fragment
    from ..ms.spectrum import Spectrum

NAME = "msms"
HELP = "MS/MS of a cluster anion: [M(SR)2]- / M(SR) loss ladder, matched to a product-ion spectrum."

FRAGMENT_COLUMNS = ("ion", "charge", "mz_average", "mz_most_abundant", "loss", "kind")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--precursor", required=True, metavar="ION", help="e.g. '[Au12Ag32(p-MBA)30]4-'"
    )
    parser.add_argument("spectrum", nargs="?", help="product-ion spectrum (mzML, mzXML, CSV, TXT)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the output folder as a whole if it already holds files",
    )
    parser.add_argument("--sr", metavar="LIGAND", help="ligand that SR stands for, e.g. p-MBA")
    parser.add_argument(
        "--preset",
        metavar="P",
        help="preset name or TOML: SR is its main ligand, and each of its thiolates the "
        "precursor carries may leave as [M(L)2]- / M(L) units",
    )
    parser.add_argument("--ligands", metavar="TOML", help="extra ligand definitions")
    parser.add_argument(
        "--resolution", type=float, metavar="R", help="resolving power (default: estimated)"
    )
    parser.add_argument(
        "--max-losses", type=int, metavar="N", help="largest number of [M(SR)2]- losses"
    )
    parser.add_argument(
        "--max-neutral", type=int, default=2, metavar="N", help="largest number of M(SR) losses"
    )
    parser.add_argument(
        "--tolerance-ppm", type=float, default=20.0, metavar="PPM", help="m/z tolerance"
    )
    parser.add_argument(
        "--min-score", type=float, default=0.6, help="score needed to call a match (0-1)"
    )
    parser.add_argument("--scan", type=int, help="0-based scan index in the spectrum file")


def run(args: argparse.Namespace) -> int:
    from ..chem.formula import parse
    from ..ms.msms import fragment_ladder, match_spectrum
    from ..output import atomic_dir
    from .mz import registry_from_args

    if args.resolution is not None and not 10 <= args.resolution <= 1e7:
        raise UsageError(f"--resolution must be between 10 and 1e7, got {args.resolution}")
    if not (math.isfinite(args.tolerance_ppm) and 0 < args.tolerance_ppm <= 1000):
        raise UsageError(f"--tolerance-ppm must be in (0, 1000], got {args.tolerance_ppm}")
    if not 0 < args.min_score <= 1:
        raise UsageError(f"--min-score must be in (0, 1], got {args.min_score}")
    for flag, value in (("--max-losses", args.max_losses), ("--max-neutral", args.max_neutral)):
        if value is not None and value < 0:
            raise UsageError(f"{flag} must be >= 0, got {value}")
    reg = registry_from_args(args)
    sr: str | list[str] | None = args.sr
    if args.preset is not None:
        from ..ms.preset import load_preset

        p = load_preset(args.preset, registry=reg)
        thiolates = [
            n for n in p.ligand_names if reg[n].electrons > 0 and n not in ("Cl", "Br", "I")
        ]
        if args.sr is not None:
            chosen = reg.resolve(args.sr).name
            if thiolates and chosen not in thiolates:
                # SR would be a ligand the preset does not hold: the two options disagree
                raise UsageError(
                    f"--sr {args.sr} is not a thiolate of preset {p.name!r} "
                    f"({', '.join(thiolates)}); drop --sr (SR is then {thiolates[0]}) or "
                    "name one of them"
                )
            thiolates = [chosen] + [t for t in thiolates if t != chosen]
        sr = thiolates or args.sr
    ion = parse(args.precursor, sr=sr if isinstance(sr, str) or sr is None else sr[0], ligands=reg)
    ladder = fragment_ladder(
        ion,
        sr=sr,
        max_losses=args.max_losses,
        max_neutral=args.max_neutral,
        ligands=reg,
    )
    matches = spectrum = None
    if args.spectrum is not None:
        spectrum = _read(args.spectrum, args.scan, float(ion.mz_average))
        matches = match_spectrum(
            spectrum,
            ladder,
            resolution=args.resolution,
            tolerance_ppm=args.tolerance_ppm,
            min_score=args.min_score,
        )
    out = Path(args.out)
    with atomic_dir(out) as stage:
        _write_fragments(ladder, stage / "fragments.csv")
        if matches is not None and spectrum is not None:
            matches.to_csv(stage / "matches.csv", index=False, float_format="%.10g")
            _plot(spectrum, ladder, matches, stage / "msms.png", title=ion.notation)
    msg = f"wrote {out / 'fragments.csv'} ({len(ladder)} ions)"
    if matches is not None:
        msg += f", matches.csv and msms.png ({int(matches['matched'].sum())} matched)"
    print(msg)
    return 0


PRECURSOR_TOLERANCE = 0.005
"""Relative m/z difference beyond which a scan's recorded precursor is another ion (an
isolation window is a few m/z wide at most)."""


def _read(path: str, scan: int | None, precursor_mz: float) -> Spectrum:
    """The product-ion spectrum of the precursor: the scan given, else the first MS2 scan
    isolating the precursor's m/z (else the first MS2 scan, else the first scan). Says on
    stderr which scan of several was used, and where it is an MS1 scan or isolated
    another precursor (a first scan that was MS1 was annotated without a word)."""
    from ..ms.io import iter_scans, read

    p = Path(path)
    if not p.is_file():
        raise InputError(f"spectrum file {path!r} does not exist or is not a file")
    if scan is not None:
        if scan < 0:
            raise UsageError(f"--scan must be a 0-based scan index (>= 0), got {scan}")
        spectrum = read(p, scan=scan)
        several = True
    else:
        # streamed: a scan is kept only while it is the best choice so far
        first: Spectrum | None = None
        product: Spectrum | None = None
        chosen: Spectrum | None = None
        seen = 0
        for s in iter_scans(p):
            seen += 1
            first = s if first is None else first
            if (s.metadata.get("ms_level") or 1) >= 2:
                pmz = s.metadata.get("precursor_mz")
                if isinstance(pmz, float) and abs(pmz / precursor_mz - 1) <= PRECURSOR_TOLERANCE:
                    chosen = s
                    break
                product = product or s
        picked = chosen or product or first
        if picked is None:
            raise InputError(f"spectrum file {path!r} holds no scan")
        spectrum, several = picked, seen > 1
    md = spectrum.metadata
    index = md.get("index", scan if scan is not None else 0)
    level = md.get("ms_level")
    pmz = md.get("precursor_mz")
    say = []
    if several and scan is None:
        say.append(f"{path} holds several scans: used scan {index} (choose with --scan N)")
    if level == 1:
        say.append(f"scan {index} is an MS1 scan, not a product-ion spectrum")
    elif isinstance(pmz, float) and abs(pmz / precursor_mz - 1) > PRECURSOR_TOLERANCE:
        z = md.get("precursor_charge")
        say.append(
            f"scan {index} isolated m/z {pmz:.1f}{f' (z {z})' if z else ''}, not the "
            f"precursor's {precursor_mz:.1f}: its fragments are another ion's"
        )
    for line in say:
        print(f"nanoalloy msms: {line}", file=sys.stderr)
    return spectrum


def _write_fragments(ladder: list[Fragment], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(FRAGMENT_COLUMNS)
        for f in ladder:
            row = f.to_dict()
            writer.writerow(
                [
                    row["ion"],
                    row["charge"],
                    f"{f.mz_average:.6f}",
                    f"{f.mz_most_abundant:.6f}",
                    row["loss"],
                    row["kind"],
                ]
            )


def _plot(
    spectrum: Spectrum, ladder: list[Fragment], matches: pd.DataFrame, path: Path, *, title: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..chem.isotopes import Pattern, profile

    res = float(matches.attrs["resolution"])
    x, y = spectrum.mz, spectrum.intensity
    top = float(y.max()) or 1.0
    fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
    ax.plot(x, y / top, color="0.35", lw=0.6, label="spectrum")
    hits = matches.index[matches["matched"]].tolist()
    for n, i in enumerate(hits):
        row = matches.loc[i]
        pat = ladder[i].ion.pattern()
        shifted = Pattern(
            pat.mz * (1 + float(row["ppm_error"]) * 1e-6), pat.probability, pat.charge
        )
        lo, hi = float(shifted.mz.min()), float(shifted.mz.max())
        sel = (x >= lo - 3 * lo / res) & (x <= hi + 3 * hi / res)
        if sel.sum() < 2:
            continue
        _, model = profile(shifted, res, mz=x[sel])
        if model.max() > 0:
            model = model / model.max() * float(row["intensity"])
        ax.plot(x[sel], model / top, color=f"C{n % 10}", lw=0.9)
        ax.annotate(
            f"{row['ion']} {row['loss']}".rstrip(),
            xy=(float(row["mz"]), float(row["intensity"]) / top),
            xytext=(0, 6),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=6,
            rotation=90,
            color=f"C{n % 10}",
        )
    ax.set_ylim(0, 1.6)
    ax.set_xlabel("m/z")
    ax.set_ylabel("relative intensity")
    ax.set_title(f"MS/MS of {title}: {len(hits)} of {len(ladder)} ladder ions matched", fontsize=9)
    ax.set_yticks(np.linspace(0, 1, 6))
    fig.savefig(path, format="png", dpi=150)
    plt.close(fig)
