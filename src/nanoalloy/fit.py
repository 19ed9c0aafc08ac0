"""Moved to :mod:`nanoalloy.ms.fit`; this alias keeps ``nanoalloy.fit`` working for one release.

``import nanoalloy.fit`` gives the module :mod:`nanoalloy.ms.fit` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.fit moved to nanoalloy.ms.fit; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.ms.fit")
