"""``nanoalloy mz FORMULA``: masses, m/z, charges and electron count of a species."""

from __future__ import annotations

import argparse
import json

NAME = "mz"
HELP = "Masses, m/z, core charge and valence electrons of a cluster or ion."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("formula", help="notation, e.g. '[Au44(p-MBA)26+12Na-16H]6-'")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--sr", metavar="LIGAND", help="ligand that SR stands for, e.g. p-MBA")
    parser.add_argument(
        "--ligands", metavar="TOML", help="extra ligand definitions ([ligand.NAME] tables)"
    )


def registry_from_args(args: argparse.Namespace):  # noqa: ANN201 - shared helper for commands
    """The ligand registry selected by ``--ligands`` (default: built-in)."""
    from ..chem.ligands import DEFAULT_LIGANDS

    path = getattr(args, "ligands", None)
    return DEFAULT_LIGANDS.from_toml(path) if path else DEFAULT_LIGANDS


def sr_registry(args: argparse.Namespace):  # noqa: ANN201 - shared helper for commands
    """:func:`registry_from_args`, with ``--sr`` checked against it (an unknown ``--sr``
    was ignored where the formula holds no SR)."""
    registry = registry_from_args(args)
    if args.sr is not None:
        from ..errors import LigandError

        try:
            registry.resolve(args.sr)
        except LigandError as exc:
            raise LigandError(f"--sr {args.sr}: {exc}") from None
    return registry


def run(args: argparse.Namespace) -> int:
    from ..chem.formula import check_chemistry, parse

    registry = sr_registry(args)
    ion = parse(args.formula, sr=args.sr, ligands=registry)
    check_chemistry(ion, ligands=registry, text=args.formula)
    info = ion.to_dict()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    z = ion.charge
    lines = [
        f"formula            {info['formula']}",
        f"elemental formula  {info['elemental_formula']}",
        f"charge             {z:+d}   (core {ion.core_charge:+d})",
        f"valence electrons  {'n/a' if ion.electrons is None else ion.electrons}",
        f"{'m/z' if z else 'mass'} monoisotopic   {info['mz_monoisotopic']:.5f}",
        f"{'m/z' if z else 'mass'} average        {info['mz_average']:.5f}",
        f"{'m/z' if z else 'mass'} most abundant  {info['mz_most_abundant']:.5f}",
    ]
    print("\n".join(lines))
    return 0
