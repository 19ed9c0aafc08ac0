"""``nanoalloy uvvis SPECTRUM [--refs REF ...] --out DIR``: bands and unmixing of UV-vis spectra.

Writes into DIR (atomically; nothing on error):

* ``bands.csv`` - ``wavelength_nm,kind,height,width_nm,energy_ev,spectrum``: peaks
  and shoulders of every absorbance column, after baseline correction;
* ``fractions.csv`` (with ``--refs``) - ``reference,fraction,fraction_sd,coefficient,
  coefficient_sd,r_squared,spectrum``: non-negative unmixing of every column;
* ``uvvis.png`` - the spectrum with its bands marked, and the fit with its
  components (a series is drawn coloured by time, with fractions against time);
* ``report.html`` - the self-contained report (``--no-report`` skips it); a
  UV-vis folder placed beside ``series``/``assign`` results, or one level down,
  is part of their ``nanoalloy report``.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from ..uvvis import AbsorptionSpectra, Band, UnmixResult

NAME = "uvvis"
HELP = "UV-vis absorption: bands and shoulders, and unmixing against reference spectra."


def _region(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.replace(":", "-").split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO-HI in nm, got {text!r}") from None
    if not 0 < lo < hi:
        raise argparse.ArgumentTypeError(f"expected 0 < LO < HI, got {text!r}")
    return lo, hi


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spectrum", help="CSV/TSV/TXT: wavelength (nm) or energy (eV), then A")
    parser.add_argument(
        "--refs",
        nargs="+",
        action="extend",
        metavar="REF",
        help="reference spectra files (each column one reference), for unmixing",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the output folder as a whole if it already holds files",
    )
    parser.add_argument("--no-report", action="store_true", help="do not write report.html")
    parser.add_argument(
        "--unit",
        choices=["auto", "nm", "eV"],
        default="auto",
        help="the first column's unit (auto: eV where every value is below 62). An eV axis "
        "is read as absorbance per eV (as nanocluster papers plot it) and put on the nm axis "
        "with the intensity Jacobian, A(nm) = A(eV) E^2 / hc",
    )
    parser.add_argument("--range", nargs=2, type=float, metavar=("LO", "HI"), help="nm to use")
    parser.add_argument(
        "--baseline",
        choices=["scattering", "polynomial", "constant", "none"],
        default="scattering",
        help="background removed before band search (default: a/λ^4 + b/λ + c)",
    )
    parser.add_argument(
        "--baseline-region",
        type=_region,
        action="append",
        metavar="LO-HI",
        help="band-free window (nm) to fit the baseline to (repeatable; default: lower envelope)",
    )
    parser.add_argument("--window", type=float, default=21.0, help="smoothing window, nm")
    parser.add_argument(
        "--normalize",
        choices=["none", "area", "max"],
        default="none",
        help="scale references before unmixing (none: molar spectra give mole fractions)",
    )
    parser.add_argument(
        "--background",
        choices=["none", "constant", "scattering"],
        default="none",
        help="background terms fitted beside the references",
    )


def _read_refs(paths: list[str], unit: str) -> list[AbsorptionSpectra]:
    from ..uvvis import read_uvvis

    refs = []
    for p in paths:
        ref = read_uvvis(p, unit=unit)  # type: ignore[arg-type]
        if ref.n_spectra == 1 and ref.labels[0].lower() in {"a", "absorbance", "abs", "a1"}:
            ref = type(ref)(
                ref.wavelength_nm, ref.absorbance, labels=(Path(p).stem,), units=ref.units
            )
        refs.append(ref)
    return refs


def _axis_notes(spectrum: str, spectra: AbsorptionSpectra, refs: list[AbsorptionSpectra]) -> None:
    """Say on stderr where an energy axis was converted, and where the inputs' axes differ."""
    from_ev = "from eV" in spectra.units
    if from_ev:
        print(
            f"nanoalloy uvvis: {spectrum}: an energy axis (eV), read as absorbance per eV and "
            "put on the nm axis with the Jacobian A(nm) = A(eV) E^2 / hc (--unit nm if the "
            "first column is a wavelength)",
            file=sys.stderr,
        )
    if refs and any(("from eV" in r.units) != from_ev for r in refs):
        # the Jacobian reshapes a band by E^2 across it: right where the eV file holds a
        # density (a paper's energy plot), wrong where it holds plain absorbance
        print(
            "nanoalloy uvvis: the spectrum and the references were given on different axes "
            "(nm and eV): the fractions assume the eV files hold absorbance per eV; give "
            "every file on one axis if they hold plain absorbance",
            file=sys.stderr,
        )


def run(args: argparse.Namespace) -> int:
    from ..output import atomic_dir
    from ..uvvis import correct_baseline, find_bands, read_uvvis, unmix

    if not 1 <= args.window <= 500:
        raise UsageError(f"--window must be 1-500 nm, got {args.window:g}")
    if args.range and not (
        all(math.isfinite(v) for v in args.range) and 0 < args.range[0] < args.range[1]
    ):
        lo, hi = args.range
        raise UsageError(f"--range LO HI must satisfy 0 < LO < HI (nm), got {lo:g} {hi:g}")
    spectra = read_uvvis(args.spectrum, unit=args.unit)
    if args.range:
        spectra = spectra.crop(*args.range)
    corrected = correct_baseline(spectra, model=args.baseline, regions=args.baseline_region)
    bands = find_bands(corrected, window_nm=args.window)
    refs = _read_refs(args.refs, args.unit) if args.refs else []
    _axis_notes(args.spectrum, spectra, refs)
    result = None
    if refs:
        result = unmix(spectra, refs, normalize=args.normalize, background=args.background)
    with atomic_dir(args.out) as stage:
        _write_bands(stage / "bands.csv", bands)
        if result is not None:
            _write_fractions(stage / "fractions.csv", result)
        _figure(stage / "uvvis.png", spectra, corrected, bands, result)
    if not args.no_report:
        from ..results.report import write_report

        write_report(args.out, title=f"nanoalloy uvvis: {args.spectrum}")
    what = f"{len(bands)} bands in {spectra.n_spectra} spectra"
    if result is not None:
        what += f", fractions of {len(result.references)} references"
    print(f"wrote {args.out}: {what}")
    return 0


def _fmt(v: float) -> str:
    return "nan" if not math.isfinite(v) else f"{v:.6g}"


def _write_bands(path: Path, bands: list[Band]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["wavelength_nm", "kind", "height", "width_nm", "energy_ev", "spectrum"])
        for b in bands:
            w.writerow(
                [
                    f"{b.wavelength_nm:.2f}",
                    b.kind,
                    _fmt(b.height),
                    _fmt(b.width_nm),
                    f"{b.energy_ev:.4f}",
                    b.spectrum,
                ]
            )


def _write_fractions(path: Path, res: UnmixResult) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "reference",
                "fraction",
                "fraction_sd",
                "coefficient",
                "coefficient_sd",
                "r_squared",
                "spectrum",
            ]
        )
        for i, label in enumerate(res.labels):
            for k, ref in enumerate(res.references):
                w.writerow(
                    [
                        ref,
                        _fmt(res.fractions[i, k]),
                        _fmt(res.fraction_sd[i, k]),
                        _fmt(res.coefficients[i, k]),
                        _fmt(res.coefficient_sd[i, k]),
                        _fmt(res.r_squared[i]),
                        label,
                    ]
                )


def _figure(
    path: Path,
    spectra: AbsorptionSpectra,
    corrected: AbsorptionSpectra,
    bands: list[Band],
    result: UnmixResult | None,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..uvvis import plot_series

    series = spectra.n_spectra > 1
    nrows = 1 + (result is not None)
    fig, axes = plt.subplots(
        nrows, 1, figsize=(7, 3.6 * nrows), layout="constrained", squeeze=False
    )
    ax = axes[0, 0]
    if series:
        plot_series(corrected, ax=ax)
    else:
        ax.plot(
            spectra.wavelength_nm, spectra.absorbance[:, 0], color="0.6", lw=1, label="measured"
        )
        ax.plot(corrected.wavelength_nm, corrected.absorbance[:, 0], color="C0", lw=1.2,
                label="baseline-corrected")  # fmt: skip
        ax.set_xlabel("wavelength (nm)")
        ax.set_ylabel(spectra.units)
    for kind, marker in (("peak", "v"), ("shoulder", "o")):
        sel = [b for b in bands if b.kind == kind]
        if sel:
            ax.plot([b.wavelength_nm for b in sel], [b.height for b in sel], marker, ms=5,
                    mfc="none", color="C3", ls="none", label=f"{kind}s")  # fmt: skip
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(Path(spectra.source or "spectrum").name, fontsize=10)
    if result is not None:
        ax2 = axes[1, 0]
        if series:
            x = np.arange(len(result.labels))
            for k, ref in enumerate(result.references):
                ax2.errorbar(x, result.fractions[:, k], yerr=result.fraction_sd[:, k], marker="o",
                             ms=3, lw=1, label=ref)  # fmt: skip
            ax2.set_xticks(x, result.labels, rotation=45, fontsize=7)
            ax2.set_ylabel("fraction")
        else:
            wl = result.wavelength_nm
            y = result.fitted[:, 0] + result.residual[:, 0]
            ax2.plot(wl, y, color="0.5", lw=1, label="measured")
            ax2.plot(
                wl,
                result.fitted[:, 0],
                color="k",
                lw=1.2,
                label=f"fit, R² = {result.r_squared[0]:.4f}",
            )
            for k, ref in enumerate(result.references):
                comp = result.components[:, k] * result.coefficients[0, k]
                ax2.plot(wl, comp, lw=1, ls="--", label=f"{ref} ({result.fractions[0, k]:.3f})")
            ax2.plot(wl, result.residual[:, 0], color="C3", lw=0.8, label="residual")
            ax2.set_xlabel("wavelength (nm)")
            ax2.set_ylabel(spectra.units)
        ax2.legend(frameon=False, fontsize=8)
    fig.savefig(path, dpi=130)
    plt.close(fig)
