"""Moved to :mod:`nanoalloy.ms.io`; this alias keeps ``nanoalloy.io`` working for one release.

``import nanoalloy.io`` gives the module :mod:`nanoalloy.ms.io` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.io moved to nanoalloy.ms.io; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.ms.io")
