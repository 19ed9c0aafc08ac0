"""``nanoalloy preset new|check|list``: write, check and list candidate presets.

* ``preset new FORMULA [--dope M:LO-HI ...] [--exchange L:LO-HI ...] [--hydrides LO-HI]
  --out FILE.toml`` writes a commented starting preset (refuses to overwrite
  unless ``--force``; written atomically, and always a valid preset);
* ``preset check FILE|NAME [--mz LO:HI] [--resolution R] [--max-pairs N] [--json]``
  validates a preset and prints, per family, the species and candidate-ion
  counts and the m/z coverage, then the near-isobaric ion pairs at that
  resolving power (same charge, average m/z within one FWHM);
* ``preset list`` lists the shipped presets.

A bad preset exits 1 with one line naming the key and the fix.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from ..errors import InputError, UsageError

NAME = "preset"
HELP = "Write (new), check and list candidate presets for any cluster system."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the sub-commands."""
    sub = parser.add_subparsers(dest="preset_command", metavar="ACTION")
    sub.required = True
    new = sub.add_parser("new", help="write a commented starting preset from a formula")
    new.add_argument("formula", help="parent cluster with its core charge, e.g. '[Au25(PET)18]-'")
    new.add_argument(
        "--dope", action="append", default=[], metavar="M:LO-HI", help="dopant range, e.g. Ag:0-4"
    )
    new.add_argument(
        "--exchange",
        action="append",
        default=[],
        metavar="L:LO-HI",
        help="incoming ligand range (mixed shell), e.g. SBB:0-8",
    )
    new.add_argument("--hydrides", metavar="LO-HI", help="hydride count range, e.g. 0-2")
    new.add_argument("--name", help="preset name (default: from the formula)")
    new.add_argument("--sr", metavar="LIGAND", help="ligand that (SR) in FORMULA stands for")
    new.add_argument("--out", required=True, metavar="FILE", help="output .toml")
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    new.add_argument("--ligands", metavar="TOML", help="extra ligand definitions")
    chk = sub.add_parser("check", help="validate a preset; counts, m/z coverage, near-isobars")
    chk.add_argument("preset", help="preset TOML path or shipped name")
    chk.add_argument("--mz", metavar="LO:HI", help="m/z window of your spectra")
    chk.add_argument(
        "--resolution", type=float, default=20_000.0, metavar="R", help="resolving power (20000)"
    )
    chk.add_argument(
        "--max-pairs", type=int, default=10, metavar="N", help="near-isobaric pairs shown (10)"
    )
    chk.add_argument(
        "--max-candidates", type=int, metavar="N", help="override the preset's max_candidates"
    )
    chk.add_argument("--ligands", metavar="TOML", help="extra ligand definitions")
    chk.add_argument("--json", action="store_true", help="print one JSON object")
    sub.add_parser("list", help="list the shipped presets")


def _registry(args: argparse.Namespace):  # noqa: ANN202
    from ..chem.ligands import DEFAULT_LIGANDS

    path = getattr(args, "ligands", None)
    return DEFAULT_LIGANDS.from_toml(path) if path else DEFAULT_LIGANDS


def _mz(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise UsageError(f"--mz must look like 1000:4000, got {text!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise UsageError(f"--mz must satisfy 0 < LO < HI, got {text!r}")
    return lo, hi


def run(args: argparse.Namespace) -> int:
    """Dispatch to the action."""
    if args.preset_command == "new":
        return _new(args)
    if args.preset_command == "check":
        return _check(args)
    return _list()


def _new(args: argparse.Namespace) -> int:
    from ..ms.presetkit import preset_template
    from ..output import atomic_file

    out = Path(args.out)
    if out.suffix.lower() != ".toml":
        raise UsageError(f"--out must end in .toml, got {args.out!r}")
    if out.exists() and not args.force:
        raise InputError(f"{args.out!r} exists; choose another --out or add --force")
    text = preset_template(
        args.formula,
        dope=args.dope,
        exchange=args.exchange,
        hydrides=args.hydrides,
        name=args.name,
        sr=args.sr,
        registry=_registry(args),
    )
    with atomic_file(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(f"wrote {out}; next: nanoalloy preset check {out} --mz LO:HI --resolution R")
    return 0


def _check(args: argparse.Namespace) -> int:
    from ..ms.preset import load_preset
    from ..ms.presetkit import check_preset

    if not (math.isfinite(args.resolution) and 100 <= args.resolution <= 1e7):
        raise UsageError(f"--resolution must be between 100 and 1e7, got {args.resolution}")
    if args.max_pairs < 0:
        raise UsageError("--max-pairs must be >= 0")
    if args.max_candidates is not None and args.max_candidates < 1:
        raise UsageError("--max-candidates must be >= 1")
    p = load_preset(args.preset, registry=_registry(args), max_candidates=args.max_candidates)
    rep = check_preset(p, mz_range=_mz(args.mz), resolution=args.resolution)
    if args.json:
        doc = {
            "preset": rep.preset,
            "valid": True,
            "candidates": rep.candidates,
            "mz_range": list(rep.mz_range) if rep.mz_range else None,
            "resolution": rep.resolution,
            "families": [
                {
                    "name": f.name,
                    "species": f.species,
                    "ions": f.ions,
                    "ions_in_range": f.ions_in_range,
                    "mz_min": None if math.isnan(f.mz_min) else round(f.mz_min, 4),
                    "mz_max": None if math.isnan(f.mz_max) else round(f.mz_max, 4),
                    "x": f.x,
                    "x_range": list(f.x_range),
                }
                for f in rep.families
            ],
            "near_isobaric_pairs": len(rep.isobars),
            "near_isobaric_species_pairs": rep.n_isobar_species,
            "pairs": [
                {"a": a, "b": b, "charge": z, "mz": round(m, 4), "delta_mz": round(d, 4)}
                for a, b, z, m, d in rep.isobars[: args.max_pairs]
            ],
        }
        print(json.dumps(doc, indent=2))
        return 0
    win = f" in m/z {rep.mz_range[0]:g}-{rep.mz_range[1]:g}" if rep.mz_range else ""
    print(f"preset {rep.preset}: valid; {rep.candidates} candidate ions")
    print(
        f"{'family':<24} {'x':>6} {'x range':>9} {'species':>8} {'ions':>7} {'in window':>9}  m/z coverage"
    )
    for f in rep.families:
        cov = "-" if math.isnan(f.mz_min) else f"{f.mz_min:.1f}-{f.mz_max:.1f}"
        xr = f"{f.x_range[0]}-{f.x_range[1]}"
        print(
            f"{f.name:<24} {f.x:>6} {xr:>9} {f.species:>8} {f.ions:>7} {f.ions_in_range:>9}  {cov}"
        )
    empty = [f.name for f in rep.families if rep.mz_range and f.ions_in_range == 0]
    if empty:
        print(f"note: no ion of {', '.join(empty)} falls{win}: widen --mz or add ion charges")
    print(
        f"near-isobaric pairs{win} at R = {rep.resolution:g} (same charge, within one FWHM): "
        f"{len(rep.isobars)} ion pairs, {rep.n_isobar_species} species pairs"
    )
    for a, b, z, m, d in rep.isobars[: args.max_pairs]:
        print(f"  {a}  ~  {b}   z={z:+d}  m/z {m:.3f}  delta {d:.4f}")
    return 0


def _list() -> int:
    from ..ms.preset import list_presets, load_preset

    for name in list_presets():
        p = load_preset(name)
        word = "family  " if len(p.families) == 1 else "families"
        print(f"{name:<22} {len(p.families):>2} {word}  {p.description}")
    return 0
