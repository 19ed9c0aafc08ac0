"""Moved to :mod:`nanoalloy.ms.peaks`; this alias keeps ``nanoalloy.peaks`` working for one release.

``import nanoalloy.peaks`` gives the module :mod:`nanoalloy.ms.peaks` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.peaks moved to nanoalloy.ms.peaks; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.ms.peaks")
