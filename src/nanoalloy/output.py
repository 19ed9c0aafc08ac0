"""Writing results atomically: never a half-written file or folder.

Contents
--------
atomic_file
    Context manager yielding a temporary path that replaces the target on success.
atomic_dir
    Context manager yielding a staging folder whose files move into the target on success.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_dir", "atomic_file"]

# the process umask, read once at import (os.umask can only be read by setting it)
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], /) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private (0600); results get the usual permissions
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], /) -> Iterator[Path]:
    """Yield a staging folder; on success move its contents into ``path``.

    ``path`` is created if needed. On failure the staging folder is deleted and,
    if ``path`` did not exist before, it is not left behind either.
    """
    target = Path(path)
    existed = target.exists()
    if existed and not target.is_dir():
        raise NotADirectoryError(f"output path {str(target)!r} exists and is not a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        yield stage
        target.mkdir(parents=True, exist_ok=True)
        for item in stage.iterdir():
            dest = target / item.name
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            os.replace(item, dest)
    except BaseException:
        if not existed and target.exists() and not any(target.iterdir()):
            target.rmdir()
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
