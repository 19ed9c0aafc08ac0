"""Moved to :mod:`nanoalloy.ms.spectrum`; this alias keeps ``nanoalloy.spectrum`` working for one release.

``import nanoalloy.spectrum`` gives the module :mod:`nanoalloy.ms.spectrum` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.spectrum moved to nanoalloy.ms.spectrum; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.ms.spectrum")
