"""Moved to :mod:`nanoalloy.uvvis.unmix`; this alias keeps ``nanoalloy.uvvis_unmix`` working for one release.

``import nanoalloy.uvvis_unmix`` gives the module :mod:`nanoalloy.uvvis.unmix` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.uvvis_unmix moved to nanoalloy.uvvis.unmix; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.uvvis.unmix")
