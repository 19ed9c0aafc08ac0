"""Moved to :mod:`nanoalloy.ms.composition`; this alias keeps ``nanoalloy.composition`` working for one release.

``import nanoalloy.composition`` gives the module :mod:`nanoalloy.ms.composition` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.composition moved to nanoalloy.ms.composition; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.ms.composition")
