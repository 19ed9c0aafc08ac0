"""Fitting the kinetic model to a measured time course of cluster populations.

The fitted quantities are log multipliers of the rate constants of each process of
:mod:`nanoalloy.kinetics` (energies and windows stay fixed): a multi-start
``scipy.optimize.least_squares`` on log-parameters, uncertainties from the Jacobian at the
optimum, starts optionally run on a Dask cluster.

Weights: when the time course carries the assignment's uncertainty (a column
``abundance_sd``, ``fraction_sd`` or ``sd`` beside the values), every residual is divided
by its sd (species the assignment did not report get the smallest abundance reported at
that time, its detection limit, at least ``sd_floor``), and the parameter covariance is ``(J' J)^-1`` times the
reduced chi-square when that exceeds 1 (the scatter then exceeds what the sd's claim, and
the model or the sd's are incomplete). Without sd's the residuals are unweighted and the
covariance is scaled by the residual variance, as before. Either way, the spread of the
other starts that end within the noise of the best one (sum of squared scaled residuals
at most four residual variances higher) is added: on a flat or multi-modal cost surface
the local curvature alone claims too much. And since the errors of one time point are
correlated (one spectrum, one assignment), the cluster-robust (sandwich) covariance with the
time points as clusters is a floor of the sd.

Response: an assigned abundance is a share of the ion signal inside the recorded m/z
window, not a share of the population (a family whose charge states fall outside the
window is under-counted). When the time course carries a ``window_share`` column (written
by ``assign``/``series`` from the preset's charge-state weights, see
:mod:`nanoalloy.ms.response`), the model's populations are multiplied by it and
renormalised per time before the comparison, and the feed ratio inferred from the
earliest time is read from the corrected distribution. Species at x the table does not
list take their family's nearest listed x; a family it never lists, 1.

Contents
--------
FIT_PROCESSES
    Processes whose rate multipliers are fitted by default.
FitResult
    Fitted multipliers, their standard deviations, the fitted parameter set and tables.
dump_params
    Serialise a parameter dictionary as TOML.
fit_timecourse
    The multi-start fit.
read_timecourse
    Normalise a long table (``series``/``assign`` output) into observed distributions.
read_window_share
    The response a long table's ``window_share`` column gives.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import FitError, InputError
from .network import FAMILIES, NX, Network, build_network, load_params
from .simulation import simulate

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "FIT_PROCESSES",
    "FitResult",
    "dump_params",
    "fit_timecourse",
    "read_timecourse",
    "read_timecourse_sd",
    "read_window_share",
]

FIT_PROCESSES: tuple[str, ...] = (
    "attack",
    "conversion",
    "exchange",
    "induced_decomposition",
    "substitution",
)
"""Processes whose rate constants are scaled by a fitted multiplier by default."""

_RATE_KEYS = {
    "attack": ("k",),
    "conversion": ("k",),
    "decomposition": ("k_inside", "k_outside"),
    "exchange": ("k",),
    "induced_decomposition": ("k_au", "k_ag"),
    "reconstruction": ("k_au", "k_ag"),
    "substitution": ("k",),
}


@dataclass(frozen=True, slots=True)
class FitResult:
    """Result of :func:`fit_timecourse`."""

    multipliers: dict[str, float]
    """Fitted multiplier of each process's rate constants (1 = the starting parameters)."""
    sd_log: dict[str, float]
    """Standard deviation of the natural log of each multiplier (from the Jacobian)."""
    params: dict[str, Any]
    """The complete fitted parameter set (as :func:`nanoalloy.kinetics.load_params`)."""
    cost: float
    """Half the sum of squared residuals at the optimum."""
    rmse: float
    """Root-mean-square residual of the fractions."""
    ratio: float
    """Feed ratio R = n(Au44)/n(Ag44) used."""
    starts: tuple[dict[str, Any], ...]
    """Every start: initial multipliers, final cost, success."""
    table: pd.DataFrame
    """Long table time_h, family, au, ag, observed, model (and sd when weighted)."""
    weighted: bool = False
    """Whether the residuals were weighted by the time course's sd."""
    chi2_red: float = math.nan
    """Reduced chi-square of the weighted fit (NaN unweighted)."""
    response: str = "none"
    """The response the model was compared through: ``window_share`` (the table's
    column), ``given`` (the ``response`` argument) or ``none``."""

    @property
    def values(self) -> dict[str, float]:
        """Fitted rate constants by ``section.key`` (units as in the TOML)."""
        out = {}
        for proc in self.multipliers:
            for key in _RATE_KEYS[proc]:
                out[f"{proc}.{key}"] = float(self.params[proc][key])
        return out

    @property
    def sd(self) -> dict[str, float]:
        """Standard deviations of :attr:`values` (first order: value * sd of the log)."""
        out = {}
        for proc, s in self.sd_log.items():
            for key in _RATE_KEYS[proc]:
                out[f"{proc}.{key}"] = float(self.params[proc][key]) * s
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "ratio": self.ratio,
            "cost": self.cost,
            "rmse": self.rmse,
            "multipliers": self.multipliers,
            "sd_log": self.sd_log,
            "values": self.values,
            "sd": self.sd,
            "weighted": self.weighted,
            "chi2_red": self.chi2_red if math.isfinite(self.chi2_red) else None,
            "response": self.response,
            "starts": list(self.starts),
        }


def _table(table: Any) -> pd.DataFrame:
    """A DataFrame as given, or a CSV file read with one clear line on failure."""
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        return table
    try:
        df = pd.read_csv(table)
    except pd.errors.EmptyDataError:
        raise InputError(f"{table}: empty file; expected a CSV table with a header row") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{table}: not a readable CSV table ({reason})") from None
    if df.empty:
        raise InputError(f"{table}: no data rows (only a header)")
    return df


def read_timecourse(table: Any, /) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Observed normalised distributions from a long table.

    See :func:`read_timecourse_sd` (this returns its first two values).
    """
    times, dist, _ = read_timecourse_sd(table)
    return times, dist


SD_COLUMNS = ("abundance_sd", "fraction_sd", "sd")
"""Columns read as the sd of each value (first found), in this order."""


def read_timecourse_sd(
    table: Any, /
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    """Observed normalised distributions and their sd's from a long table.

    Parameters
    ----------
    table
        A DataFrame (or path to a CSV) with columns ``time_h`` (or ``time``, hours), ``family``,
        ``au``, ``ag``, optional ``ligands``, and ``abundance`` (or ``fraction``).

    Returns
    -------
    times, dist, sd
        Sorted unique times (h) and distributions of shape (n_times, 3, 45), each time
        normalised to sum 1 over the 44-metal clusters; the sd of every entry on the
        same scale (NaN where the table has no row) when the table has a column of
        :data:`SD_COLUMNS`, else None.
    """
    import pandas as pd

    df = _table(table)
    cols = {c.lower().strip(): c for c in df.columns}
    tcol = cols.get("time_h", cols.get("time"))
    vcol = cols.get("abundance", cols.get("fraction"))
    missing = [n for n, c in (("time_h", tcol), ("abundance", vcol)) if c is None]
    missing += [n for n in ("family", "au", "ag") if n not in cols]
    if missing:
        found = ", ".join(map(str, df.columns))
        if len(found) > 120:
            found = found[:117] + "..."
        hint = ""
        if len(df.columns) == 1 and any(d in str(df.columns[0]) for d in ";\t"):
            hint = "; the table is read comma-separated: save it as CSV with commas"
        raise InputError(
            f"time course table lacks column(s) {', '.join(missing)} (its columns: {found}{hint})"
        )
    if df.empty:
        raise InputError("time course table has no data rows (only a header)")
    fam = df[cols["family"]].astype(str).str.strip()
    bad = sorted(set(fam) - set(FAMILIES))
    if bad:
        raise InputError(f"unknown family {bad[0]!r}; expected one of {', '.join(FAMILIES)}")
    au = pd.to_numeric(df[cols["au"]], errors="coerce")
    ag = pd.to_numeric(df[cols["ag"]], errors="coerce")
    t = pd.to_numeric(df[tcol], errors="coerce")
    v = pd.to_numeric(df[vcol], errors="coerce")
    for name, col, raw in (
        (tcol, t, df[tcol]),
        ("au", au, df[cols["au"]]),
        ("ag", ag, df[cols["ag"]]),
        (vcol, v, df[vcol]),
    ):
        if col.isna().any():
            i = int(np.flatnonzero(col.isna().to_numpy())[0])
            shown = "an empty cell" if pd.isna(raw.iloc[i]) else repr(str(raw.iloc[i]))
            raise InputError(
                f"time course table: non-numeric {name} ({shown}) at data row {i + 1}"
                f" (line {i + 2} of a file with one header line)"
            )
    for name, col in (("time", t), ("au", au), ("ag", ag), (vcol, v)):
        finite = np.isfinite(col.to_numpy(dtype=float))
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            raise InputError(
                f"time course table: non-finite {name} ({col.iloc[i]}) at data row {i + 1}"
            )
    if ((au + ag) != 44).any() or (au < 0).any() or (ag < 0).any():
        raise InputError("time course rows must have au + ag = 44 (44-metal clusters)")
    if (v < 0).any() or (t < 0).any():
        raise InputError("abundances and times must be >= 0")
    times = np.unique(t.to_numpy(dtype=float))
    dist = np.zeros((times.size, 3, NX))
    ti = np.searchsorted(times, t.to_numpy(dtype=float))
    fi = np.array([FAMILIES.index(f) for f in fam])
    at = (ti, fi, au.to_numpy(dtype=int))
    np.add.at(dist, at, v.to_numpy(dtype=float))
    tot = dist.sum(axis=(1, 2))
    if np.any(tot <= 0):
        raise InputError("every time point needs some positive abundance")
    scol = next((cols[c] for c in SD_COLUMNS if c in cols), None)
    sd = None
    if scol is not None:
        sv = pd.to_numeric(df[scol], errors="coerce")
        if sv.isna().any() or not np.all(np.isfinite(sv.to_numpy(dtype=float))) or (sv < 0).any():
            raise InputError(f"time course column {scol!r} must hold finite sd's >= 0")
        var = np.zeros_like(dist)
        np.add.at(var, at, sv.to_numpy(dtype=float) ** 2)
        seen = np.zeros(dist.shape, dtype=bool)
        seen[at] = True
        sd = np.where(seen, np.sqrt(var), np.nan) / tot[:, None, None]
    return times, dist / tot[:, None, None], sd


MIN_WINDOW_SHARE = 0.02
"""Smallest window share used as a response (a species seen only at the window's edge)."""


def read_window_share(table: Any, /) -> npt.NDArray[np.float64] | None:
    """Response array (3, 45) from a long table's ``window_share`` column, or None without one.

    The median over the rows of each (family, x); other x of a family take the nearest
    listed x's value, families never listed 1; values below :data:`MIN_WINDOW_SHARE`
    are raised to it.
    """
    import pandas as pd

    df = _table(table)
    cols = {c.lower().strip(): c for c in df.columns}
    if "window_share" not in cols or not {"family", "au"} <= set(cols):
        return None
    w = pd.to_numeric(df[cols["window_share"]], errors="coerce")
    sub = pd.DataFrame(
        {
            "family": df[cols["family"]].astype(str).str.strip(),
            "au": pd.to_numeric(df[cols["au"]], errors="coerce"),
            "w": w,
        }
    ).dropna()
    sub = sub[sub["family"].isin(FAMILIES)]
    if sub.empty:
        return None
    if (sub["w"] < 0).any() or (sub["w"] > 1).any():
        raise InputError("time course column 'window_share' must hold shares within 0..1")
    med = sub.groupby(["family", "au"])["w"].median()
    out = np.ones((3, NX))
    xs = np.arange(NX)
    for i, fam in enumerate(FAMILIES):
        if fam not in med.index.get_level_values(0):
            continue
        part = med.loc[fam]
        known = part.index.to_numpy(dtype=int)
        nearest = known[np.abs(xs[:, None] - known[None, :]).argmin(axis=1)]
        out[i] = part.loc[nearest].to_numpy(dtype=float)
    return np.maximum(out, MIN_WINDOW_SHARE)


def _infer_ratio(dist0: npt.NDArray[np.float64]) -> float:
    xs = np.arange(NX)
    frac_au = float((dist0 * xs).sum() / 44.0)
    frac_au = min(max(frac_au, 1e-3), 1 - 1e-3)
    return frac_au / (1 - frac_au)


def _scaled(net: Network, procs: Sequence[str], logm: npt.NDArray[np.float64]) -> Network:
    return net.scaled({name: math.exp(float(lm)) for name, lm in zip(procs, logm, strict=True)})


def _model(
    net: Network,
    ratio: float,
    times: npt.NDArray[np.float64],
    params: Mapping[str, Any],
    response: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    hours = float(times[-1]) if times[-1] > 0 else 1e-6
    res = simulate(
        {"Au44": ratio, "Ag44": 1.0}, hours=hours, times=times, network=net, params=params
    )
    cl = np.clip(res.clusters, 0.0, None)
    grid = res.times
    idx = np.searchsorted(grid, times)
    cl = cl[idx]
    if response is not None:
        cl = cl * response[None]
    tot = cl.sum(axis=(1, 2))
    return cl / np.where(tot > 0, tot, 1.0)[:, None, None]


def _one_start(args: tuple[Any, ...]) -> dict[str, Any]:
    """Run one least-squares start (a top-level function, so Dask/processes can ship it)."""
    from scipy.optimize import least_squares

    params, procs, x0, times, dist, ratio, max_nfev, bound, *rest = args
    sigma = rest[0] if rest else None
    response = rest[1] if len(rest) > 1 else None
    net = build_network(params)
    obs = dist.ravel()
    scale = np.ones(obs.size) if sigma is None else 1.0 / np.asarray(sigma).ravel()

    def resid(logm: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        try:
            model = _model(_scaled(net, procs, logm), ratio, times, params, response)
            return (model.ravel() - obs) * scale
        except Exception:  # noqa: BLE001 - a failing solve is a bad point, not a crash
            return np.full(obs.size, 1.0) * scale

    sol = least_squares(
        resid,
        np.asarray(x0, dtype=float),
        bounds=(-bound, bound),
        x_scale=1.0,
        diff_step=1e-3,
        max_nfev=max_nfev,
    )
    return {
        "x0": [float(v) for v in x0],
        "x": [float(v) for v in sol.x],
        "cost": float(sol.cost),
        "jac": np.asarray(sol.jac, dtype=float),
        "fun": np.asarray(sol.fun, dtype=float),
        "success": bool(sol.success),
        "nfev": int(sol.nfev),
    }


def fit_timecourse(
    table: Any,
    /,
    *,
    starts: int = 8,
    scheduler: str | Any | None = None,
    params: Mapping[str, Any] | None = None,
    processes: Sequence[str] = FIT_PROCESSES,
    ratio: float | None = None,
    seed: int = 0,
    max_nfev: int = 40,
    bound: float = 6.0,
    weighted: bool = True,
    sd_floor: float = 1e-3,
    response: Mapping[str, float] | Mapping[tuple[str, int], float] | None = None,
    window_share: bool = True,
) -> FitResult:
    """Fit process rate multipliers to a measured time course.

    Parameters
    ----------
    table
        Long table (DataFrame or CSV path): time_h (or time), family, au, ag, abundance (or
        fraction); see :func:`read_timecourse`. Distributions are compared per time point,
        normalised over the 44-metal clusters.
    starts
        Number of starts: the first at the given parameters, the others at seeded random
        log-normal perturbations (sd 1).
    scheduler
        Address of a ``dask.distributed`` scheduler (or a ``Client``); the starts then run
        on it. Default: in this process.
    params
        Starting parameter set (default: the calibrated defaults).
    processes
        Processes whose rate constants get a multiplier.
    ratio
        Feed ratio R = n(Au44)/n(Ag44); default inferred from the overall Au fraction of the
        earliest distribution (assumption: no metal is in complexes then).
    seed
        Seed of the start generator.
    max_nfev
        Function evaluations per start.
    bound
        Bound on each log multiplier (|log m| <= bound).
    weighted
        Weight the residuals by the table's sd column when it has one (see the module
        docstring); False ignores it.
    sd_floor
        Smallest sd of a normalised abundance used as a weight.
    response
        Relative response of each family (``{"M44S26": 0.4, ...}``) or species
        (``{("M44S26", 42): 0.4, ...}``; missing ones 1): what share of its population
        the measurement sees. Assigned abundances are shares of the ion signal inside
        the recorded m/z window, and a family whose charge states fall partly outside it
        is under-counted; the model's populations are multiplied by the response and
        renormalised before the comparison. Default: the table's ``window_share``
        column when it has one (see the module docstring), else none.
    window_share
        False ignores the table's ``window_share`` column (the abundances are then
        compared with the populations as they are).

    Returns
    -------
    FitResult
    """
    import pandas as pd

    if starts < 1:
        raise InputError("starts must be >= 1")
    base = dict(load_params() if params is None else params)
    procs = tuple(processes)
    unknown = [p for p in procs if p not in _RATE_KEYS]
    if unknown or not procs:
        raise InputError(f"cannot fit process {unknown[0] if unknown else '(none)'!r}")
    df = _table(table)
    times, dist, sd = read_timecourse_sd(df)
    if times.size < 2:
        raise InputError(
            f"the time course has {times.size} time point: too few time points to fit "
            f"{len(procs)} rate constants (the first is the starting state; give at least 2)"
        )
    sigma = _sigma(sd, dist, sd_floor) if weighted and sd is not None else None
    resp = _response(response)
    how = "given" if resp is not None else "none"
    if resp is None and window_share:
        resp = read_window_share(df)
        how = "window_share" if resp is not None else how
    seen0 = dist[0] if resp is None else dist[0] / resp
    r = _infer_ratio(seen0 / seen0.sum()) if ratio is None else float(ratio)
    if not (math.isfinite(r) and r > 0):
        raise InputError(f"feed ratio must be > 0, got {r!r}")
    rng = np.random.default_rng(seed)
    x0s = [np.zeros(len(procs))]
    x0s += [np.clip(rng.normal(0, 1, len(procs)), -bound, bound) for _ in range(starts - 1)]
    jobs = [(base, procs, x0, times, dist, r, max_nfev, bound, sigma, resp) for x0 in x0s]
    if scheduler is not None:
        from dask.distributed import Client

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            futures = client.map(_one_start, jobs, pure=False)
            results = client.gather(futures)
        finally:
            if client is not scheduler:
                client.close()
    else:
        results = [_one_start(j) for j in jobs]
    best = min(results, key=lambda d: d["cost"])
    if not np.isfinite(best["cost"]):
        raise FitError("every start failed")
    jac, fun = best["jac"], best["fun"]
    chi2_red = math.nan
    if sigma is None:
        dof = max(fun.size - len(procs), 1)
        s2 = 2 * best["cost"] / dof
    else:
        # entries that are zero in the data and (nearly) in the model carry no information
        live = (dist.ravel() > 0) | (np.abs(fun) * sigma.ravel() > 1e-4)
        dof = max(int(live.sum()) - len(procs), 1)
        chi2_red = float(np.sum(fun[live] ** 2) / dof)
        s2 = max(1.0, chi2_red)
    try:
        cov = np.linalg.pinv(jac.T @ jac) * s2
        sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    except np.linalg.LinAlgError:  # pragma: no cover
        sd = np.full(len(procs), np.nan)
    # errors of one time point are correlated (one spectrum, one assignment: a family
    # misassigned moves many entries together): the cluster-robust (sandwich)
    # covariance with the time points as clusters is the floor of the sd
    sd = np.maximum(sd, _cluster_sd(jac, fun, times.size))
    # other starts that end within the noise of the best (a rise of the sum of squared
    # (scaled) residuals by at most 4 residual variances) are equally good answers:
    # their spread is part of the uncertainty the local curvature does not see
    x_best = np.asarray(best["x"])
    near = [
        np.asarray(d["x"]) - x_best
        for d in results
        if d is not best and np.isfinite(d["cost"]) and 2.0 * (d["cost"] - best["cost"]) <= 4.0 * s2
    ]
    if near:
        sd = np.sqrt(sd**2 + np.mean(np.square(near), axis=0))
    mult = {p: math.exp(v) for p, v in zip(procs, best["x"], strict=True)}
    fitted = copy.deepcopy(base)
    for p, m in mult.items():
        for key in _RATE_KEYS[p]:
            fitted[p][key] = float(fitted[p][key]) * m
    model = _model(build_network(fitted), r, times, fitted, resp)
    fam = np.repeat(np.array(FAMILIES), NX)
    xs = np.tile(np.arange(NX), 3)
    rows = pd.DataFrame(
        {
            "time_h": np.repeat(times, 3 * NX),
            "family": np.tile(fam, times.size),
            "au": np.tile(xs, times.size),
            "ag": np.tile(44 - xs, times.size),
            "observed": dist.ravel(),
            "model": model.ravel(),
        }
    )
    if sigma is not None:
        rows["sd"] = sigma.ravel()
    rows = rows[(rows["observed"] > 0) | (rows["model"] > 1e-4)].reset_index(drop=True)
    start_info = tuple(
        {
            "x0": dict(zip(procs, d["x0"], strict=True)),
            "cost": d["cost"],
            "success": d["success"],
            "nfev": d["nfev"],
        }
        for d in results
    )
    return FitResult(
        multipliers=mult,
        sd_log={p: float(v) for p, v in zip(procs, sd, strict=True)},
        params=fitted,
        cost=float(best["cost"]),
        rmse=float(np.sqrt(np.mean((model - dist) ** 2))),
        ratio=r,
        starts=start_info,
        table=rows,
        weighted=sigma is not None,
        chi2_red=chi2_red,
        response=how,
    )


def _response(
    response: Mapping[str, float] | Mapping[tuple[str, int], float] | None,
) -> npt.NDArray[np.float64] | None:
    """Response array (3, 45) from a mapping by family or by (family, x)."""
    if response is None:
        return None
    out = np.ones((3, NX))
    for key, v in response.items():
        val = float(v)
        if not (math.isfinite(val) and val > 0):
            raise InputError(f"response of {key!r} must be a finite number > 0, got {v!r}")
        fam, x = (key, None) if isinstance(key, str) else key
        if fam not in FAMILIES:
            raise InputError(
                f"unknown family {fam!r} in response; expected one of {', '.join(FAMILIES)}"
            )
        if x is None:
            out[FAMILIES.index(fam)] = val
        else:
            out[FAMILIES.index(fam), int(x)] = val
    return out


def _cluster_sd(
    jac: npt.NDArray[np.float64], fun: npt.NDArray[np.float64], n_times: int
) -> npt.NDArray[np.float64]:
    """Parameter sd's from the sandwich covariance with the time points as clusters.

    ``(J'J)^-1 (sum_t J_t' r_t r_t' J_t) (J'J)^-1`` times ``n / (n - 1)`` (``n`` time
    points); NaN-free (0 when it cannot be formed).
    """
    n_p = jac.shape[1]
    if n_times < 2 or jac.shape[0] % n_times:
        return np.zeros(n_p)
    j = jac.reshape(n_times, -1, n_p)
    r = fun.reshape(n_times, -1)
    score = np.einsum("tkp,tk->tp", j, r)
    meat = score.T @ score
    try:
        bread = np.linalg.pinv(jac.T @ jac)
    except np.linalg.LinAlgError:  # pragma: no cover
        return np.zeros(n_p)
    cov = bread @ meat @ bread * n_times / (n_times - 1)
    return np.sqrt(np.clip(np.diag(cov), 0.0, None))


def _sigma(
    sd: npt.NDArray[np.float64], dist: npt.NDArray[np.float64], floor: float
) -> npt.NDArray[np.float64]:
    """Weights' sd of every entry: the table's, else the detection limit at that time.

    A species the assignment did not report is known absent only down to its detection
    limit, which the smallest abundance reported beside it stands for.
    """
    out = np.array(sd, dtype=float)
    for t in range(out.shape[0]):
        seen = np.isfinite(out[t])
        reported = dist[t][seen & (dist[t] > 0)]
        low = float(np.min(reported)) if reported.size else floor
        out[t][~seen] = max(low, floor)
    return np.maximum(out, floor)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v) if math.isfinite(float(v)) else "nan"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dump_params(params: Mapping[str, Any], /) -> str:
    """Serialise a parameter dictionary (sections of scalars/inline tables) as TOML.

    Examples
    --------
    >>> import tomllib
    >>> from nanoalloy.kinetics import load_params
    >>> p = load_params()
    >>> tomllib.loads(dump_params(p)) == p
    True
    """
    lines = ["# nanoalloy kinetic parameters (units: see data/kinetics_default.toml)"]
    for sec, body in params.items():
        lines.append("")
        lines.append(f"[{sec}]")
        for k, v in body.items():
            lines.append(f"{k} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"
