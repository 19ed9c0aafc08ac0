"""Benchmark of the kinetic model: analytic sparse Jacobian against finite differences.

One 20 h run (R = 3:1) and a 40-ratio sweep (log-spaced 1:40 .. 40:1, 2 processes), each
solved with the analytic Jacobian (ours: the defaults, BDF with the sparse Jacobian for
``simulate`` and LSODA with its dense form for ``sweep``) and by BDF with SciPy's
finite-difference Jacobian on the same network and tolerances (peer). The single run is also
timed with LSODA. Goals: one run <= 0.5 s, sweep <= 10 s.

Usage::

    python benchmarks/kinetics.py

The last line is ``ratio: N`` = peer time / our time for the single 20 h run.
"""

from __future__ import annotations

import time

import numpy as np

from nanoalloy import kinetics as K


def _best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return float(best)


def main() -> None:
    params = K.load_params()
    t = time.perf_counter()
    net = K.build_network(params)
    t_build = time.perf_counter() - t
    K.simulate({"Au44": 3, "Ag44": 1}, network=net, params=params)  # warm-up (imports)

    def ours() -> None:
        K.simulate({"Au44": 3, "Ag44": 1}, hours=20, network=net, params=params)

    def peer() -> None:
        K.simulate({"Au44": 3, "Ag44": 1}, hours=20, network=net, params=params, jacobian="numeric")

    def ours_lsoda() -> None:
        K.simulate({"Au44": 3, "Ag44": 1}, hours=20, network=net, params=params, method="LSODA")

    t_ours = _best(ours)
    t_lsoda = _best(ours_lsoda)
    t_peer = _best(peer, repeat=1)
    ratios = np.geomspace(1 / 40, 40, 40)
    t = time.perf_counter()
    K.sweep(ratios, hours=20, n_jobs=2, params=params)
    s_ours = time.perf_counter() - t
    t = time.perf_counter()
    K.sweep(ratios, hours=20, n_jobs=2, params=params, jacobian="numeric", method="BDF")
    s_peer = time.perf_counter() - t
    print(f"network build                    {t_build:8.3f} s")
    print(f"single 20 h run, analytic Jacobian {t_ours:8.3f} s   (goal <= 0.5 s)")
    print(f"single 20 h run, LSODA + analytic  {t_lsoda:8.3f} s   (dense form of the Jacobian)")
    print(f"single 20 h run, finite-diff peer  {t_peer:8.3f} s   (BDF, same tolerances)")
    print(f"40-ratio sweep (2 procs), analytic {s_ours:8.3f} s   (goal <= 10 s; LSODA, default)")
    print(f"40-ratio sweep (2 procs), peer     {s_peer:8.3f} s   (BDF, finite differences)")
    print(f"sweep ratio peer/ours {s_peer / s_ours:.1f}; next line: single run peer/ours")
    print(f"ratio: {t_peer / t_ours:.1f}")


if __name__ == "__main__":
    main()
