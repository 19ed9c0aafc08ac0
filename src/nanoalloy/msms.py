"""Moved to :mod:`nanoalloy.ms.msms`; this alias keeps ``nanoalloy.msms`` working for one release.

``import nanoalloy.msms`` gives the module :mod:`nanoalloy.ms.msms` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.msms moved to nanoalloy.ms.msms; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.ms.msms")
