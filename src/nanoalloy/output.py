"""Writing results atomically: never a half-written file or folder, never old beside new.

Files are written to a hidden temporary sibling and renamed over the target.
A results folder is built beside its target and swapped in as a whole, so
nothing of an older run survives beside a newer one. A folder that already
holds files is refused unless overwriting is allowed (``--overwrite`` on the
command line, ``overwrite=True`` or :func:`allow_overwrite` in Python); it is
then replaced as a whole, never merged. The current folder, its parents and
the home folder are never replaced.

Temporary names carry the writing process's id (``.NAME.PID-XXXX.part``).
Parts left by a process that no longer runs (killed with SIGKILL, a power
cut) are removed on the next write to the same target, with a warning on
stderr naming them; parts whose process is unknown are named in a warning and
left alone.

Contents
--------
atomic_file
    Context manager yielding a temporary path that replaces the target on success.
atomic_dir
    Context manager yielding a staging folder that replaces the target folder on success.
check_apart_from_inputs
    Refuse an output path that is, or holds, one of the command's inputs.
check_writable
    Refuse, before any work, an output path that could not be written.
allow_overwrite
    Context manager: let :func:`atomic_dir` replace non-empty folders (what ``--overwrite`` sets).
OutputExistsError
    The output folder already holds files and overwriting was not allowed.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path

from .errors import InputError

__all__ = [
    "OutputExistsError",
    "allow_overwrite",
    "atomic_dir",
    "atomic_file",
    "check_apart_from_inputs",
    "check_output_dir",
    "check_writable",
    "clean_stale_parts",
    "clean_stale_parts_in",
]

log = logging.getLogger("nanoalloy")

# the process umask, read once at import (os.umask can only be read by setting it)
_UMASK = os.umask(0o022)
os.umask(_UMASK)

_OVERWRITE: ContextVar[bool] = ContextVar("nanoalloy_overwrite", default=False)


class OutputExistsError(InputError):
    """The output folder already holds files and overwriting was not allowed."""


@contextlib.contextmanager
def allow_overwrite(flag: bool = True, /) -> Iterator[None]:
    """Within the block, :func:`atomic_dir` replaces non-empty folders (``--overwrite``)."""
    token = _OVERWRITE.set(flag)
    try:
        yield
    finally:
        _OVERWRITE.reset(token)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


_PART = re.compile(r"\.(\d+)-[^.]*\.part$")


def clean_stale_parts(target: Path, /) -> list[Path]:
    """Remove ``.NAME.*.part`` siblings of ``target`` left by processes that no longer run.

    Returns the removed paths (each also logged as a warning). Parts of
    running processes are left alone; parts without a process id (older
    versions) are named in a warning and left alone.
    """
    parent = target.parent
    if not parent.is_dir():
        return []
    pattern = os.path.join(glob.escape(str(parent)), f".{glob.escape(target.name)}.*.part")
    return _clean([Path(p) for p in glob.glob(pattern)])


def clean_stale_parts_in(folder: Path, /) -> list[Path]:
    """Remove every ``.*.part`` entry of ``folder`` left by processes that no longer run."""
    if not folder.is_dir():
        return []
    return _clean([Path(p) for p in glob.glob(os.path.join(glob.escape(str(folder)), ".*.part"))])


def _clean(parts: list[Path]) -> list[Path]:
    removed: list[Path] = []
    for p in parts:
        m = _PART.search(p.name)
        if m is None:
            log.warning("warning: %s looks like partial output of an interrupted run; remove it", p)
            continue
        if _alive(int(m.group(1))):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                p.unlink()
        log.warning("warning: removed %s, partial output left by a killed run", p)
        removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], /) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_parts(target)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.{os.getpid()}-", suffix=".part", dir=target.parent
    )
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


def _protected(target: Path) -> bool:
    """The current folder, any of its parents, the home folder, or a file-system root."""
    t = target.resolve()
    cwd = Path.cwd().resolve()
    home = Path.home().resolve()
    return t == home or t == Path(t.anchor) or t == cwd or t in cwd.parents


def check_apart_from_inputs(
    path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]], /
) -> None:
    """Refuse an output ``path`` that is one of ``inputs`` or a folder holding one.

    Writing there would replace the raw data (``--overwrite`` replaces the folder as a
    whole) or mix results into the data folder, where a rerun reads them as inputs.
    Inputs that do not exist are ignored; glob patterns are expanded. Call it before
    any work.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "spec.csv").write_text("x")
    >>> check_apart_from_inputs(d, [d / "spec.csv"])
    Traceback (most recent call last):
    ...
    nanoalloy.errors.InputError: output ... holds the input ...; choose another --out
    >>> check_apart_from_inputs(d / "results", [d / "spec.csv"])
    """
    target = Path(path)
    if not str(path):
        return
    t = target.resolve()
    for item in inputs:
        text = os.fspath(item)
        if not text:
            continue
        paths = [Path(text)]
        if glob.has_magic(text) and not Path(text).exists():
            paths = [Path(p) for p in glob.glob(text)]
        for p in paths:
            if not (p.exists() or p.is_symlink()):
                continue
            # the path itself and, for a symlink, what it points to
            for r in (p.parent.resolve() / p.name, p.resolve()):
                if r == t or t in r.parents:
                    what = "is the input" if r == t else "holds the input"
                    raise InputError(
                        f"output {str(target)!r} {what} {text!r}: writing there would "
                        "replace the data or mix results into it; choose another --out"
                    )


def check_writable(path: str | os.PathLike[str], /) -> None:
    """Raise :class:`InputError` now if ``path`` (a file or folder to write) could not be made.

    Results are built beside their target, in its parent folder (created when missing).
    The nearest existing ancestor of that parent must be a folder in which a folder can
    be made: a file in the way, a folder without write permission or a read-only file
    system is refused in one line before the work, not after it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a.csv").write_text("x")
    >>> check_writable(d / "a.csv" / "results")
    Traceback (most recent call last):
    ...
    nanoalloy.errors.InputError: cannot write ...: ... is a file, not a folder
    >>> check_writable(d / "new" / "results")
    """
    target = Path(path)
    if not str(path):
        return
    parent = target.absolute().parent
    existing = parent
    while not (existing.exists() or existing.is_symlink()) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"cannot write {str(target)!r}: {str(existing)!r} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(
            f"cannot write {str(target)!r}: no permission to write in folder {str(existing)!r}"
        )
    try:  # what the write does first: a hidden folder beside the target (read-only mounts)
        probe = tempfile.mkdtemp(prefix=".nanoalloy-write-check.", dir=existing)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        # (a read-only mount, or a virtual one such as /proc, which answers "No such file")
        raise InputError(
            f"cannot write {str(target)!r}: folder {str(existing)!r} takes no new files "
            f"({reason}); write somewhere else"
        ) from None
    os.rmdir(probe)


def check_output_dir(path: str | os.PathLike[str], /, *, overwrite: bool | None = None) -> None:
    """Raise now what :func:`atomic_dir` would refuse (call it before long work).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "old.csv").write_text("x")
    >>> check_output_dir(d)
    Traceback (most recent call last):
    ...
    nanoalloy.output.OutputExistsError: output folder ... already holds files; pass --overwrite ...
    >>> check_output_dir(d, overwrite=True)
    """
    target = Path(path)
    allowed = _OVERWRITE.get() if overwrite is None else overwrite
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"output path {str(target)!r} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()):
        if _protected(target):
            raise OutputExistsError(
                f"output folder {str(target)!r} is the current folder, one of its parents or "
                "the home folder: results go into a folder of their own; choose another --out"
            )
        if not allowed:
            raise OutputExistsError(
                f"output folder {str(target)!r} already holds files; pass --overwrite to "
                "replace it as a whole, or choose another folder"
            )


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], /, *, overwrite: bool | None = None) -> Iterator[Path]:
    """Yield a staging folder beside ``path``; on success it replaces ``path`` as a whole.

    Parameters
    ----------
    path
        Target folder. Created if missing; an empty folder is replaced.
    overwrite
        Replace a folder that already holds files (its whole content goes).
        Default: what :func:`allow_overwrite` set (False unless ``--overwrite``).

    Raises
    ------
    OutputExistsError
        ``path`` holds files and overwriting is not allowed, or ``path`` is the
        current folder, one of its parents or the home folder. Raised before
        anything is written.
    NotADirectoryError
        ``path`` exists and is not a folder.

    On failure the staging folder is deleted and ``path`` is untouched.
    """
    target = Path(path)
    check_output_dir(target, overwrite=overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_parts(target)
    pid = os.getpid()
    parent = target.parent
    # the stage is PART/NAME, so that it carries the target's name while it is built
    part = Path(tempfile.mkdtemp(prefix=f".{target.name}.{pid}-", suffix=".part", dir=parent))
    stage = part / target.name
    stage.mkdir()
    try:
        yield stage
        os.chmod(stage, 0o777 & ~_UMASK)
        if target.is_symlink() or target.exists():
            old = part / ".old"
            os.rename(target, old)
            try:
                os.rename(stage, target)
            except BaseException:
                os.rename(old, target)
                raise
        else:
            os.rename(stage, target)
    finally:
        shutil.rmtree(part, ignore_errors=True)
