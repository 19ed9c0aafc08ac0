"""Moved to :mod:`nanoalloy.chem.isotopes`; this alias keeps ``nanoalloy.isotopes`` working for one release.

``import nanoalloy.isotopes`` gives the module :mod:`nanoalloy.chem.isotopes` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.isotopes moved to nanoalloy.chem.isotopes; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.chem.isotopes")
