"""Moved to :mod:`nanoalloy.chem.elements`; this alias keeps ``nanoalloy.elements`` working for one release.

``import nanoalloy.elements`` gives the module :mod:`nanoalloy.chem.elements` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.elements moved to nanoalloy.chem.elements; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.chem.elements")
