"""Moved to :mod:`nanoalloy.ms.synth`; this alias keeps ``nanoalloy.synth`` working for one release.

``import nanoalloy.synth`` gives the module :mod:`nanoalloy.ms.synth` itself (every name,
private ones too) and warns once. Import from the new place.
"""

import sys
import warnings

from ._shim import alias

warnings.warn(
    "nanoalloy.synth moved to nanoalloy.ms.synth; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = alias("nanoalloy.ms.synth")
