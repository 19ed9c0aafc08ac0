"""Benchmark: candidate count and build time of every shipped preset and of ternary alloys.

Run ``python benchmarks/presets.py``. For each preset: candidate ions, time to
enumerate the library, time to build library + isotope patterns (what every
``nanoalloy assign`` process paid before the on-disk cache), and time to read
them back from the cache (``$NANOALLOY_CACHE_DIR``, a temporary folder here).
Two ternary presets that are not shipped show how the library scales:
Au25-x-yAgxCuy(p-MBA)18 with Na+/H+ ladders, and a 44-metal Au/Ag/Cu M44S30.

The last line is ``ratio: N``: build time / cached read time of auag44-pmba.
"""

from __future__ import annotations

import os
import tempfile
import time

TERNARY_25 = """format = 2
name = "ternary-au25-pmba"
[[family]]
name = "Au25-x-yAgxCuy"
metals = { Au = [7, 25], Ag = [0, 12], Cu = [0, 6] }
shell = { p-MBA = 18 }
core_charge = -1
ion_charges = [-3, -4, -5, -6, -7]
max_na = 8
x = "Ag"
"""

TERNARY_44 = """format = 2
name = "ternary-m44s30"
max_candidates = 500000
[[family]]
name = "M44S30"
metals = { Ag = [0, 44], Au = [0, 44], Cu = [0, 6] }
shell = { p-MBA = 30 }
core_charge = -4
ion_charges = [-4, -5]
max_na = 10
x = "Au"
"""


def main() -> None:
    os.environ["NANOALLOY_CACHE_DIR"] = tempfile.mkdtemp(prefix="nanoalloy-bench-")
    from nanoalloy.ms import library
    from nanoalloy.ms.assign import candidates
    from nanoalloy.ms.preset import list_presets, load_preset, preset_from_text

    presets = [load_preset(n) for n in list_presets()]
    presets += [preset_from_text(TERNARY_25, "ternary"), preset_from_text(TERNARY_44, "ternary")]
    print(
        f"{'preset':<22} {'candidates':>10} {'enumerate s':>11} {'+patterns s':>11} {'cached s':>9}"
    )
    ratio = float("nan")
    for p in presets:
        library._LIBRARY_CACHE.clear()
        t0 = time.perf_counter()
        lib = library.enumerate_candidates(p)
        t1 = time.perf_counter()
        library._LIBRARY_CACHE.clear()
        candidates._PATTERN_CACHE.clear()
        t2 = time.perf_counter()
        candidates._library(p)  # build and store
        t3 = time.perf_counter()
        candidates._PATTERN_CACHE.clear()
        library._LIBRARY_CACHE.clear()
        t4 = time.perf_counter()
        candidates._library(p)  # read back
        t5 = time.perf_counter()
        print(f"{p.name:<22} {len(lib):>10} {t1 - t0:>11.2f} {t3 - t2:>11.2f} {t5 - t4:>9.2f}")
        if p.name == "auag44-pmba":
            ratio = (t3 - t2) / (t5 - t4)
    print(f"ratio: {ratio:.1f}")


if __name__ == "__main__":
    main()
