"""Species, parameters and the compiled reaction network of the Au44 + Ag44 model.

Contents
--------
FAMILIES, PROCESSES, SPECIES_NAMES
    Framework names, process names, state-vector species names.
Network
    Stoichiometry, mass-action rate laws, right-hand side and analytic sparse Jacobian.
build_network
    Compile a parameter set into a :class:`Network` (the chemical assumptions are listed there).
composition_matrix
    Au, Ag, ligand and charge content of every species (the conservation vectors).
load_params, merge_params
    Read the default or a user TOML; merge overrides.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import KineticsError

__all__ = [
    "FAMILIES",
    "Network",
    "PROCESSES",
    "SPECIES_NAMES",
    "build_network",
    "composition_matrix",
    "load_params",
    "merge_params",
]

FAMILIES: tuple[str, ...] = ("M44S30", "M44S27", "M44S26")
"""Framework names, in order of decreasing ligand count."""

NX = 45
"""Compositions per family (x = 0..44)."""
LIGANDS = {"M44S30": 30, "M44S27": 27, "M44S26": 26}
CHARGE = {"M44S30": -4, "M44S27": -3, "M44S26": -2}
IAU = 3 * NX  # [Au(SR)2]-
IAG = IAU + 1  # [Ag(SR)2]-
IRS = IAU + 2  # RS-
IRSSR = IAU + 3  # RSSR
NS = IAU + 4
ONE = NS  # index of the constant 1 used by first-order rate laws
SPECIES_NAMES: tuple[str, ...] = tuple(
    [f"{f}:{x}" for f in FAMILIES for x in range(NX)] + ["Au(SR)2", "Ag(SR)2", "RS", "RSSR"]
)
PROCESSES = (
    "attack",
    "conversion",
    "decomposition",
    "exchange",
    "induced_decomposition",
    "reconstruction",
    "substitution",
)
_ALIASES = {
    "au44": "M44S26:44",
    "ag44": "M44S30:0",
    "au(sr)2": "Au(SR)2",
    "ag(sr)2": "Ag(SR)2",
    "rs": "RS",
    "rssr": "RSSR",
}

FloatArray = npt.NDArray[np.float64]
_ENERGY_KEYS = ("g", "x0", "kappa", "ico", "shell")


def _idx(family: str, x: int) -> int:
    return FAMILIES.index(family) * NX + x


def composition_matrix() -> FloatArray:
    """Conserved quantities per species: rows Au, Ag, ligand (SR), charge.

    Returns
    -------
    numpy.ndarray
        Shape (4, n_species).
    """
    w = np.zeros((4, NS))
    for f in FAMILIES:
        for x in range(NX):
            i = _idx(f, x)
            w[:, i] = (x, NX - 1 - x, LIGANDS[f], CHARGE[f])
    w[:, IAU] = (1, 0, 2, -1)
    w[:, IAG] = (0, 1, 2, -1)
    w[:, IRS] = (0, 0, 1, -1)
    w[:, IRSSR] = (0, 0, 2, 0)
    return w


# ----------------------------------------------------------------------------------------
# parameters


def load_params(path: str | Path | None = None, /) -> dict[str, Any]:
    """Read a parameter TOML (default: the shipped, calibrated set).

    Parameters
    ----------
    path
        A TOML file; keys missing from it take their default values.

    Returns
    -------
    dict
        Nested parameter dictionary (see ``data/kinetics_default.toml`` for units).

    Examples
    --------
    >>> p = load_params()
    >>> p["window"]["M44S30"]
    [0, 12]
    """
    text = resources.files("nanoalloy").joinpath("data/kinetics_default.toml").read_text()
    params: dict[str, Any] = tomllib.loads(text)
    for fam in FAMILIES:  # every energy term is present (0 when unused)
        params["energy"][fam] = {k: 0.0 for k in _ENERGY_KEYS} | params["energy"][fam]
    if path is not None:
        try:
            user = tomllib.loads(Path(path).read_text())
        except tomllib.TOMLDecodeError as exc:
            raise KineticsError(f"parameter file {str(path)!r} is not valid TOML: {exc}") from None
        params = merge_params(params, user)
    _check_params(params)
    return params


def merge_params(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base``; unknown sections are errors."""
    out = copy.deepcopy(dict(base))
    for key, val in update.items():
        if key not in out:
            raise KineticsError(f"unknown parameter section or key {key!r}")
        if isinstance(val, Mapping) and isinstance(out[key], Mapping):
            out[key] = merge_params(out[key], val)
        else:
            out[key] = val
    return out


def _check_params(p: Mapping[str, Any]) -> None:
    for name in PROCESSES:
        if not isinstance(p["processes"].get(name), bool):
            raise KineticsError(f"processes.{name} must be true or false")
    for sec in ("exchange", "attack", "substitution", "conversion"):
        if not float(p[sec]["k"]) >= 0:
            raise KineticsError(f"{sec}.k must be >= 0, got {p[sec]['k']!r}")
    for f in FAMILIES:
        lo, hi = p["window"][f]
        if not 0 <= lo <= hi <= 44:
            raise KineticsError(f"window.{f} must satisfy 0 <= lo <= hi <= 44")
    if p["buffer"]["thiolate"] < 0 or p["buffer"]["disulfide"] < 0:
        raise KineticsError("buffer concentrations must be >= 0")


# ----------------------------------------------------------------------------------------
# network


@dataclass(frozen=True, slots=True)
class Network:
    """A compiled reaction network: stoichiometry, mass-action rate laws and Jacobian.

    Reaction ``r`` runs at ``k[r] * c[i[r]] * c[j[r]]`` where ``c`` is the state extended by a
    constant 1 at index ``n_species`` (so first-order laws use ``j = n_species``).

    The ~17 000 exchange reactions have separable rate constants
    ``k_ex a_f(x) e^{-dmu_f(x)/2} * b_g(y) e^{dmu_g(y-1)/2}``, so :meth:`rhs` and
    :meth:`jacobian` evaluate them in O(n) as acceptor and donor sums (identical to the
    explicit reactions in :attr:`stoich`, which tests check); all other reactions go through
    the generic sparse path.
    """

    stoich: Any
    """Stoichiometry matrix, ``scipy.sparse.csr_matrix`` of shape (n_species, n_reactions)."""
    i: npt.NDArray[np.intp]
    """First rate-law species of each reaction."""
    j: npt.NDArray[np.intp]
    """Second rate-law species (``n_species`` for first order)."""
    k: FloatArray
    """Rate constant of each reaction (h^-1 or c0^-1 h^-1)."""
    process: tuple[str, ...]
    """Process names; ``group`` indexes into it."""
    group: npt.NDArray[np.intp]
    """Index into ``process`` for each reaction."""
    ex_acc: FloatArray
    """Acceptor factor of every cluster (k_ex a e^{-dmu/2}; 0 where exchange is off)."""
    ex_don: FloatArray
    """Donor factor of every cluster (b e^{dmu/2})."""
    _fast: tuple[Any, ...] = field(repr=False)

    @property
    def n_reactions(self) -> int:
        """Number of reactions."""
        return int(self.k.size)

    def rates(self, c: FloatArray) -> FloatArray:
        """Rates of all reactions (explicit form) at state ``c``."""
        ce = np.append(c, 1.0)
        return self.k * ce[self.i] * ce[self.j]

    def rhs_explicit(self, t: float, c: FloatArray) -> FloatArray:
        """``stoich @ rates(c)``: the slow reference form of :meth:`rhs`."""
        return np.asarray(self.stoich @ self.rates(c))

    def rhs(self, t: float, c: FloatArray) -> FloatArray:
        """Time derivative d c / d t."""
        s_o, i_o, j_o, k_o = self._fast[:4]
        ce = np.append(c, 1.0)
        out = np.asarray(s_o @ (k_o * ce[i_o] * ce[j_o]))
        cl = c[: 3 * NX]
        u = self.ex_acc * cl
        v = self.ex_don * cl
        uu, vv = u.sum(), v.sum()
        # acceptor x -> x+1 at u V; donor y -> y-1 at v U (within each family block)
        d = -u * vv - v * uu
        d[1:] += u[:-1] * vv  # ex_acc is 0 at x = 44, so nothing leaks across families
        d[:-1] += v[1:] * uu  # ex_don is 0 at x = 0
        out[: 3 * NX] += d
        return out

    def jacobian(self, t: float, c: FloatArray) -> Any:
        """Analytic Jacobian, a ``scipy.sparse.csc_matrix``."""
        return self._jac_sparse(c)

    def _jac_sparse(self, c: FloatArray) -> Any:
        from scipy import sparse

        return sparse.csc_matrix(self.jacobian_dense(0.0, c))

    def jacobian_dense(self, t: float, c: FloatArray) -> FloatArray:
        """Analytic Jacobian as a dense array (same values as :meth:`jacobian`)."""
        _s, i_o, j_o, k_o, rows, cols, slot, coef = self._fast
        ce = np.append(c, 1.0)
        d = np.concatenate([k_o * ce[j_o], k_o * ce[i_o]])
        jac = np.zeros((NS, NS))
        np.add.at(jac, (rows, cols), coef * d[slot])
        n = 3 * NX
        cl = c[:n]
        acc, don = self.ex_acc, self.ex_don
        u, v = acc * cl, don * cl
        uu, vv = u.sum(), v.sum()
        pu = -u.copy()
        pu[1:] += u[:-1]  # (P - I) u
        qv = -v.copy()
        qv[:-1] += v[1:]  # (Q - I) v
        blk = np.outer(pu, don) + np.outer(qv, acc)
        idx = np.arange(n)
        blk[idx, idx] -= acc * vv + don * uu
        blk[idx[1:], idx[:-1]] += acc[:-1] * vv
        blk[idx[:-1], idx[1:]] += don[1:] * uu
        jac[:n, :n] += blk
        return jac

    @property
    def sparsity(self) -> Any:
        """Structural sparsity pattern of the Jacobian (``scipy.sparse.csc_matrix``)."""
        from scipy import sparse

        pat = np.zeros((NS, NS), dtype=bool)
        _s, _i, _j, _k, rows, cols = self._fast[:6]
        pat[rows, cols] = True
        if np.any(self.ex_acc):
            pat[: 3 * NX, : 3 * NX] = True
        return sparse.csc_matrix(pat.astype(float))

    def scaled(self, factors: Mapping[str, float]) -> Network:
        """A copy with the rate constants of the named processes multiplied."""
        from dataclasses import replace

        f = np.ones(len(self.process))
        for name, val in factors.items():
            f[self.process.index(name)] = float(val)
        s_o, i_o, j_o, k_o, *rest = self._fast
        g_o = self._fast_group
        return replace(
            self,
            k=self.k * f[self.group],
            ex_acc=self.ex_acc * f[self.process.index("exchange")],
            _fast=(s_o, i_o, j_o, k_o * f[g_o], *rest),
        )

    @property
    def _fast_group(self) -> npt.NDArray[np.intp]:
        return np.asarray(self.group[self.group != self.process.index("exchange")])


def _site_factors(family: str, shell: float) -> tuple[FloatArray, FloatArray]:
    """Acceptor factor a(x) (sites open to Au) and donor factor b(x) (Au able to leave).

    Assumption: in M44S30 only the 12 icosahedral sites exchange readily; the 32 outer sites
    exchange ``shell`` times slower and fill only after the icosahedron (site-ordered filling).
    The other frameworks exchange at all 44 sites.
    """
    x = np.arange(NX, dtype=float)
    if family == "M44S30":
        a = np.where(x < 12, 12 - x, shell * (44 - x))
        b = np.where(x <= 12, x, shell * (x - 12))
    else:
        a = 44 - x
        b = x.copy()
    return a, b


def _mu(p: Mapping[str, Any], family: str) -> FloatArray:
    """Composition free energy mu_f(x) in kT (see ``build_network``)."""
    e = p["energy"][family]
    x = np.arange(NX, dtype=float)
    mu = 0.5 * float(e.get("kappa", 0.0)) * (x - float(e.get("x0", 0.0))) ** 2
    mu -= float(e.get("ico", 0.0)) * np.minimum(x, 12)
    mu += float(e.get("shell", 0.0)) * np.maximum(x - 12, 0)
    return np.asarray(mu + float(e.get("g", 0.0)), dtype=float)


def _decomp_k(p: Mapping[str, Any], family: str) -> FloatArray:
    d = p["decomposition"]
    lo, hi = p["window"][family]
    x = np.arange(NX, dtype=float)
    dist = np.maximum(np.maximum(lo - x, x - hi), 0.0)
    kin, kout = float(d["k_inside"]), float(d["k_outside"])
    return kin + (kout - kin) * (1.0 - np.exp(-dist / float(d["width"])))


def build_network(params: Mapping[str, Any] | None = None, /) -> Network:
    """Compile the reaction network for a parameter set.

    Chemical assumptions (all phenomenological, chosen to reproduce the observations of Lin et
    al. 2022 with the fewest ingredients):

    * **Exchange** ``M_f[x] + M_g[y] -> M_f[x+1] + M_g[y-1]`` (one Au moves from g to f, one Ag
      back) at ``k a_f(x) b_g(y) exp(-(dmu_f + dmu_g)/2)``; with the site factors of
      ``_site_factors`` this obeys detailed balance with respect to
      ``pi_f(x) ~ g_f(x) exp(-mu_f(x)) lambda^x`` (binomial degeneracy ``g_f``), so pure
      exchange with flat ``mu`` relaxes to the binomial distribution.
    * **Composition energy** ``mu_f(x) = kappa_f (x - x0_f)^2 / 2 + g_f`` per framework. Its
      curvature narrows distributions (focusing); its minimum sets where a framework wants its
      core (M44S30 at the full icosahedron x = 12, M44S27 near x = 21, M44S26 at x = 44).
    * **Decomposition** into complexes, first order, slow inside a family's stability window
      and fast outside it. RS- and RSSR balance ligand and charge (the valence electrons
      reduce disulfide).
    * **Induced decomposition** (both partners are catalysts of the other's break-up): M44S26
      decomposes on encounters with M44S30 that still has free icosahedral sites (rate
      ~ 12 - y), which destroys Au44 within minutes when Ag44 is in excess; Au-doped M44S30
      decomposes on encounters with Au-rich M44S26 (rate ~ y (x/44)^2), which consumes the
      M44S30 within the first hour when Au44 is in excess. Together they act as a titration
      of one parent framework by the other, which is why the surviving framework (18 e or
      20 e) switches at R = 1: the electron rule of DOMAIN.md is an outcome, not an input.
    * **Attack**: Ag-rich M44S30 is destabilised by Au(I) complexes (rate ~ exp(-y/y0)); doped
      clusters resist. This loses some Ag44 and concentrates Au in the survivors (focusing at
      low R).
    * **Substitution** ``M_f[x] + Au(SR)2- <-> M_f[x+1] + Ag(SR)2-`` with detailed balance.
    * **Reconstruction**: complexes re-form the parents, ``2 Au(SR)2- -> ... -> Au44`` and
      ``2 Ag(SR)2- -> ... -> Ag44`` (effective second-order rate law for a 44-fold
      stoichiometry; RS- and RSSR are released).
    * **Framework conversion** at fixed core ``M44S26 + RS- <-> M44S27`` and
      ``M44S27 + RS- + RSSR <-> M44S30`` with rates ``2k / (1 + exp(+-dG))`` (bounded,
      detailed balance), ``dG`` the difference of composition energies: the core composition decides the framework.
    * RS- and RSSR are a buffer in excess: rate laws do not depend on them.

    Parameters
    ----------
    params
        Parameter dictionary (default: :func:`load_params`).

    Returns
    -------
    Network
    """
    from scipy import sparse

    p = load_params() if params is None else params
    on = p["processes"]
    rows: list[npt.NDArray[np.intp]] = []  # stoichiometry triplets
    cols: list[npt.NDArray[np.intp]] = []
    vals: list[FloatArray] = []
    ii: list[npt.NDArray[np.intp]] = []
    jj: list[npt.NDArray[np.intp]] = []
    kk: list[FloatArray] = []
    grp: list[npt.NDArray[np.intp]] = []
    n_r = 0

    def add(
        species: Sequence[npt.ArrayLike],
        coefs: Sequence[npt.ArrayLike],
        ri: npt.ArrayLike,
        rj: npt.ArrayLike,
        k: npt.ArrayLike,
        process: str,
    ) -> None:
        nonlocal n_r
        k_arr = np.asarray(k, dtype=float).ravel()
        m = k_arr.size
        if m == 0:
            return
        ids = np.arange(n_r, n_r + m)
        for s, v in zip(species, coefs, strict=True):
            rows.append(np.broadcast_to(np.asarray(s, dtype=np.intp).ravel(), (m,)).copy())
            cols.append(ids)
            vals.append(np.broadcast_to(np.asarray(v, dtype=float).ravel(), (m,)).copy())
        ii.append(np.broadcast_to(np.asarray(ri, dtype=np.intp).ravel(), (m,)).copy())
        jj.append(np.broadcast_to(np.asarray(rj, dtype=np.intp).ravel(), (m,)).copy())
        kk.append(k_arr)
        grp.append(np.full(m, PROCESSES.index(process), dtype=np.intp))
        n_r += m

    x = np.arange(NX)
    site = {f: _site_factors(f, float(p["exchange"]["shell_factor"])) for f in FAMILIES}
    mu = {f: _mu(p, f) for f in FAMILIES}
    # dmu_up[x] = mu(x+1) - mu(x) for x = 0..43
    dup = {f: np.diff(mu[f]) for f in FAMILIES}

    ex_acc = np.zeros(3 * NX)
    ex_don = np.zeros(3 * NX)
    if on["exchange"]:
        kex = float(p["exchange"]["k"])
        for f in FAMILIES:
            af, bf = site[f]
            o = _idx(f, 0)
            ex_acc[o : o + NX - 1] = kex * af[:-1] * np.exp(-dup[f] / 2)
            ex_don[o + 1 : o + NX] = bf[1:] * np.exp(dup[f] / 2)
        for f in FAMILIES:
            for g in FAMILIES:
                ga, gd = np.meshgrid(np.arange(NX - 1), np.arange(1, NX), indexing="ij")
                keep = ~((f == g) & (gd.ravel() == ga.ravel() + 1))
                xa, yd = ga.ravel()[keep], gd.ravel()[keep]
                ia, idn = _idx(f, 0) + xa, _idx(g, 0) + yd
                # k_ex a_f(x) e^{-dmu_f(x)/2} * b_g(y) e^{+dmu_g(y-1)/2}: detailed balance
                k = ex_acc[ia] * ex_don[idn]
                add([ia, ia + 1, idn, idn - 1], [-1, 1, -1, 1], ia, idn, k, "exchange")

    if on["decomposition"]:
        for f in FAMILIES:
            a_rs = 44 + CHARGE[f]  # RS- consumed
            b_ss = (88 - LIGANDS[f] - a_rs) // 2  # RSSR consumed
            ic = _idx(f, 0) + x
            add(
                [ic, IAU, IAG, IRS, IRSSR],
                [-1, x, 44 - x, -a_rs, -b_ss],
                ic,
                ONE,
                _decomp_k(p, f),
                "decomposition",
            )

    if on["induced_decomposition"]:
        ind = p["induced_decomposition"]
        # (i) Au-rich M44S26 destroyed on meeting M44S30 with free icosahedral sites
        f = "M44S26"
        a_rs = 44 + CHARGE[f]
        b_ss = (88 - LIGANDS[f] - a_rs) // 2
        gx, gy = np.meshgrid(x, np.arange(12), indexing="ij")
        xs, ys = gx.ravel(), gy.ravel()
        ic = _idx(f, 0) + xs
        add(
            [ic, IAU, IAG, IRS, IRSSR],
            [-1, xs, 44 - xs, -a_rs, -b_ss],
            ic,
            _idx("M44S30", 0) + ys,
            float(ind["k_au"]) * (12 - ys),
            "induced_decomposition",
        )
        # (ii) Au-doped M44S30 destroyed on meeting Au-rich M44S26 (rate ~ y (x/44)^2)
        f = "M44S30"
        a_rs = 44 + CHARGE[f]
        b_ss = (88 - LIGANDS[f] - a_rs) // 2
        gy, gx = np.meshgrid(np.arange(1, NX), x, indexing="ij")
        ys, xs = gy.ravel(), gx.ravel()
        ic = _idx(f, 0) + ys
        add(
            [ic, IAU, IAG, IRS, IRSSR],
            [-1, ys, 44 - ys, -a_rs, -b_ss],
            ic,
            _idx("M44S26", 0) + xs,
            float(ind["k_ag"]) * ys * (xs / 44.0) ** 2,
            "induced_decomposition",
        )

    if on["attack"]:
        f = "M44S30"
        a_rs = 44 + CHARGE[f]
        b_ss = (88 - LIGANDS[f] - a_rs) // 2
        ic = _idx(f, 0) + x
        kat = float(p["attack"]["k"]) * np.exp(-x / float(p["attack"]["y0"]))
        add(
            [ic, IAU, IAG, IRS, IRSSR],
            [-1, x, 44 - x, -a_rs, -b_ss],
            ic,
            IAU,
            kat,
            "attack",
        )

    if on["substitution"]:
        ks = float(p["substitution"]["k"])
        pref = float(p["substitution"]["au_preference"])
        for f in FAMILIES:
            af, bf = site[f]
            xa = np.asarray(np.arange(NX - 1), dtype=np.intp)
            ic = _idx(f, 0) + xa
            # forward: Au complex in, Ag complex out
            kf = ks * af[xa] * np.exp(-(dup[f][xa] - pref) / 2)
            add([ic, ic + 1, IAU, IAG], [-1, 1, -1, 1], ic, IAU, kf, "substitution")
            kb = ks * bf[xa + 1] * np.exp((dup[f][xa] - pref) / 2)
            add([ic + 1, ic, IAG, IAU], [-1, 1, -1, 1], ic + 1, IAG, kb, "substitution")

    if on["reconstruction"]:
        for f, xx, src, name in (
            ("M44S26", 44, IAU, "k_au"),
            ("M44S30", 0, IAG, "k_ag"),
        ):
            a_rs = 44 + CHARGE[f]
            b_ss = (88 - LIGANDS[f] - a_rs) // 2
            add(
                [src, _idx(f, xx), IRS, IRSSR],
                [-44, 1, a_rs, b_ss],
                src,
                src,
                [float(p["reconstruction"][name])],
                "reconstruction",
            )

    if on["conversion"]:
        kc = float(p["conversion"]["k"])
        # M44S26 + RS- -> M44S27 ; M44S27 + RS- + RSSR -> M44S30
        for f_from, f_to, d_rs, d_ss in (("M44S26", "M44S27", 1, 0), ("M44S27", "M44S30", 1, 1)):
            dg = mu[f_to] - mu[f_from]
            a, b = _idx(f_from, 0) + x, _idx(f_to, 0) + x
            kf = 2 * kc / (1 + np.exp(np.clip(dg, -700, 700)))  # Glauber form, bounded
            kb = 2 * kc / (1 + np.exp(np.clip(-dg, -700, 700)))
            add([a, b, IRS, IRSSR], [-1, 1, -d_rs, -d_ss], a, ONE, kf, "conversion")
            add([b, a, IRS, IRSSR], [-1, 1, d_rs, d_ss], b, ONE, kb, "conversion")

    if n_r == 0:
        raise KineticsError("every process is switched off")
    r_all = np.concatenate(rows)
    c_all = np.concatenate(cols)
    v_all = np.concatenate(vals)
    nz = v_all != 0
    stoich = sparse.csr_matrix((v_all[nz], (r_all[nz], c_all[nz])), shape=(NS, n_r))
    stoich.sum_duplicates()
    i_arr = np.concatenate(ii)
    j_arr = np.concatenate(jj)
    k_arr = np.concatenate(kk)
    g_arr = np.concatenate(grp)
    other = g_arr != PROCESSES.index("exchange")
    s_other = stoich[:, np.flatnonzero(other)].tocsr()
    i_o, j_o = i_arr[other], j_arr[other]
    fast = (s_other, i_o, j_o, k_arr[other], *_jacobian_plan(s_other, i_o, j_o))
    return Network(
        stoich=stoich,
        i=i_arr,
        j=j_arr,
        k=k_arr,
        process=PROCESSES,
        group=g_arr,
        ex_acc=ex_acc,
        ex_don=ex_don,
        _fast=fast,
    )


def _jacobian_plan(
    stoich: Any, i_arr: npt.NDArray[np.intp], j_arr: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp], FloatArray]:
    """Triplets (row, col, derivative slot, coefficient) of the generic reactions' Jacobian.

    ``J[row, col] += coef * d[slot]`` with ``d = [k c_j, k c_i]`` (d rate / d c_i, d c_j).
    """
    coo = stoich.tocoo()
    s_row, s_col, s_val = coo.row, coo.col, coo.data
    n_r = i_arr.size
    rr, cc, slot, coef = [], [], [], []
    for dep, offset in ((i_arr, 0), (j_arr, n_r)):
        col = dep[s_col]
        keep = col < NS
        rr.append(s_row[keep])
        cc.append(col[keep])
        slot.append(s_col[keep] + offset)
        coef.append(s_val[keep])
    return (
        np.concatenate(rr).astype(np.intp),
        np.concatenate(cc).astype(np.intp),
        np.concatenate(slot).astype(np.intp),
        np.concatenate(coef).astype(float),
    )
