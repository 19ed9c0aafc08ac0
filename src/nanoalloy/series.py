"""Moved to :mod:`nanoalloy.results.series`; this alias keeps ``nanoalloy.series`` working for one release.

``import nanoalloy.series`` gives the module :mod:`nanoalloy.results.series` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.series moved to nanoalloy.results.series; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.results.series")
