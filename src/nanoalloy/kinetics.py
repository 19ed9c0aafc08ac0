"""Kinetic model of the Au44 + Ag44 inter-cluster alloying reaction.

A phenomenological, chemically motivated mass-action network (Lin, Cao, Yao & Xie, Chem. Sci.
2022, 13, 4598) that conserves Au, Ag, thiolate ligand (SR) and charge exactly, solved stiffly
with an analytic sparse Jacobian, with dosing schedules.

Species
-------
* ``M44S30[x]`` = [AuxAg44-x(SR)30]4- (18 e), ``M44S27[x]`` = [AuxAg44-x(SR)27]3- (20 e) and
  ``M44S26[x]`` = [AuxAg44-x(SR)26]2- (20 e), x = 0..44;
* ``Au(SR)2`` = [Au(SR)2]- and ``Ag(SR)2`` = [Ag(SR)2]- (the M(I)-SR complex pools);
* ``RS`` = free thiolate RS- and ``RSSR`` = disulfide, the redox and ligand buffer.

Every reaction is balanced; e.g. the decomposition of the Au44 parent reads
``[Au44(SR)26]2- + 42 RS- + 10 RSSR -> 44 [Au(SR)2]-`` (its 20 valence electrons reduce 10
disulfides). Processes (each switchable in the parameter TOML): inter-cluster metal exchange,
decomposition, induced decomposition of the Au-rich parent by Ag44, attack of Ag-rich M44S30
by Au(I) complexes, substitution by complexes, reconstruction of the parents from complexes,
framework conversion. See :func:`build_network` for the chemical assumptions.

Units: hours; concentrations in c0 (the cluster concentration of either stock solution).

Contents
--------
FAMILIES
    The three framework names.
Network
    Stoichiometry, rate laws and Jacobian of one parameter set.
SimulationResult
    Populations on a time grid, final distribution, summary, conservation residuals.
Addition
    One dosing event.
build_network, load_params, parse_time, simulate, summarize_final, sweep
    Model construction, parameters, simulation and feed-ratio sweeps.
"""

from __future__ import annotations

import copy
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .errors import KineticsError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "FAMILIES",
    "Addition",
    "Network",
    "SimulationResult",
    "build_network",
    "load_params",
    "parse_time",
    "simulate",
    "summarize_final",
    "sweep",
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
    for sec in ("exchange", "induced_decomposition", "attack", "substitution", "conversion"):
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
    """Process name of each reaction group (see ``group``)."""
    group: npt.NDArray[np.intp]
    """Index into ``process`` for each reaction."""
    _jac: tuple[Any, ...] = field(repr=False)

    @property
    def n_reactions(self) -> int:
        """Number of reactions."""
        return int(self.k.size)

    def rates(self, c: FloatArray) -> FloatArray:
        """Reaction rates at state ``c``."""
        ce = np.append(c, 1.0)
        return self.k * ce[self.i] * ce[self.j]

    def rhs(self, t: float, c: FloatArray) -> FloatArray:
        """Time derivative d c / d t."""
        return np.asarray(self.stoich @ self.rates(c))

    def jacobian(self, t: float, c: FloatArray) -> Any:
        """Analytic Jacobian, a ``scipy.sparse.csc_matrix``."""
        pattern, pos_i, pos_j, coef = self._jac
        ce = np.append(c, 1.0)
        di = self.k * ce[self.j]  # d rate / d c_i
        dj = self.k * ce[self.i]  # d rate / d c_j
        d = np.concatenate([di, dj])
        data = np.bincount(pos_i, weights=coef * d[pos_j], minlength=pattern.nnz)
        out = pattern.copy()
        out.data = data
        return out

    @property
    def sparsity(self) -> Any:
        """Structural sparsity pattern of the Jacobian."""
        return self._jac[0]


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
    e = p["energy"][family]
    x = np.arange(NX, dtype=float)
    return 0.5 * float(e["kappa"]) * (x - float(e["x0"])) ** 2 + float(e["g"])


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
    * **Induced decomposition**: the Au-rich parent decomposes on encounters with Ag44-type
      clusters that still have free icosahedral sites (rate ~ 12 - y); the Ag framework is a
      catalyst. This is what destroys Au44 within minutes when Ag44 is in excess.
    * **Attack**: Ag-rich M44S30 is destabilised by Au(I) complexes (rate ~ exp(-y/y0)); doped
      clusters resist. This loses some Ag44 and concentrates Au in the survivors (focusing at
      low R).
    * **Substitution** ``M_f[x] + Au(SR)2- <-> M_f[x+1] + Ag(SR)2-`` with detailed balance.
    * **Reconstruction**: complexes re-form the parents, ``2 Au(SR)2- -> ... -> Au44`` and
      ``2 Ag(SR)2- -> ... -> Ag44`` (effective second-order rate law for a 44-fold
      stoichiometry; RS- and RSSR are released).
    * **Framework conversion** at fixed core ``M44S26 + RS- <-> M44S27`` and
      ``M44S27 + RS- + RSSR <-> M44S30`` with rates ``k exp(-+dG/2)``, ``dG`` the difference of
      composition energies: the core composition decides the framework.
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

    if on["exchange"]:
        kex = float(p["exchange"]["k"])
        for f in FAMILIES:
            af, _ = site[f]
            for g in FAMILIES:
                _, bg = site[g]
                xa, yd = np.meshgrid(np.arange(NX - 1), np.arange(1, NX), indexing="ij")
                xa, yd = xa.ravel(), yd.ravel()
                keep = ~((f == g) & (yd == xa + 1))
                xa, yd = xa[keep], yd[keep]
                # energy change: acceptor x -> x+1, donor y -> y-1
                de = dup[f][xa] - dup[g][yd - 1]
                k = kex * af[xa] * bg[yd] * np.exp(-de / 2)
                ia, idn = _idx(f, 0) + xa, _idx(g, 0) + yd
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
        kid = float(p["induced_decomposition"]["k"])
        f = "M44S26"
        a_rs = 44 + CHARGE[f]
        b_ss = (88 - LIGANDS[f] - a_rs) // 2
        xs, ys = np.meshgrid(x, np.arange(12), indexing="ij")
        xs, ys = xs.ravel(), ys.ravel()
        ic = _idx(f, 0) + xs
        add(
            [ic, IAU, IAG, IRS, IRSSR],
            [-1, xs, 44 - xs, -a_rs, -b_ss],
            ic,
            _idx("M44S30", 0) + ys,
            kid * (12 - ys),
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
            xa = np.arange(NX - 1)
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
            add([a, b, IRS, IRSSR], [-1, 1, -d_rs, -d_ss], a, ONE, kc * np.exp(-dg / 2), "conversion")
            add([b, a, IRS, IRSSR], [-1, 1, d_rs, d_ss], b, ONE, kc * np.exp(dg / 2), "conversion")

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
    jac = _jacobian_plan(stoich, i_arr, j_arr)
    return Network(
        stoich=stoich,
        i=i_arr,
        j=j_arr,
        k=k_arr,
        process=PROCESSES,
        group=np.concatenate(grp),
        _jac=jac,
    )


def _jacobian_plan(
    stoich: Any, i_arr: npt.NDArray[np.intp], j_arr: npt.NDArray[np.intp]
) -> tuple[Any, ...]:
    """Precompute where each (stoichiometry x rate derivative) product lands in the Jacobian."""
    from scipy import sparse

    coo = stoich.tocoo()
    s_row, s_col, s_val = coo.row, coo.col, coo.data
    n_r = i_arr.size
    # derivative entries: reaction r depends on i[r] (slot r) and j[r] (slot n_r + r)
    trip_rows, trip_cols, trip_slot, trip_coef = [], [], [], []
    for dep, offset in ((i_arr, 0), (j_arr, n_r)):
        col = dep[s_col]
        keep = col < NS
        trip_rows.append(s_row[keep])
        trip_cols.append(col[keep])
        trip_slot.append(s_col[keep] + offset)
        trip_coef.append(s_val[keep])
    rr = np.concatenate(trip_rows)
    cc = np.concatenate(trip_cols)
    pattern = sparse.csc_matrix((np.ones(rr.size), (rr, cc)), shape=(NS, NS))
    pattern.sum_duplicates()
    pattern.sort_indices()
    # position of each triplet in pattern.data
    key = cc.astype(np.int64) * NS + rr
    pkey = (
        np.repeat(np.arange(NS), np.diff(pattern.indptr)).astype(np.int64) * NS + pattern.indices
    )
    pos = np.searchsorted(pkey, key)
    return pattern, pos, np.concatenate(trip_slot), np.concatenate(trip_coef)


# ----------------------------------------------------------------------------------------
# simulation


@dataclass(frozen=True, slots=True)
class Addition:
    """A dosing event: ``amount`` equivalents of ``species`` added at ``time_h``.

    Equivalents are volumes of stock solution at c0 (the same convention as the feed), so a
    dose dilutes everything already present.
    """

    time_h: float
    """Time of the addition (h from the start)."""
    species: str
    """``Au44``, ``Ag44``, ``Au(SR)2``, ``Ag(SR)2`` or ``FAMILY:x`` (e.g. ``M44S27:21``)."""
    amount: float
    """Equivalents of stock solution (> 0)."""


def _species_index(name: str) -> int:
    key = _ALIASES.get(name.strip().lower(), name.strip())
    if key in SPECIES_NAMES:
        return SPECIES_NAMES.index(key)
    raise KineticsError(
        f"unknown species {name!r}; expected Au44, Ag44, Au(SR)2, Ag(SR)2 or FAMILY:x "
        "such as M44S27:21"
    )


def parse_time(text: str, /) -> float:
    """Parse a time like ``20h``, ``90min``, ``30s`` or a bare number of hours.

    Examples
    --------
    >>> parse_time("90min")
    1.5
    """
    t = text.strip().lower()
    for unit, scale in (("min", 1 / 60), ("h", 1.0), ("s", 1 / 3600)):
        if t.endswith(unit):
            t, factor = t[: -len(unit)].strip(), scale
            break
    else:
        factor = 1.0
    try:
        val = float(t) * factor
    except ValueError:
        raise KineticsError(f"bad time {text!r}; expected e.g. 20h, 90min or 30s") from None
    if not math.isfinite(val) or val < 0:
        raise KineticsError(f"bad time {text!r}; must be finite and >= 0")
    return val


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Result of :func:`simulate`."""

    times: FloatArray
    """Output time grid (h)."""
    state: FloatArray
    """Concentrations (c0), shape (n_times, n_species); see ``species``."""
    volume: FloatArray
    """Relative volume at each output time (dosing dilutes)."""
    species: tuple[str, ...]
    """Species names of the state columns."""
    conservation: dict[str, float]
    """Largest relative residual over the run of Au, Ag, ligand and charge."""
    feed: dict[str, float]
    """Initial feed in equivalents."""
    additions: tuple[Addition, ...]
    """Dosing events."""

    @property
    def clusters(self) -> FloatArray:
        """Cluster concentrations, shape (n_times, 3, 45): family, x."""
        return self.state[:, : 3 * NX].reshape(-1, 3, NX)

    @property
    def populations(self) -> pd.DataFrame:
        """Long table: time_h, family, au, ag, ligands, core_charge, fraction.

        ``fraction`` is among all 44-metal clusters at that time.
        """
        import pandas as pd

        cl = self.clusters
        tot = cl.sum(axis=(1, 2))
        frac = cl / np.where(tot > 0, tot, 1.0)[:, None, None]
        nt = self.times.size
        fam = np.tile(np.repeat(np.array(FAMILIES), NX), nt)
        xs = np.tile(np.arange(NX), 3 * nt)
        return pd.DataFrame(
            {
                "time_h": np.repeat(self.times, 3 * NX),
                "family": fam,
                "au": xs,
                "ag": 44 - xs,
                "ligands": np.tile(np.repeat([LIGANDS[f] for f in FAMILIES], NX), nt),
                "core_charge": np.tile(np.repeat([CHARGE[f] for f in FAMILIES], NX), nt),
                "fraction": frac.ravel(),
            }
        )

    @property
    def final(self) -> pd.DataFrame:
        """The last time point of :attr:`populations`, without ``time_h``."""
        pop = self.populations
        last = pop[pop["time_h"] == self.times[-1]].drop(columns="time_h")
        return last.reset_index(drop=True)

    @property
    def summary(self) -> dict[str, Any]:
        """Family fractions, mean and modal x per family, complexes and conservation."""
        out = summarize_final(self.clusters[-1])
        out["hours"] = float(self.times[-1])
        out["feed"] = dict(self.feed)
        out["additions"] = [
            {"time_h": a.time_h, "species": a.species, "amount": a.amount} for a in self.additions
        ]
        c = self.state[-1]
        out["complexes"] = {"Au(SR)2": float(c[IAU]), "Ag(SR)2": float(c[IAG])}
        out["conservation"] = dict(self.conservation)
        return out

    def family_timecourse(self) -> dict[str, FloatArray]:
        """Per family: fraction and mean x against time (keys ``FAMILY`` and ``FAMILY:x``)."""
        cl = self.clusters
        tot = cl.sum(axis=(1, 2))
        out: dict[str, FloatArray] = {}
        xs = np.arange(NX)
        for k, f in enumerate(FAMILIES):
            s = cl[:, k].sum(axis=1)
            out[f] = s / np.where(tot > 0, tot, 1.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[f + ":x"] = np.where(s > 1e-12, (cl[:, k] * xs).sum(axis=1) / s, np.nan)
        return out


def summarize_final(clusters: npt.ArrayLike, /) -> dict[str, Any]:
    """Family fractions, mean x, modal x and mean valence electrons of a (3, 45) array."""
    cl = np.clip(np.asarray(clusters, dtype=float).reshape(3, NX), 0.0, None)
    tot = float(cl.sum())
    xs = np.arange(NX)
    fractions, mean_x, mode_x, au_ag = {}, {}, {}, {}
    for k, f in enumerate(FAMILIES):
        s = float(cl[k].sum())
        fractions[f] = s / tot if tot > 0 else 0.0
        if s > 1e-12 * max(tot, 1e-300):
            m = float((cl[k] * xs).sum() / s)
            mean_x[f] = m
            mode_x[f] = int(np.argmax(cl[k]))
            au_ag[f] = m / (44 - m) if m < 44 else math.inf
        else:
            mean_x[f] = mode_x[f] = au_ag[f] = None
    electrons = 18 * fractions["M44S30"] + 20 * (fractions["M44S27"] + fractions["M44S26"])
    dominant = max(FAMILIES, key=lambda f: fractions[f])
    return {
        "fractions": fractions,
        "mean_x": mean_x,
        "mode_x": mode_x,
        "au_ag": au_ag,
        "mean_electrons": electrons,
        "dominant": dominant,
    }


def _default_times(hours: float) -> FloatArray:
    if hours <= 0:
        return np.array([0.0])
    early = np.geomspace(min(1 / 60, hours / 2), hours, 50)
    return np.unique(np.concatenate([[0.0], early, np.linspace(0, hours, 41)]))


def simulate(
    feed: Mapping[str, float],
    /,
    *,
    hours: float = 20.0,
    additions: Iterable[Addition | tuple[float, str, float]] = (),
    params: Mapping[str, Any] | str | Path | None = None,
    times: npt.ArrayLike | None = None,
    network: Network | None = None,
    rtol: float = 1e-6,
) -> SimulationResult:
    """Simulate the reaction of a feed (with dosing) for ``hours``.

    Parameters
    ----------
    feed
        Equivalents of stock solution per species, e.g. ``{"Au44": 3, "Ag44": 1}``; all stocks
        are at the same cluster concentration c0, so only ratios matter.
    hours
        Total time from the start (h).
    additions
        Dosing events, :class:`Addition` or ``(time_h, species, amount)``; the integrator
        restarts at each.
    params
        Parameter dictionary or TOML path (default: the calibrated set).
    times
        Output times (h); default a grid dense at early times. Addition times are added.
    network
        A prebuilt :class:`Network` (overrides ``params``).
    rtol
        Relative tolerance of the BDF solver.

    Returns
    -------
    SimulationResult

    Examples
    --------
    >>> r = simulate({"Au44": 1, "Ag44": 3}, hours=20)
    >>> r.summary["dominant"]
    'M44S30'
    """
    from scipy.integrate import solve_ivp

    if network is None:
        p = params if isinstance(params, Mapping) else load_params(params)
        network = build_network(p)
    else:
        p = load_params() if params is None else (
            params if isinstance(params, Mapping) else load_params(params)
        )
    if not (math.isfinite(hours) and hours >= 0):
        raise KineticsError(f"hours must be finite and >= 0, got {hours!r}")
    feed_d = {str(k): float(v) for k, v in feed.items()}
    if not feed_d:
        raise KineticsError("empty feed")
    for name, amt in feed_d.items():
        _species_index(name)
        if not (math.isfinite(amt) and amt >= 0):
            raise KineticsError(f"feed amount of {name} must be finite and >= 0, got {amt!r}")
    if sum(feed_d.values()) <= 0:
        raise KineticsError("the feed is empty (all amounts are zero)")
    adds = tuple(a if isinstance(a, Addition) else Addition(*a) for a in additions)
    for a in adds:
        _species_index(a.species)
        if not (math.isfinite(a.amount) and a.amount > 0):
            raise KineticsError(f"addition amount must be > 0, got {a.amount!r}")
        if not (0 <= a.time_h <= hours):
            raise KineticsError(f"addition at {a.time_h} h lies outside 0..{hours} h")
    adds = tuple(sorted(adds, key=lambda a: a.time_h))

    buf = np.zeros(NS)
    buf[IRS] = float(p["buffer"]["thiolate"])
    buf[IRSSR] = float(p["buffer"]["disulfide"])
    w = composition_matrix()

    def stock(name: str) -> FloatArray:
        s = buf.copy()
        s[_species_index(name)] += 1.0
        return s

    vol = sum(feed_d.values())
    amounts = sum((amt * stock(n) for n, amt in feed_d.items()), np.zeros(NS))
    c = amounts / vol
    fed = w @ amounts  # conserved totals (amount units)

    grid = _default_times(hours) if times is None else np.asarray(times, dtype=float)
    if grid.ndim != 1 or grid.size == 0 or np.any(grid < 0) or np.any(grid > hours + 1e-12):
        raise KineticsError("times must be a non-empty 1-D array within 0..hours")
    grid = np.unique(np.concatenate([grid, [a.time_h for a in adds], [hours]]))

    out_state = np.zeros((grid.size, NS))
    out_vol = np.zeros(grid.size)
    resid = np.zeros(4)
    scale = np.maximum(np.abs(fed), 1e-300)
    t0 = 0.0
    pending = list(adds)
    gi = 0
    while True:
        # apply all additions at t0 (dilution by the added stock volume)
        while pending and pending[0].time_h <= t0 + 1e-12:
            a = pending.pop(0)
            amounts = c * vol + a.amount * stock(a.species)
            vol += a.amount
            c = amounts / vol
            fed = fed + w @ (a.amount * stock(a.species))
            scale = np.maximum(np.abs(fed), 1e-300)
        t1 = pending[0].time_h if pending else hours
        sel = (grid >= t0 - 1e-12) & (grid <= t1 + 1e-12)
        t_eval = grid[sel]
        if t1 > t0:
            sol = solve_ivp(
                network.rhs,
                (t0, t1),
                c,
                method="BDF",
                jac=network.jacobian,
                t_eval=t_eval,
                rtol=rtol,
                atol=1e-12,
            )
            if not sol.success:  # pragma: no cover - solver failure
                raise KineticsError(f"the ODE solver failed: {sol.message}")
            ys = sol.y.T
            c = ys[-1].copy()
        else:
            ys = np.tile(c, (t_eval.size, 1))
        idx = np.flatnonzero(sel)
        out_state[idx] = ys
        out_vol[idx] = vol
        seg_res = np.abs(w @ (ys.T * vol) - fed[:, None]).max(axis=1) / scale
        resid = np.maximum(resid, seg_res)
        gi += 1
        if not pending:
            break
        t0 = t1
    if np.any(out_state[:, [IRS, IRSSR]] < -1e-9):
        raise KineticsError("the RS-/RSSR buffer ran out; raise buffer.thiolate/disulfide")
    cons = {"Au": float(resid[0]), "Ag": float(resid[1]), "ligand": float(resid[2])}
    cons["charge"] = float(resid[3])
    return SimulationResult(
        times=grid,
        state=out_state,
        volume=out_vol,
        species=SPECIES_NAMES,
        conservation=cons,
        feed=feed_d,
        additions=adds,
    )


def _sweep_one(args: tuple[float, float, Any]) -> dict[str, Any]:
    ratio, hours, params = args
    r = simulate({"Au44": ratio, "Ag44": 1.0}, hours=hours, params=params, times=[hours])
    s = r.summary
    row: dict[str, Any] = {"ratio": ratio, "feed_electrons": (20 * ratio + 18) / (ratio + 1)}
    for f in FAMILIES:
        row[f"fraction_{f}"] = s["fractions"][f]
    for f in FAMILIES:
        mx = s["mean_x"][f]
        row[f"mean_x_{f}"] = np.nan if mx is None else mx
        row[f"mode_x_{f}"] = -1 if s["mode_x"][f] is None else s["mode_x"][f]
        row[f"au_ag_{f}"] = np.nan if mx is None else s["au_ag"][f]
    row["mean_electrons"] = s["mean_electrons"]
    row["dominant"] = s["dominant"]
    row["max_residual"] = max(r.conservation.values())
    return row


def sweep(
    ratios: Iterable[float],
    /,
    *,
    hours: float = 20.0,
    n_jobs: int = 1,
    params: Mapping[str, Any] | str | Path | None = None,
) -> pd.DataFrame:
    """Final products against feed ratio R = n(Au44)/n(Ag44).

    Parameters
    ----------
    ratios
        Feed ratios (> 0).
    hours
        Reaction time of each run (h).
    n_jobs
        Worker processes (1: run in this process).
    params
        Parameter dictionary or TOML path.

    Returns
    -------
    pandas.DataFrame
        One row per ratio: fractions, mean/modal x, Au/Ag per family, mean valence electrons.
    """
    import pandas as pd

    rs = [float(r) for r in ratios]
    if not rs or any(not (math.isfinite(r) and r > 0) for r in rs):
        raise KineticsError("ratios must be finite and > 0")
    p = params if isinstance(params, Mapping) else load_params(params)
    jobs = [(r, float(hours), p) for r in rs]
    if n_jobs > 1 and len(rs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=n_jobs) as ex:
            rows = list(ex.map(_sweep_one, jobs, chunksize=max(1, len(jobs) // (4 * n_jobs))))
    else:
        rows = [_sweep_one(j) for j in jobs]
    return pd.DataFrame(rows)
