"""On-disk cache of built candidate libraries and their isotope patterns.

Building a preset's library and patterns takes about a second per process;
the result depends only on the preset's content, the ligand and cation
formulas it uses and the package version, so it is kept in the platform cache
folder: ``$NANOALLOY_CACHE_DIR``, else ``$XDG_CACHE_HOME/nanoalloy``, else
``~/.cache/nanoalloy``. Entries are written to a temporary file and renamed
into place (atomic: concurrent processes never see half an entry); an entry
that cannot be read (corrupt, truncated, from another Python) is ignored and
rebuilt.

Contents
--------
cache_dir
    The folder in use.
preset_key
    Hex digest identifying a preset's content.
load, store
    Read and write one entry (``None`` on a miss).
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from .._version import __version__
from ..chem.ligands import CATIONS
from .preset import Preset

__all__ = ["cache_dir", "load", "preset_key", "store"]

_FORMAT = 2  # bump when the cached objects change shape or content (2: mixed counter-ions)


def cache_dir() -> Path:
    """The cache folder (not created here)."""
    env = os.environ.get("NANOALLOY_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "nanoalloy"


def preset_key(preset: Preset, /, *extra: object) -> str:
    """Digest of the preset's content, the formulas it uses, the package version and ``extra``."""
    reg = preset.registry
    names = {preset.ligand, *preset.ligand_names}
    names |= {f.halide for f in preset.families if f.halide}
    ligs = sorted(repr(reg[n]) for n in names if n in reg)
    text = repr((_FORMAT, __version__, repr(preset), ligs, sorted(CATIONS.items()), extra))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def load(kind: str, key: str, /) -> Any | None:
    """The cached object, or None when missing or unreadable."""
    path = cache_dir() / f"{kind}-{key}.pkl"
    # tens of thousands of small objects: the cyclic GC would rescan them all while
    # they load (it doubled the read time); they hold no cycles to collect
    was = gc.isenabled()
    gc.disable()
    try:
        with path.open("rb") as fh:
            obj = pickle.load(fh)  # noqa: S301 - our own cache folder
    except Exception:  # missing, corrupt, truncated, incompatible: rebuild
        return None
    finally:
        if was:
            gc.enable()
    if not (isinstance(obj, tuple) and len(obj) == 2 and obj[0] == key):
        return None
    return obj[1]


def store(kind: str, key: str, obj: Any, /) -> bool:
    """Write an entry atomically; False (silently) when the folder is not writable."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{kind}-", suffix=".tmp", dir=folder)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((key, obj), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, folder / f"{kind}-{key}.pkl")
    except Exception:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True
