"""Moved to :mod:`nanoalloy.ms.library`; this alias keeps ``nanoalloy.library`` working for one release.

``import nanoalloy.library`` gives the module :mod:`nanoalloy.ms.library` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.library moved to nanoalloy.ms.library; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.ms.library")
