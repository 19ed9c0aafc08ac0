"""Calibrate the default kinetic parameters against DOMAIN.md and write the TOML.

The targets are the feed-ratio table of Lin et al. (Chem. Sci. 2022, Fig. 2/S6) and the
electron rule near R = 1 (see ``TARGETS``). A handful of parameters is tuned by a seeded
random search followed by Nelder-Mead on a smooth penalty; the free-energy offsets ``g`` of
M44S27 and M44S26 are not free but follow from the framework crossing points.

Usage::

    python scripts/calibrate_kinetics.py [--evals N] [--jobs J] [--write]

Without ``--write`` it prints the best parameters and the outcome table only. Reproducible:
the random generator is seeded (``SEED``) and the penalty is deterministic.
"""

from __future__ import annotations

import argparse
import copy
import math
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from nanoalloy import kinetics as K

SEED = 20220418
TOML = Path(__file__).resolve().parents[1] / "src/nanoalloy/data/kinetics_default.toml"

# (ratio, family, mode range, minimum family fraction)
TARGETS: list[tuple[float, str, tuple[int, int], float]] = [
    (1 / 40, "M44S30", (0, 1), 0.9),
    (1 / 10, "M44S30", (6, 8), 0.9),
    (1 / 3, "M44S30", (12, 12), 0.9),
    (1 / 2, "M44S30", (11, 12), 0.7),
    (0.9, "M44S30", (10, 12), 0.6),
    (1.1, "M44S27", (17, 23), 0.6),
    (2.0, "M44S27", (19, 21), 0.8),
    (3.0, "M44S27", (20, 22), 0.7),
    (6.0, "M44S26", (39, 43), 0.25),
    (6.0, "M44S27", (20, 24), 0.25),
    (30.0, "M44S26", (42, 44), 0.8),
]

# name: (path, low, high, log-scale)
FREE: dict[str, tuple[tuple[Any, ...], float, float, bool]] = {
    "ico": (("energy", "M44S30", "ico"), 3.0, 12.0, False),
    "x0_27": (("energy", "M44S27", "x0"), 17.0, 21.0, False),
    "kappa27": (("energy", "M44S27", "kappa"), 0.15, 2.5, True),
    "k_au": (("induced_decomposition", "k_au"), 0.5, 100.0, True),
    "attack": (("attack", "k"), 0.02, 5.0, True),
    "y0": (("attack", "y0"), 0.5, 4.0, True),
    "pref": (("substitution", "au_preference"), -4.0, 0.5, False),
    "hi27": (("window", "M44S27", 1), 20.0, 26.0, False),
}
# fixed by hand: Au-doped M44S30 consumed within ~60 min at 3:1 without losing the 18-electron
# majority at R = 0.9 (a scan of k_ag in 0.14..1.5 with the other values at START)
FIXED: dict[tuple[str, ...], float] = {("induced_decomposition", "k_ag"): 0.8}
# the starting point (found by earlier runs of this script from the hand-made first guess)
START: dict[str, float] = {
    "ico": 8.9232,
    "x0_27": 18.51894,
    "kappa27": 1.20337,
    "k_au": 91.4941,
    "attack": 0.91277,
    "y0": 2.09134,
    "pref": -2.78491,
    "hi27": 24,
}
CROSS_30_27 = 15.5  # framework crossing points (x) that fix g of M44S27 and M44S26
CROSS_27_26 = 36.5


def with_crossings(p: dict[str, Any]) -> dict[str, Any]:
    """Set g of M44S27 and M44S26 so that mu crosses at CROSS_30_27 and CROSS_27_26."""
    e30, e27, e26 = (p["energy"][f] for f in K.FAMILIES)

    def mu(e: dict[str, Any], x: float) -> float:
        return (
            0.5 * e.get("kappa", 0.0) * (x - e.get("x0", 0.0)) ** 2
            - e.get("ico", 0.0) * min(x, 12)
            + e.get("shell", 0.0) * max(x - 12, 0)
        )

    e27["g"] = round(mu(e30, CROSS_30_27) + e30.get("g", 0.0) - mu(e27, CROSS_30_27), 4)
    e26["g"] = round(mu(e27, CROSS_27_26) + e27["g"] - mu(e26, CROSS_27_26), 4)
    return p


def make_params(theta: np.ndarray, base: dict[str, Any]) -> dict[str, Any]:
    p = copy.deepcopy(base)
    for (_name, (path, lo, hi, log)), t in zip(FREE.items(), theta, strict=True):
        u = min(max(float(t), 0.0), 1.0)
        val = (
            math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
            if log
            else lo + u * (hi - lo)
        )
        node: Any = p
        for key in path[:-1]:
            node = node[key]
        if isinstance(path[-1], int):
            node[path[-1]] = int(round(val))
        else:
            node[path[-1]] = round(val, 5)
    return with_crossings(p)


TIMES = np.array([0, 2, 10, 30, 60, 120, 180, 1200]) / 60  # h, the sampling of Fig. 3


def outcomes(p: dict[str, Any]) -> dict[float, dict[str, Any]]:
    net = K.build_network(p)
    out = {}
    for r in sorted({t[0] for t in TARGETS}):
        res = K.simulate({"Au44": r, "Ag44": 1.0}, hours=20.0, network=net, params=p, times=TIMES)
        s = res.summary
        cl = res.clusters[-1]
        s["dist"] = cl / max(cl.sum(), 1e-300)
        s["tc"] = res.family_timecourse()
        s["au44"] = res.clusters[:, 2, 44] / max(res.clusters[0, 2, 44], 1e-300)
        out[r] = s
    return out


def timecourse_penalty(res: dict[float, dict[str, Any]]) -> float:
    """Order of events of Fig. 3 at R = 3:1 and 1:3 (indices into TIMES)."""
    pen = 0.0
    tc = res[3.0]["tc"]
    pen += 10 * max(0.0, tc["M44S30"][4] - 0.02) ** 2  # M44S30 consumed by 60 min
    pen += 10 * max(0.0, 0.5 - tc["M44S26"][2]) ** 2  # M44S26 main at 10 min
    pen += 10 * max(0.0, tc["M44S27"][3] - tc["M44S27"][5] + 0.05) ** 2  # 27 grows
    pen += 10 * max(0.0, tc["M44S27"][5] - tc["M44S27"][7] + 0.05) ** 2
    tc = res[1 / 3]["tc"]
    pen += 10 * max(0.0, res[1 / 3]["au44"][2] - 0.05) ** 2  # Au44 gone in minutes
    pen += 0.1 * max(0.0, 5.5 - tc["M44S30:x"][4]) ** 2  # x > 5 by 60 min
    pen += 0.1 * max(0.0, tc["M44S30:x"][1] - 4.0) ** 2  # still Ag44-like at 2 min
    return pen


def penalty(p: dict[str, Any]) -> float:
    try:
        res = outcomes(p)
    except Exception:  # noqa: BLE001 - a failing corner of parameter space is just bad
        return 1e3
    pen = 0.0
    xs = np.arange(45)
    for r, fam, (lo, hi), fmin in TARGETS:
        s = res[r]
        k = K.FAMILIES.index(fam)
        frac = s["fractions"][fam]
        pen += 10 * max(0.0, fmin - frac) ** 2
        d = s["dist"][k]
        if d.sum() <= 0:
            pen += 10
            continue
        d = d / d.sum()
        mode = int(np.argmax(d))
        pen += 0.2 * max(0, lo - mode, mode - hi) ** 2
        inside = d[lo : hi + 1].sum()  # mass in the target range
        pen += 1.0 * (1 - inside) ** 2
        mean = float((d * xs).sum())
        pen += 0.02 * max(0.0, lo - 0.5 - mean, mean - hi - 0.5) ** 2
    return pen + timecourse_penalty(res)


def _eval(args: tuple[np.ndarray, dict[str, Any]]) -> float:
    theta, base = args
    return penalty(make_params(theta, base))


def table(p: dict[str, Any]) -> str:
    res = outcomes(p)
    lines = []
    for r, s in res.items():
        fr = " ".join(
            f"{f}:{s['fractions'][f]:.2f}/mode {s['mode_x'][f]}"
            for f in K.FAMILIES
            if s["fractions"][f] > 0.01
        )
        lines.append(f"R={r:7.4f}  {fr}")
    return "\n".join(lines)


def write_toml(p: dict[str, Any]) -> None:
    """Substitute calibrated values into the commented default TOML."""
    text = TOML.read_text()
    for fam in K.FAMILIES:
        e = p["energy"][fam]
        inner = ", ".join(f"{k} = {v!r}" for k, v in e.items())
        text = re.sub(rf"(?m)^{fam} = \{{.*\}}$", f"{fam} = {{ {inner} }}", text)
        lo, hi = p["window"][fam]
        text = re.sub(rf"(?m)^{fam} = \[.*\]$", f"{fam} = [{lo}, {hi}]", text)
    section = None
    out = []
    for line in text.splitlines():
        m = re.match(r"^\[(\w+)\]", line)
        if m:
            section = m.group(1)
        m2 = re.match(r"^(\w+)(\s*=\s*)([-0-9.eE+]+)(\s*#.*)?$", line)
        if m2 and section in p and m2.group(1) in p[section] and section not in ("energy",):
            val = p[section][m2.group(1)]
            if isinstance(val, int | float) and not isinstance(val, bool):
                line = f"{m2.group(1)}{m2.group(2)}{val!r}{m2.group(4) or ''}"
        out.append(line)
    TOML.write_text("\n".join(out) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evals", type=int, default=48, help="random-search evaluations")
    ap.add_argument("--nm", type=int, default=60, help="Nelder-Mead evaluations")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--write", action="store_true", help="write the TOML")
    args = ap.parse_args()
    from scipy.optimize import minimize

    base = K.load_params()
    for path, val in FIXED.items():
        node: Any = base
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = val
    rng = np.random.default_rng(SEED)
    # start: START mapped into the unit cube
    t0 = []
    for name, (_path, lo, hi, log) in FREE.items():
        v = float(START[name])
        t0.append((math.log(v / lo) / math.log(hi / lo)) if log else (v - lo) / (hi - lo))
    cands = [np.clip(np.array(t0), 0, 1)]
    cands += [np.clip(cands[0] + rng.normal(0, 0.15, len(FREE)), 0, 1) for _ in range(args.evals)]
    with ProcessPoolExecutor(args.jobs) as ex:
        pens = list(ex.map(_eval, [(c, base) for c in cands]))
    order = np.argsort(pens)
    best = cands[int(order[0])]
    print(f"random search: best penalty {pens[int(order[0])]:.4f} (start {pens[0]:.4f})")
    if args.nm > 0:
        sol = minimize(
            lambda th: _eval((th, base)),
            best,
            method="Nelder-Mead",
            options={"maxfev": args.nm, "xatol": 1e-3, "fatol": 1e-4, "initial_simplex": None},
        )
        if sol.fun < pens[int(order[0])]:
            best = sol.x
        print(f"Nelder-Mead: penalty {sol.fun:.4f}")
    p = make_params(best, base)
    for name, (path, *_rest) in FREE.items():
        node = p
        for key in path:
            node = node[key]
        print(f"{name:8s} {node}")
    print(table(p))
    if args.write:
        write_toml(p)
        print(f"wrote {TOML}")


if __name__ == "__main__":
    main()
