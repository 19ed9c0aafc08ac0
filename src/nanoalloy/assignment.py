"""Moved to :mod:`nanoalloy.ms.assign`; this alias keeps ``nanoalloy.assignment`` working for one release.

``import nanoalloy.assignment`` gives the module :mod:`nanoalloy.ms.assign` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.assignment moved to nanoalloy.ms.assign; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.ms.assign")
