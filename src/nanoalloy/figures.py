"""Moved to :mod:`nanoalloy.results.figures`; this alias keeps ``nanoalloy.figures`` working for one release.

``import nanoalloy.figures`` gives the module :mod:`nanoalloy.results.figures` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.figures moved to nanoalloy.results.figures; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.results.figures")
