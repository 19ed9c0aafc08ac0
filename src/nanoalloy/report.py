"""Moved to :mod:`nanoalloy.results.report`; this alias keeps ``nanoalloy.report`` working for one release.

``import nanoalloy.report`` gives the module :mod:`nanoalloy.results.report` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.report moved to nanoalloy.results.report; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.results.report")
