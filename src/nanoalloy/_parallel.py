"""Threads for independent numerical work (private).

The heavy parts of our inner loops (sparse products, LAPACK solves, ``exp``
and interpolation over large arrays) run without the GIL, so plain threads
share the cores without the pickling cost of processes. ``NANOALLOY_THREADS``
sets how many; the default is up to 2 cores (small dense blocks gain nothing
from more, and batch runs parallelise across files instead).

BLAS is held to one thread meanwhile (:func:`serial_blas`, via threadpoolctl):
our dense blocks have a few hundred columns, where OpenBLAS threads only
contend with ours; left at its default, a 2-core machine ran ``assign``
1.5x slower.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

__all__ = ["pmap", "serial_blas", "threads"]

_T = TypeVar("_T")
_R = TypeVar("_R")
_F = TypeVar("_F", bound=Callable[..., Any])


def threads() -> int:
    """Threads for independent work: ``NANOALLOY_THREADS``, else up to 2 cores."""
    env = os.environ.get("NANOALLOY_THREADS", "")
    if env.strip().isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(2, os.cpu_count() or 1))


def pmap(fn: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
    """``[fn(i) for i in items]`` in order, on threads when there is more than one core.

    Callers pass independent tasks only; results never depend on the order in
    which the tasks ran.

    Examples
    --------
    >>> pmap(lambda v: v * v, range(4))
    [0, 1, 4, 9]
    """
    todo = list(items)
    n = min(threads(), len(todo))
    if n <= 1:
        return [fn(i) for i in todo]
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(n)
    try:
        return list(pool.map(fn, todo))
    finally:
        # on Ctrl-C (or an error in one task) the tasks not started are dropped, so the
        # process stops after the running ones, not after the whole list
        pool.shutdown(wait=True, cancel_futures=True)


def serial_blas(fn: _F) -> _F:
    """Decorator: run ``fn`` with BLAS (OpenBLAS, MKL, ...) limited to one thread.

    Examples
    --------
    >>> @serial_blas
    ... def f() -> int:
    ...     return 1
    >>> f()
    1
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import scipy.linalg  # noqa: F401  (load its BLAS too, so that both are limited)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return cast(_F, wrapper)
