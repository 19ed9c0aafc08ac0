"""Root conftest: the old-path alias modules (``nanoalloy/formula.py``, ...) warn when
imported, so the doctest collection skips them; tests/test_layout.py checks them."""

from nanoalloy._shim import MOVED

collect_ignore = [f"src/nanoalloy/{old}.py" for old in MOVED]
