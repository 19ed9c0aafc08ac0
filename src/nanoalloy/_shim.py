"""Old import paths (``nanoalloy.assignment``, ``nanoalloy.formula``, ...) kept for one release.

Each old module replaces itself in :data:`sys.modules` by the module that now holds
its names, so ``from nanoalloy.formula import parse`` and monkeypatching the old
path act on the one real module.
"""

import importlib
from types import ModuleType

#: old module (under nanoalloy) -> where its names live now
MOVED = {
    "assignment": "nanoalloy.ms.assign",
    "elements": "nanoalloy.chem.elements",
    "ligands": "nanoalloy.chem.ligands",
    "formula": "nanoalloy.chem.formula",
    "isotopes": "nanoalloy.chem.isotopes",
    "spectrum": "nanoalloy.ms.spectrum",
    "io": "nanoalloy.ms.io",
    "peaks": "nanoalloy.ms.peaks",
    "library": "nanoalloy.ms.library",
    "fit": "nanoalloy.ms.fit",
    "synth": "nanoalloy.ms.synth",
    "msms": "nanoalloy.ms.msms",
    "composition": "nanoalloy.ms.composition",
    "series": "nanoalloy.results.series",
    "figures": "nanoalloy.results.figures",
    "report": "nanoalloy.results.report",
    "uvvis_unmix": "nanoalloy.uvvis.unmix",
}


def alias(new: str) -> ModuleType:
    """The module now at ``new`` (imported on first use)."""
    return importlib.import_module(new)
