"""Moved to :mod:`nanoalloy.chem.formula`; this alias keeps ``nanoalloy.formula`` working for one release.

``import nanoalloy.formula`` gives the module :mod:`nanoalloy.chem.formula` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.formula moved to nanoalloy.chem.formula; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.chem.formula")
