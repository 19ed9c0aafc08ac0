"""Moved to :mod:`nanoalloy.chem.ligands`; this alias keeps ``nanoalloy.ligands`` working for one release.

``import nanoalloy.ligands`` gives the module :mod:`nanoalloy.chem.ligands` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.ligands moved to nanoalloy.chem.ligands; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.chem.ligands")
