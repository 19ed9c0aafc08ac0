"""Kinetic model: exact conservation, invariants, the DOMAIN.md outcome table, CLI contracts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from nanoalloy import kinetics as K
from nanoalloy.cli import main
from nanoalloy.errors import InputError, KineticsError
from nanoalloy.kinetics import fit as KF
from nanoalloy.kinetics import network as KN
from nanoalloy.kinetics import simulation as KS


@pytest.fixture(scope="module")
def net() -> K.Network:
    return K.build_network()


@pytest.fixture(scope="module")
def runs(net: K.Network) -> dict[float, K.SimulationResult]:
    ratios = [1 / 40, 1 / 10, 1 / 3, 2.0, 3.0, 6.0, 30.0]
    return {r: K.simulate({"Au44": r, "Ag44": 1.0}, hours=20.0, network=net) for r in ratios}


def only(*processes: str, **updates: dict) -> dict:
    p = K.load_params()
    for name in K.PROCESSES:
        p["processes"][name] = name in processes
    return K.merge_params(p, updates)


# ----------------------------------------------------------------------------- structure


def test_all_sorted() -> None:
    for mod in (K, KF, KN, KS):
        assert list(mod.__all__) == sorted(mod.__all__)
        for name in mod.__all__:
            assert hasattr(mod, name)


def test_conservation_vectors_in_left_null_space(net: K.Network) -> None:
    w = K.composition_matrix()  # Au, Ag, ligand, charge
    prod = w @ net.stoich.toarray()
    assert np.abs(prod).max() == 0.0
    # and the network is not trivially empty: every process contributes reactions
    assert set(np.unique(net.group)) == set(range(len(K.PROCESSES)))


def test_parent_decomposition_is_balanced_as_documented(net: K.Network) -> None:
    # [Au44(SR)26]2- + 42 RS- + 10 RSSR -> 44 [Au(SR)2]-
    s = net.stoich.tocsc()
    au44 = K.SPECIES_NAMES.index("M44S26:44")
    dec = np.flatnonzero((net.group == K.PROCESSES.index("decomposition")) & (net.i == au44))
    col = s[:, dec[0]].toarray().ravel()
    assert col[au44] == -1 and col[K.IAU] == 44
    assert col[K.IRS] == -42 and col[K.IRSSR] == -10


def test_fast_rhs_and_analytic_jacobian_match_explicit_network(net: K.Network) -> None:
    rng = np.random.default_rng(7)
    c = rng.random(K.NS)
    f_fast, f_ref = net.rhs(0.0, c), net.rhs_explicit(0.0, c)
    np.testing.assert_allclose(f_fast, f_ref, rtol=1e-10, atol=1e-9 * np.abs(f_ref).max())
    jac = net.jacobian(0.0, c).toarray()
    np.testing.assert_allclose(jac, net.jacobian_dense(0.0, c))
    eps = 1e-6
    fd = np.empty_like(jac)
    for k in range(K.NS):
        e = np.zeros(K.NS)
        e[k] = eps
        fd[:, k] = (net.rhs_explicit(0.0, c + e) - net.rhs_explicit(0.0, c - e)) / (2 * eps)
    assert np.abs(jac - fd).max() <= 1e-7 * np.abs(jac).max()
    # the declared sparsity pattern covers every non-zero
    pat = net.sparsity.toarray() != 0
    assert not np.any((np.abs(jac) > 0) & ~pat)


# ----------------------------------------------------------------------------- conservation


def test_conservation_every_run(runs: dict[float, K.SimulationResult]) -> None:
    for res in runs.values():
        assert set(res.conservation) == {"Au", "Ag", "ligand", "charge"}
        assert max(res.conservation.values()) < 1e-9
        assert res.state.min() > -1e-9


def test_conservation_with_dosing_and_dilution(net: K.Network) -> None:
    res = K.simulate(
        {"Au44": 1, "Ag44": 3},
        hours=30,
        additions=[(20.0, "Au44", 2.0), (25.0, "Ag44", 0.5)],
        network=net,
    )
    assert max(res.conservation.values()) < 1e-9
    # amounts (concentration x volume) of Au grow by exactly the dosed metal
    w = K.composition_matrix()
    au = (res.state * res.volume[:, None]) @ w[0]
    assert au[0] == pytest.approx(44.0, rel=1e-12)
    assert au[-1] == pytest.approx(44.0 * 3, rel=1e-9)
    assert res.volume[-1] == pytest.approx(6.5)


def test_dosing_at_t0_equals_feed_from_start(net: K.Network) -> None:
    a = K.simulate({"Au44": 3, "Ag44": 0.5}, additions=[(0.0, "Ag44", 0.5)], network=net)
    b = K.simulate({"Au44": 3, "Ag44": 1}, network=net)
    np.testing.assert_allclose(a.state[-1], b.state[-1], rtol=1e-6, atol=1e-9)
    assert a.summary["fractions"] == pytest.approx(b.summary["fractions"], abs=1e-7)


def test_ratio_is_scale_free(net: K.Network) -> None:
    a = K.simulate({"Au44": 3, "Ag44": 1}, network=net, hours=2)
    b = K.simulate({"Au44": 0.3, "Ag44": 0.1}, network=net, hours=2)
    np.testing.assert_allclose(a.state, b.state, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- invariants


@pytest.mark.parametrize(
    ("family", "sites", "lo", "hi"),
    [("M44S26", 44, 0, 44), ("M44S27", 44, 10, 30), ("M44S30", 12, 0, 12)],
)
def test_pure_exchange_reaches_binomial(family: str, sites: int, lo: int, hi: int) -> None:
    flat = {f: {"g": 0.0, "kappa": 0.0, "ico": 0.0, "shell": 0.0} for f in K.FAMILIES}
    p = only("exchange", energy=flat, exchange={"shell_factor": 0.0, "k": 1.0})
    res = K.simulate({f"{family}:{lo}": 1.0, f"{family}:{hi}": 1.0}, hours=50, params=p)
    dist = res.clusters[-1][K.FAMILIES.index(family)]
    dist = dist / dist.sum()
    n_au = (lo + hi) / 2  # mean x
    pmf = binom.pmf(np.arange(sites + 1), sites, n_au / sites)
    np.testing.assert_allclose(dist[: sites + 1], pmf, atol=1e-6)
    assert max(res.conservation.values()) < 1e-9


def test_detailed_balance_of_substitution_and_exchange() -> None:
    p = only("exchange", "substitution")
    res = K.simulate({"M44S30:0": 1.0, "M44S26:44": 0.2, "Au(SR)2": 4.0}, hours=400, params=p)
    c = res.state[-1]
    # every substitution pair balances its own reverse at the end (not just the sum)
    net = K.build_network(p)
    r = net.rates(c)
    sub = np.flatnonzero(net.group == K.PROCESSES.index("substitution"))
    half = sub.size // 6  # per family: 44 forward then 44 backward reactions
    assert half == 44
    fwd = r[sub].reshape(3, 2, 44)
    scale = fwd.max()
    np.testing.assert_allclose(fwd[:, 0], fwd[:, 1], atol=1e-6 * scale)
    # and the exchange-equilibrium product form: ratios C[x+1]/C[x] consistent across
    # families with one Au chemical potential
    mu = {f: KN._mu(p, f) for f in K.FAMILIES}
    logs = []
    for f in ("M44S30",):
        a, b = KN._site_factors(f, float(p["exchange"]["shell_factor"]))
        cl = c[KN._idx(f, 0) : KN._idx(f, 0) + 12]
        lam = np.log(cl[1:] / cl[:-1]) - np.log(a[:11] / b[1:12]) + np.diff(mu[f])[:11]
        logs.append(lam)
    lam = np.concatenate(logs)
    assert np.ptp(lam) < 1e-4


# ----------------------------------------------------------------------------- outcomes


def _mode(res: K.SimulationResult, family: str) -> int:
    return int(res.summary["mode_x"][family])


def test_outcome_table_domain(runs: dict[float, K.SimulationResult]) -> None:
    s = {r: res.summary for r, res in runs.items()}
    fr = {r: v["fractions"] for r, v in s.items()}
    assert s[1 / 40]["dominant"] == "M44S30" and _mode(runs[1 / 40], "M44S30") in (0, 1)
    assert s[1 / 10]["dominant"] == "M44S30" and 6 <= _mode(runs[1 / 10], "M44S30") <= 8
    assert s[1 / 3]["dominant"] == "M44S30" and _mode(runs[1 / 3], "M44S30") == 12
    assert s[2.0]["dominant"] == "M44S27" and 19 <= _mode(runs[2.0], "M44S27") <= 21
    assert s[3.0]["dominant"] == "M44S27" and 20 <= _mode(runs[3.0], "M44S27") <= 22
    assert fr[6.0]["M44S26"] >= 0.15 and fr[6.0]["M44S27"] >= 0.15
    assert 39 <= _mode(runs[6.0], "M44S26") <= 43
    assert s[30.0]["dominant"] == "M44S26" and 42 <= _mode(runs[30.0], "M44S26") <= 44


def test_electron_rule_over_40_ratio_sweep() -> None:
    ratios = np.geomspace(1 / 40, 40, 40)
    table = K.sweep(ratios, hours=20, n_jobs=2)
    assert len(table) == 40
    assert (table["max_residual"] < 1e-9).all()
    e_feed = (20 * table["ratio"] + 18) / (table["ratio"] + 1)
    eighteen = table["fraction_M44S30"]
    twenty = table["fraction_M44S27"] + table["fraction_M44S26"]
    assert (eighteen[e_feed < 19] > 0.5).all()
    assert (twenty[e_feed > 19] > 0.5).all()
    assert np.allclose(table["mean_electrons"], 18 * eighteen + 20 * twenty)


def test_timecourse_3_to_1_order_of_events(net: K.Network) -> None:
    t = np.array([0, 2, 10, 30, 60, 120, 180, 1200]) / 60
    res = K.simulate({"Au44": 3, "Ag44": 1}, times=t, network=net)
    tc = res.family_timecourse()
    i = {m: k for k, m in enumerate([0, 2, 10, 30, 60, 120, 180, 1200])}
    # 2-10 min: Ag-doped M44S26 (x 40-43) beside Au-doped M44S30 (x 1-12)
    assert tc["M44S26"][i[10]] > 0.5 and 38 <= tc["M44S26:x"][i[10]] <= 43.5
    assert tc["M44S30"][i[2]] > 0.1 and 1 <= tc["M44S30:x"][i[2]] <= 12.5
    # M44S30 consumed by 60 min; M44S27 appears, then grows at the expense of M44S26
    assert tc["M44S30"][i[60]] < 0.1 * tc["M44S30"][i[0]]
    assert tc["M44S27"][i[10]] < tc["M44S27"][i[30]] < tc["M44S27"][i[120]]
    assert tc["M44S26"][i[30]] > tc["M44S26"][i[120]] > tc["M44S26"][i[180]]
    # 20 h: M44S27 dominant (known deviation: the model re-forms some M44S26 after ~3 h
    # from the Au(I) complex pool instead of losing it completely)
    assert tc["M44S27"][i[1200]] > tc["M44S26"][i[1200]]


def test_timecourse_1_to_3_order_of_events(net: K.Network) -> None:
    t = np.array([0, 2, 10, 30, 60, 120, 180, 1200]) / 60
    res = K.simulate({"Au44": 1, "Ag44": 3}, times=t, network=net)
    tc = res.family_timecourse()
    cl = res.clusters
    au44 = cl[:, K.FAMILIES.index("M44S26"), 44] / cl[0, K.FAMILIES.index("M44S26"), 44]
    assert au44[2] < 0.1  # Au44 gone within minutes (t = 10 min)
    x30 = tc["M44S30:x"]
    assert x30[1] < 5  # 2 min: still Ag44-like
    assert np.all(np.diff(x30[1:]) > -0.05)  # x rises over hours ...
    assert x30[4] > 5  # 60 min: x > 5
    assert x30[-1] <= 12.0 + 1e-6  # ... capped at 12
    assert tc["M44S30"][-1] > 0.95


def _mean_sd(dist: np.ndarray) -> tuple[float, float]:
    x = np.arange(dist.size)
    d = dist / dist.sum()
    m = float((d * x).sum())
    return m, float(np.sqrt((d * (x - m) ** 2).sum()))


def test_focusing_narrows_distributions(net: K.Network) -> None:
    res = K.simulate({"Au44": 1, "Ag44": 3}, times=[0.5, 20.0], network=net)
    k30 = K.FAMILIES.index("M44S30")
    _, sd_early = _mean_sd(res.clusters[0, k30])
    _, sd_late = _mean_sd(res.clusters[-1, k30])
    assert sd_late < 0.5 * sd_early
    res = K.simulate({"Au44": 3, "Ag44": 1}, network=net)
    m, sd = _mean_sd(res.clusters[-1, K.FAMILIES.index("M44S27")])
    assert sd < 0.5 * math.sqrt(44 * (m / 44) * (1 - m / 44))  # far below binomial


# ----------------------------------------------------------------------------- API errors


@pytest.mark.parametrize(
    ("text", "hours"), [("20h", 20.0), ("90min", 1.5), ("30s", 30 / 3600), ("2.5", 2.5)]
)
def test_parse_time(text: str, hours: float) -> None:
    assert K.parse_time(text) == pytest.approx(hours)


@pytest.mark.parametrize("text", ["", "h", "-1h", "tenmin", "nanh"])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(KineticsError):
        K.parse_time(text)


@pytest.mark.parametrize(
    ("feed", "kw", "match"),
    [
        ({"Cu44": 1}, {}, "unknown species"),
        ({"Au44": -1}, {}, ">= 0"),
        ({"Au44": 0}, {}, "empty"),
        ({"Au44": 1}, {"hours": -2}, "hours"),
        ({"Au44": 1}, {"additions": [(30.0, "Ag44", 1.0)]}, "outside"),
        ({"Au44": 1}, {"additions": [(1.0, "Ag44", 0.0)]}, "> 0"),
    ],
)
def test_simulate_rejects(feed: dict, kw: dict, match: str) -> None:
    with pytest.raises(KineticsError, match=match):
        K.simulate(feed, **kw)


def test_params_file_merges_and_rejects_unknown(tmp_path: Path) -> None:
    good = tmp_path / "p.toml"
    good.write_text("[exchange]\nk = 0.25\n")
    assert K.load_params(good)["exchange"]["k"] == 0.25
    bad = tmp_path / "bad.toml"
    bad.write_text("[exchnage]\nk = 1\n")
    with pytest.raises(KineticsError, match="exchnage"):
        K.load_params(bad)


def test_dump_params_round_trip(tmp_path: Path) -> None:
    p = K.load_params()
    path = tmp_path / "x.toml"
    path.write_text(KF.dump_params(p))
    assert K.load_params(path) == p


# ----------------------------------------------------------------------------- CLI


def test_cli_simulate_writes_contract(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    assert main(["simulate", "--ratio", "3:1", "--hours", "20", "--out", str(out)]) == 0
    final = pd.read_csv(out / "final.csv")
    assert list(final.columns) == ["family", "au", "ag", "ligands", "core_charge", "fraction"]
    assert set(final["family"]) == set(K.FAMILIES)
    assert final["fraction"].sum() == pytest.approx(1.0)
    assert ((final["au"] + final["ag"]) == 44).all()
    pop = pd.read_csv(out / "populations.csv")
    assert list(pop.columns) == ["time_h", *final.columns]
    assert pop["time_h"].max() == pytest.approx(20.0)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["conservation"]) == {"Au", "Ag", "ligand", "charge"}
    assert max(summary["conservation"].values()) < 1e-9
    assert set(summary["fractions"]) == set(K.FAMILIES)
    assert set(summary["mean_x"]) == set(K.FAMILIES)
    assert (out / "timecourse.png").stat().st_size > 1000
    report = (out / "report.html").read_text()
    assert "Simulation" in report and "Final populations" in report


def test_cli_ratio_equals_feed(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["simulate", "--ratio", "3:1", "--hours", "2", "--out", str(a)]) == 0
    feed = ["--feed", "Au44=3", "--feed", "Ag44=1"]
    assert main(["simulate", *feed, "--hours", "2", "--out", str(b)]) == 0
    fa, fb = pd.read_csv(a / "final.csv"), pd.read_csv(b / "final.csv")
    pd.testing.assert_frame_equal(fa, fb)


def test_cli_simulate_with_additions(tmp_path: Path) -> None:
    out = tmp_path / "dose"
    args = ["simulate", "--ratio", "1:3", "--hours", "22", "--add", "20h:Au44=2"]
    assert main([*args, "--add", "1260min:Ag44=0.5", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [a["time_h"] for a in summary["additions"]] == [20.0, 21.0]
    assert max(summary["conservation"].values()) < 1e-9


@pytest.mark.parametrize(
    "args",
    [
        ["--ratio", "3-1"],
        ["--ratio", "a:1"],
        ["--ratio", "0:0"],
        ["--feed", "Cu44=1"],
        ["--feed", "Au44"],
        ["--feed", "Au44=-1"],
        ["--ratio", "1:1", "--add", "25h:Au44=1"],
        ["--ratio", "1:1", "--add", "2h:Au44"],
        ["--ratio", "1:1", "--add", "xh:Au44=1"],
        ["--ratio", "1:1", "--hours", "0"],
        ["--ratio", "1:1", "--params", "/nonexistent/params.toml"],
    ],
)
def test_cli_simulate_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    out = tmp_path / "never"
    # an option's value is a usage error (2); a file that cannot be read is bad input (1)
    assert main(["simulate", *args, "--out", str(out)]) == (1 if "--params" in args else 2)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err
    assert not out.exists()


def test_cli_sweep(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    assert main(["sweep", "--ratios", "1:40,1:3,3:1,30:1", "--hours", "20", "--out", str(out)]) == 0
    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 4
    for col in ("ratio", "fraction_M44S30", "mean_x_M44S27", "au_ag_M44S26", "mean_electrons"):
        assert col in table.columns
    assert table["ratio"].tolist() == pytest.approx([1 / 40, 1 / 3, 3, 30])
    assert (out / "sweep.png").stat().st_size > 1000


def test_cli_sweep_bad_ratios(tmp_path: Path) -> None:
    assert main(["sweep", "--ratios", "1:0", "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


# ----------------------------------------------------------------------------- fitting


def _synthetic(tmp_path: Path, factor: float) -> Path:
    p = K.load_params()
    p["exchange"]["k"] *= factor
    res = K.simulate({"Au44": 3, "Ag44": 1}, hours=1.0, times=[0, 0.05, 0.2, 0.5, 1.0], params=p)
    pop = res.populations
    pop = pop[pop["fraction"] > 1e-6].rename(columns={"fraction": "abundance"})
    path = tmp_path / "tc.csv"
    pop.to_csv(path, index=False)
    return path


def test_fit_recovers_a_rate_multiplier(tmp_path: Path) -> None:
    path = _synthetic(tmp_path, 2.0)
    res = KF.fit_timecourse(path, starts=2, processes=("exchange",), ratio=3.0, max_nfev=15)
    assert res.multipliers["exchange"] == pytest.approx(2.0, rel=0.05)
    assert res.sd_log["exchange"] >= 0 and math.isfinite(res.sd_log["exchange"])
    assert res.values["exchange.k"] == pytest.approx(2 * K.load_params()["exchange"]["k"], rel=0.05)
    assert len(res.starts) == 2


def test_fit_ratio_inferred_from_first_time_point(tmp_path: Path) -> None:
    path = _synthetic(tmp_path, 1.0)
    times, dist = KF.read_timecourse(path)
    assert times[0] == 0.0
    assert KF._infer_ratio(dist[0]) == pytest.approx(3.0, rel=1e-6)


def test_fit_on_dask_client(tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    path = _synthetic(tmp_path, 1.0)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2) as client:
        res = KF.fit_timecourse(
            path, starts=2, scheduler=client, processes=("exchange",), ratio=3.0, max_nfev=3
        )
    assert len(res.starts) == 2
    assert res.multipliers["exchange"] == pytest.approx(1.0, rel=0.05)


def test_cli_fit_kinetics(tmp_path: Path) -> None:
    path = _synthetic(tmp_path, 1.0)
    out = tmp_path / "fit"
    args = ["fit-kinetics", str(path), "--out", str(out), "--starts", "1", "--max-nfev", "2"]
    assert main(args) == 0
    fit = json.loads((out / "fit.json").read_text())
    assert set(fit["values"]) >= {"exchange.k", "substitution.k"}
    assert set(fit["sd"]) == set(fit["values"])
    assert K.load_params(out / "params.toml")["exchange"]["k"] > 0
    table = pd.read_csv(out / "fit.csv")
    assert {"time_h", "family", "au", "ag", "observed", "model"} <= set(table.columns)
    assert (out / "fit.png").exists()


def test_read_timecourse_rejects_bad_tables(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time_h,family,au,ag,abundance\n0,M44S99,1,43,1\n")
    with pytest.raises(InputError, match="M44S99"):
        KF.read_timecourse(bad)
    bad.write_text("t,family,au,ag,abundance\n0,M44S30,1,43,1\n")
    with pytest.raises(InputError, match="time_h"):
        KF.read_timecourse(bad)
    bad.write_text("time,family,au,ag,fraction\n0,M44S30,1,42,1\n")
    with pytest.raises(InputError, match="44"):
        KF.read_timecourse(bad)


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("one_time", "too few time points to fit 5 rate constants"),
        ("header_only", "no data rows"),
        ("inf_fraction", r"non-finite abundance \(inf\) at data row 2"),
    ],
)
def test_cli_fit_kinetics_refuses_tables_it_cannot_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, match: str
) -> None:
    import re
    import warnings

    tab = pd.read_csv(_synthetic(tmp_path, 1.0))
    if case == "one_time":
        tab = tab[tab["time_h"] == 0]
    elif case == "header_only":
        tab = tab.iloc[:0]
    else:
        tab["abundance"] = tab["abundance"].astype(float)
        tab.loc[tab.index[1], "abundance"] = math.inf
    path = tmp_path / f"{case}.csv"
    tab.to_csv(path, index=False)
    out = tmp_path / "fit"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["fit-kinetics", str(path), "--out", str(out), "--starts", "1"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and re.search(match, err), err
    assert not out.exists()


# ------------------------------------------------------------- window response

WINDOW = {"M44S30": 1.0, "M44S27": 0.4, "M44S26": 0.35}  # the demo's 2000-2800 m/z window


def _seen_through_window(tmp_path: Path, factor: float) -> Path:
    """Populations of a 3:1 run as a window that sees each family partly would assign them."""
    path = _synthetic(tmp_path, factor)
    tab = pd.read_csv(path)
    tab["window_share"] = tab["family"].map(WINDOW)
    tab["abundance"] *= tab["window_share"]
    tab["abundance"] /= tab.groupby("time_h")["abundance"].transform("sum")
    tab.to_csv(path, index=False)
    return path


def test_fit_compares_through_the_window_share_column(tmp_path: Path) -> None:
    path = _seen_through_window(tmp_path, 2.0)
    res = KF.fit_timecourse(path, starts=2, processes=("exchange",), max_nfev=15)
    assert res.response == "window_share"
    assert res.ratio == pytest.approx(3.0, rel=1e-3)  # read from the corrected first time
    assert res.multipliers["exchange"] == pytest.approx(2.0, rel=0.05)
    # the same table taken at face value: the in-window shares are not populations
    raw = KF.fit_timecourse(
        path, starts=2, processes=("exchange",), max_nfev=15, window_share=False
    )
    assert raw.response == "none"
    assert raw.ratio < 2.0
    assert raw.rmse > 10 * res.rmse


def test_read_window_share_fills_unlisted_x_from_the_nearest(tmp_path: Path) -> None:
    tab = pd.DataFrame(
        {
            "time_h": [0.0, 0.0, 1.0, 1.0],
            "family": ["M44S26", "M44S26", "M44S26", "M44S27"],
            "au": [40, 30, 40, 20],
            "ag": [4, 14, 4, 24],
            "abundance": [0.5, 0.5, 0.6, 0.4],
            "window_share": [0.35, 0.0, 0.35, 0.4],
        }
    )
    resp = KF.read_window_share(tab)
    assert resp is not None
    s26, s27, s30 = resp[2], resp[1], resp[0]
    assert s26[44] == s26[40] == 0.35
    assert s26[0] == s26[30] == KF.MIN_WINDOW_SHARE  # 0 seen: raised to the floor
    assert set(s27) == {0.4}
    assert set(s30) == {1.0}  # never listed
    assert KF.read_window_share(tab.drop(columns="window_share")) is None
    tab.loc[0, "window_share"] = 1.5
    with pytest.raises(InputError, match="window_share"):
        KF.read_window_share(tab)


def test_cli_fit_kinetics_says_it_used_the_window_share(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = _seen_through_window(tmp_path, 1.0)
    out = tmp_path / "fit"
    args = ["fit-kinetics", str(path), "--out", str(out), "--starts", "1", "--max-nfev", "2"]
    assert main(args) == 0
    assert "window_share" in capsys.readouterr().out
    assert json.loads((out / "fit.json").read_text())["response"] == "window_share"
    assert main([*args, "--no-response", "--overwrite"]) == 0
    assert json.loads((out / "fit.json").read_text())["response"] == "none"


def test_simulation_result_is_a_rich_object(tmp_path: Path) -> None:
    """Issue 5: ``nanoalloy.simulate(...)`` returns DataFrames, ``.plot()`` and ``_repr_html_``."""
    import nanoalloy

    res = nanoalloy.simulate({"Au44": 3.0, "Ag44": 1.0}, hours=2.0)
    fam = res.families
    assert list(fam.columns) == ["time_h", "family", "fraction", "mean_x"]
    last = fam[fam["time_h"] == res.times[-1]]
    assert last["fraction"].sum() == pytest.approx(1.0)
    assert dict(zip(last["family"], last["fraction"], strict=True)) == pytest.approx(
        res.summary["fractions"]
    )
    fig = res.plot()
    assert len(fig.axes) == 2
    res.plot(tmp_path / "tc.png", title="3:1")
    assert (tmp_path / "tc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = res._repr_html_()
    assert "<table>" in html and "M44S27" in html and "Au44 3" in html
    assert "2 h" in repr(res)


def test_timecourse_plot_starts_at_time_zero() -> None:
    """A symlog time axis starts at t = 0: its default margin drew decades of negative
    time (-10^0 h ...) before the run, found by a first user's ``simulate`` timecourse.png."""
    import nanoalloy

    res = nanoalloy.simulate({"Au44": 3.0, "Ag44": 1.0}, hours=20.0)
    ax1, ax2 = res.plot().axes
    assert ax2.get_xscale() == "symlog"
    assert ax1.get_xlim() == ax2.get_xlim() == pytest.approx((0.0, 20.0))


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "--ratio", "1e308:1e-308"],
        ["simulate", "--feed", "Au44=1e7"],
        ["simulate", "--ratio", "1:1", "--add", "1h:Ag44=1e9"],
        ["sweep", "--ratios", "1e308:1e-308"],
    ],
)
def test_absurd_feed_amounts_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """``--ratio 1e308:1e-308`` printed numpy's overflow warnings (six lines) and then the
    solver's "y0 must be finite"; ``sweep`` gave exit 1 for the same option."""
    out = tmp_path / "never"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Warning" not in err and "bad " in err, err
    assert not out.exists()


def test_a_semicolon_time_course_names_its_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ';'-separated time course said only "lacks column(s) time_h, ..." though it
    holds them all: the message shows the columns read and the delimiter."""
    path = tmp_path / "tc.csv"
    path.write_text("time_h;family;au;ag;abundance\n0;M44S30;5;39;1\n1;M44S30;5;39;0.8\n")
    assert main(["fit-kinetics", str(path), "--out", str(tmp_path / "k"), "--starts", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "its columns: time_h;family;au;ag;abundance" in err
    assert "save it as CSV with commas" in err


def test_a_non_numeric_cell_is_named_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in one cell said "non-numeric time, au, ag or abundance values" without
    saying where: the message names the column, the cell and its line."""
    path = tmp_path / "tc.csv"
    path.write_text(
        "time_h,family,au,ag,abundance\n0,M44S30,5,39,1\n1,M44S30,5,39,O.8\n2,M44S30,5,39,0.7\n"
    )
    out = tmp_path / "k"
    assert main(["fit-kinetics", str(path), "--out", str(out), "--starts", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "non-numeric abundance ('O.8')" in err, err
    assert "line 3" in err and not out.exists()
