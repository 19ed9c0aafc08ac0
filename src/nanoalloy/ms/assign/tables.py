"""Tables of the assigner: species, ions and families from the final fit (step 6)."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..fit import (
    cosine_pairs,
)
from ..library import CandidateLibrary, Preset
from ..peaks import Calibration
from ..response import ion_window_shares, window_shares
from ..spectrum import Spectrum
from .candidates import _Problem
from .design import _readable
from .result import FAMILY_EXTRA_COLUMNS, ION_COLUMNS, SPECIES_COLUMNS, Assignment

if TYPE_CHECKING:
    import pandas as pd

    from ...chem.isotopes import Pattern
    from .uncertainty import Uncertainty

__all__: list[str] = []


def _empty(
    spectrum: Spectrum,
    resolution: float,
    noise: float,
    base: np.ndarray,
    g: Any,
    message: str = "no clusters found",
) -> Assignment:
    import pandas as pd

    from ..composition import FAMILY_COLUMNS

    baseline = base[g.index]
    return Assignment(
        pd.DataFrame(columns=list(SPECIES_COLUMNS)),
        pd.DataFrame(columns=list(ION_COLUMNS)),
        pd.DataFrame(columns=[*FAMILY_COLUMNS, *FAMILY_EXTRA_COLUMNS]),
        spectrum,
        None,
        float(resolution),
        0.0,
        float(np.sqrt(np.mean((spectrum.intensity - baseline) ** 2))),
        float(noise),
        message,
        ([], np.zeros(0), spectrum.mz, baseline),
    )


def _tables(
    spectrum: Spectrum,
    preset: Preset,
    lib: CandidateLibrary,
    pats: list[Pattern],
    prob: _Problem,
    state: dict[str, Any],
    resolution: float,
    noise: float,
    calibration: Calibration | None,
    mz_cal: np.ndarray,
    shifts: np.ndarray,
    isobar_threshold: float,
    min_snr: float,
    uncertainty: Uncertainty | None = None,
) -> Assignment:
    import pandas as pd

    from ..composition import family_table

    fitted = state["fit"]
    design, rows, gy = state["design"], state["rows"], state["gy"]
    y = gy[rows]
    resid = y - fitted.model
    # R^2 over the rows the fit could read at every calibration searched (see
    # design._build_design): rows no ion reaches count with their data less the fitted
    # baseline hats there (without them, what an opening wider than the window left of
    # a sloping baseline counted as unexplained: R^2 -0.10 for a right fit of an Au25
    # spectrum on a 15 % baseline), the ends a read may fall off do not
    counted = _readable(state["g"].mz, float(state.get("edge_ppm", 0.0)))
    counted[rows] = True
    outside = counted.copy()
    outside[rows] = False
    rest = gy[outside] - state["hat_fit"][outside]
    # the model as drawn: its baseline refitted on every row (pipeline._baseline_everywhere)
    drawn = resid - state.get("hat_shift", 0.0)
    ss_res = float(drawn @ drawn) + float(rest @ rest)
    ss_tot = float(np.sum((gy[counted] - gy[counted].mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    rmse = math.sqrt(ss_res / int(counted.sum()))
    sigma2 = max(float(resid @ resid) / max(y.size - fitted.group.size, 1), noise**2)
    # per-group uncertainty from the active block of the Gram matrix (baseline terms included)
    sd_all = np.zeros(fitted.group.size)
    act = np.flatnonzero(fitted.group > 0)
    if act.size:
        cov = np.linalg.pinv(fitted.gram[np.ix_(act, act)]) * sigma2
        sd_all[act] = np.sqrt(np.clip(np.diag(cov), 0, None))
    n_group, n_ion = state["n"]
    design = design[:, :n_ion]
    fitted = dataclasses.replace(
        fitted,
        group=fitted.group[:n_group],
        ion=fitted.ion[:n_ion],
        gram=fitted.gram[:n_group, :n_group],
        design=design,
    )
    sd_a = sd_all[:n_group]
    cands = [lib.candidates[i] for i in prob.idx]
    mz_mean = lib.mz_average[prob.idx]
    a = fitted.group
    active = a > 0
    # ion intensities: ions whose mean m/z lies in the spectrum count whole (as the
    # synthesizer's truth does); an envelope the window cuts off before its mean (an
    # edge, or a zoom on the top of one envelope) by the share of it inside
    ion_i = fitted.ion
    factor = np.where(ion_i > 0, ion_i / np.where(a[prob.group] > 0, a[prob.group], 1.0), 0.0)
    inside = _inside_share(pats, prob.idx, mz_mean, mz_cal[0], mz_cal[-1])
    signal = np.bincount(prob.group, weights=ion_i * inside, minlength=n_group)
    sd_signal = sd_a * np.bincount(prob.group, weights=factor, minlength=n_group)
    # score: envelope correlation with the data it explains x log SNR
    from scipy import sparse

    mix = sparse.csc_matrix(
        (np.where(prob.form >= 0, factor, 1.0), (np.arange(prob.group.size), prob.group)),
        shape=(prob.group.size, n_group),
    )
    cols = (design @ mix).tocsc()
    score = np.zeros(n_group)
    for k in np.flatnonzero(active).tolist():
        col = cols[:, k]
        r_idx = col.indices
        c = col.data * a[k]
        keep = c > 0.05 * c.max()
        part = resid[r_idx[keep]] + c[keep]
        den = float(np.linalg.norm(c[keep]) * np.linalg.norm(part))
        cos = float(c[keep] @ part) / den if den > 0 else 0.0
        score[k] = max(cos, 0.0) * math.log10(1.0 + float(c.max()) / noise)
    # near-isobar partners among species (structured columns)
    gram_cols = (cols.T @ cols).toarray()
    partners: dict[int, list[str]] = {}
    for i, j, _ in cosine_pairs(gram_cols, active, threshold=isobar_threshold):
        partners.setdefault(i, []).append(prob.group_labels[j][0])
        partners.setdefault(j, []).append(prob.group_labels[i][0])

    first: dict[int, Any] = {}
    n_ions = np.bincount(prob.group, weights=(ion_i > 0).astype(float), minlength=n_group)
    for c, gidx in zip(cands, prob.group, strict=True):
        first.setdefault(int(gidx), c)
    sp_rows = []
    height = np.zeros(n_group)
    for k in np.flatnonzero(active).tolist():
        height[k] = float(cols[:, k].data.max(initial=0.0)) * a[k]
    for k in range(int(n_group)):
        if signal[k] <= 0:
            continue
        c = first[k]
        label, family, au = prob.group_labels[k]
        sp_rows.append(
            {
                "species": c.species,
                "family": family,
                "au": c.au,
                "ag": c.ag,
                "x": c.x,
                "ligands": c.ligands,
                "core_charge": c.core_charge,
                "electrons": c.electrons,
                "signal": signal[k],
                "signal_sd": sd_signal[k],
                "score": score[k],
                "n_ions": int(n_ions[k]),
                "near_isobar": ";".join(sorted(set(partners.get(k, [])))),
                "_faint": bool(height[k] < min_snr * noise),
            }
        )
    sp = pd.DataFrame(sp_rows)
    if sp.empty:
        return _empty(spectrum, resolution, noise, state["base"], state["g"])
    # fragments / complexes: pool free ions into their neutral species
    agg = {
        "au": "first",
        "ag": "first",
        "x": "first",
        "ligands": "first",
        "core_charge": "first",
        "electrons": "first",
        "signal": "sum",
        "signal_sd": lambda s: float(np.sqrt(np.sum(np.square(s)))),
        "score": "max",
        "n_ions": "sum",
        "near_isobar": lambda s: ";".join(sorted({v for t in s for v in t.split(";") if v})),
        "_faint": "all",
    }
    sp = sp.groupby(["species", "family"], as_index=False, sort=False).agg(agg)
    cluster = ~sp["family"].isin(["fragment", "complex"])
    total = float(sp.loc[cluster, "signal"].sum())
    if total <= 0:
        return _empty(spectrum, resolution, noise, state["base"], state["g"])
    sp["abundance"] = sp["signal"] / total
    sp["abundance_sd"] = sp["signal_sd"] / total
    sp["ambiguity_group"] = ""
    sp["ambiguity_share"] = 1.0
    if uncertainty is not None:
        sp = _with_uncertainty(sp, uncertainty, preset)
    sp = _detected(sp, min_snr)
    if not (~sp["family"].isin(["fragment", "complex"])).any():
        return _empty(spectrum, resolution, noise, state["base"], state["g"])
    fam_order = {f.name: i for i, f in enumerate(preset.families)}
    fam_order.update({"fragment": 98, "complex": 99})
    sp["_o"] = sp["family"].map(fam_order)
    sp = sp.sort_values(["_o", "x", "au", "ligands"]).drop(columns=["_o", "signal_sd"])
    # over the charge states of the polarity fitted (the problem's ions share one sign
    # when the polarity was given, recorded or chosen): a negative-mode window cannot
    # see a family's Cs+ adducts, so they must not count against it
    signs = {c.charge > 0 for c in cands if c.charge}
    polarity: Literal["negative", "positive"] | None = None
    if len(signs) == 1:
        polarity = "positive" if signs.pop() else "negative"
    sp["window_share"] = window_shares(
        preset, sp, float(mz_cal[0]), float(mz_cal[-1]), polarity=polarity
    )
    sp = sp[list(SPECIES_COLUMNS)].reset_index(drop=True)

    ions = _ion_table(
        cands, prob, fitted, pats, design, mz_mean, sd_a, shifts, isobar_threshold, inside
    )
    # the ions of the species reported, only: _detected leaves out faint species no
    # neighbour backs, and their ions go with them (they stay in the model and R^2)
    reported = set(zip(sp["species"], sp["family"], strict=True))
    listed = [k in reported for k in zip(ions["species"], ions["family"], strict=True)]
    ions = ions[np.array(listed, dtype=bool)].reset_index(drop=True)
    ions["ambiguous_with"] = _ambiguous_with(ions, uncertainty, resolution)
    fams = family_table(sp, n_metals={f.name: f.n_metals for f in preset.families})
    fams["fraction_sd"] = _fraction_sd(sp, fams, uncertainty)
    live = ion_i > 0
    render_pats = [pats[i] for i, keep in zip(prob.idx, live, strict=True) if keep]
    baseline = state["base"][state["g"].index]
    return Assignment(
        sp,
        ions,
        fams,
        spectrum,
        calibration,
        float(resolution),
        float(r2),
        float(rmse),
        float(noise),
        "",
        (render_pats, ion_i[live], mz_cal, baseline),
    )


SPREAD_SPECIES = 3
"""A family with this many species above the detection limit shows an x distribution: its
faint neighbours are reported as its tails (see :func:`_detected`)."""


def _detected(sp: pd.DataFrame, min_snr: float) -> pd.DataFrame:
    """The species reported: the faint ones only where the data and the chemistry back them.

    A species whose tallest fitted peak stands below ``min_snr`` x noise is reported
    when its family holds a species of the next or previous x that stands above the
    limit (a trace at the edge of a contiguous x distribution, not an isolated one)
    *and* either its abundance is at least ``min_snr`` times its sd (an envelope of
    many isotope peaks is detected by its integrated signal, as a matched filter
    detects it, not by its tallest peak) or its family shows a distribution,
    :data:`SPREAD_SPECIES` or more species above the limit, whose tail it continues
    (the ``x_smooth`` chemistry: a smooth x distribution does not stop at the detection
    limit, and cutting it there biases the family's distribution where its sd's
    cannot say so). The demo's 30 min M44S30 x = 14 (0.5 % of the signal, 5 sd) is
    one; left out, its family's x distribution was TV 0.05-0.06 off. An independent
    generator's 3-family windows (M44S27 x 14-27 at 0.22 of the signal) lost x = 17
    and 24 at 1.2 sd: TV 0.12 and 0.11 against 0.05 and 0.06 with them. A lone
    [Au25(PET)18]- keeps its traces of Ag swaps out. The others are not reported, and
    the cluster abundances are renormalised without them.
    """
    faint = sp["_faint"].eq(True).to_numpy()  # rows the hypotheses added (NaN): not faint
    sp = sp.drop(columns="_faint")
    if not faint.any():
        return sp
    loud = set(zip(sp["family"][~faint], sp["x"][~faint], strict=True))
    backed = np.array(
        [
            (fam, x - 1) in loud or (fam, x + 1) in loud
            for fam, x in zip(sp["family"], sp["x"], strict=True)
        ]
    )
    significant = (sp["abundance"] >= min_snr * sp["abundance_sd"]).to_numpy()
    spread = sp.loc[~faint, "family"].value_counts()
    tail = sp["family"].map(spread).fillna(0).to_numpy() >= SPREAD_SPECIES
    sp = sp[~faint | (backed & (significant | tail))].reset_index(drop=True)
    cluster = ~sp["family"].isin(["fragment", "complex"])
    total = float(sp.loc[cluster, "abundance"].sum())
    if total > 0:
        sp.loc[cluster, ["abundance", "abundance_sd"]] /= total
    return sp


MIN_INSIDE = 0.02
"""An ion cut off by the window before its mean is listed when this share of it is inside."""


def _inside_share(
    pats: list[Pattern], idx: np.ndarray, mz_mean: np.ndarray, lo: float, hi: float
) -> np.ndarray:
    """Per ion: 1 when its mean m/z lies in ``[lo, hi]``, else its isotope pattern's share there
    (:func:`~nanoalloy.ms.response.ion_window_shares`)."""
    return ion_window_shares([pats[int(i)] for i in idx], mz_mean, lo, hi)


def _ion_table(
    cands: list[Any],
    prob: _Problem,
    fitted: Any,
    pats: list[Pattern],
    design: Any,
    mz_mean: np.ndarray,
    sd_a: np.ndarray,
    shifts: np.ndarray,
    isobar_threshold: float,
    inside: np.ndarray,
) -> pd.DataFrame:
    """One row per fitted ion with signal in the window (``inside``: its share there).

    An ion the window cuts off before its mean is listed with the signal inside
    the window only (its whole fitted amplitude extrapolates a few edge points: a
    Na+ rung just outside a zoom read ten times the spectrum's maximum), and not
    at all when less than ``MIN_INSIDE`` of it is there.
    """
    import pandas as pd

    ion_i = fitted.ion * inside
    a = fitted.group[prob.group]
    live = np.flatnonzero(
        (ion_i > 1e-12 * max(float(ion_i.max(initial=0.0)), 1e-300)) & (inside >= MIN_INSIDE)
    )
    # near-isobar partners of the fitted ions (any candidate in the problem)
    norms = np.sqrt(np.asarray(design.multiply(design).sum(axis=0)).ravel())
    sub = design[:, live]
    cross = (sub.T @ design).tocoo()
    cos = cross.data / np.maximum(norms[live][cross.row] * norms[cross.col], 1e-300)
    partners: dict[int, list[str]] = {}
    sel = (cos > isobar_threshold) & (live[cross.row] != cross.col)
    for r, c in zip(cross.row[sel].tolist(), cross.col[sel].tolist(), strict=True):
        partners.setdefault(int(live[r]), []).append(str(cands[c].ion))
    if shifts.shape[0]:
        order = np.argsort(shifts[:, 0])
        ppm = np.interp(mz_mean, shifts[order, 0], shifts[order, 1])
    else:
        ppm = np.zeros(mz_mean.size)
    rows = []
    for i in live.tolist():
        c = cands[i]
        frac = ion_i[i] / a[i] if a[i] > 0 else 1.0
        rows.append(
            {
                "ion": str(c.ion),
                "species": c.species,
                "family": c.family,
                "charge": c.charge,
                "na": c.na,
                "halides": c.halides,
                # the ion's average m/z (exact, from its formula; the isotope pattern's
                # mean, cut at its faint tail, sat up to 0.7 ppm off it, and ppm_error
                # did not relate the two columns)
                "mz": float(mz_mean[i]),
                "mz_observed": float(mz_mean[i] * (1 + 1e-6 * ppm[i])),
                "ppm_error": float(ppm[i]),
                "intensity": float(ion_i[i]),
                "sd": float(sd_a[prob.group[i]] * frac),
                "near_isobar": ";".join(sorted(set(partners.get(i, [])))),
            }
        )
    df = pd.DataFrame(rows, columns=[c for c in ION_COLUMNS if c != "ambiguous_with"])
    return df.sort_values("intensity", ascending=False).reset_index(drop=True)


def _with_uncertainty(sp: pd.DataFrame, unc: Uncertainty, preset: Preset) -> pd.DataFrame:
    """Species abundances averaged over the ambiguity hypotheses, their sd and groups.

    Species that only an alternative hypothesis holds get rows of their own, in the
    ambiguity group.
    """
    import pandas as pd

    hyps = unc.hypotheses
    cluster = ~sp["family"].isin(["fragment", "complex"])
    if len(hyps) > 1:
        known = set(zip(sp["species"], sp["family"], strict=True))
        extra = []
        for h in hyps[1:]:
            for key, (fam, au, ag, lig, q, x, e) in h.species_info.items():
                if key in known:
                    continue
                known.add(key)
                extra.append(
                    {
                        "species": key[0],
                        "family": fam,
                        "au": au,
                        "ag": ag,
                        "x": x,
                        "ligands": lig,
                        "core_charge": q,
                        "electrons": e,
                        "abundance": 0.0,
                        "abundance_sd": 0.0,
                        "score": 0.0,
                        "signal": 0.0,
                        "n_ions": 0,
                        "near_isobar": "",
                        "ambiguity_group": "",
                        "ambiguity_share": 1.0,
                    }
                )
        if extra:
            sp = pd.concat([sp, pd.DataFrame(extra)], ignore_index=True)
            cluster = ~sp["family"].isin(["fragment", "complex"])
        keys = list(zip(sp["species"], sp["family"], strict=True))
        sp["abundance"] = [
            sum(h.share * h.abundance.get(k, 0.0) for h in hyps) if c else a
            for k, c, a in zip(keys, cluster, sp["abundance"], strict=True)
        ]
        # (a species only an alternative holds is part of the ambiguity by definition)
        only_alt = {(r["species"], r["family"]) for r in extra}
        involved = [k in unc.species or k in only_alt for k in keys]
        sp.loc[involved, "ambiguity_group"] = "A1"
        sp.loc[involved, "ambiguity_share"] = [
            sum(h.share for h in hyps if h.abundance.get(k, 0.0) > 0)
            for k, inv in zip(keys, involved, strict=True)
            if inv
        ]
    keys = list(zip(sp["species"], sp["family"], strict=True))
    sd = unc.abundance_sd
    sp["abundance_sd"] = [
        sd.get(k, old) if c else old
        for k, c, old in zip(keys, cluster, sp["abundance_sd"], strict=True)
    ]
    return sp


def _ambiguous_with(ions: pd.DataFrame, unc: Uncertainty | None, resolution: float) -> list[str]:
    """Per ion: the ions of the other hypotheses it stands in for (``;``-separated).

    A partner is a fitted ion of a swapped family in another hypothesis with the
    same charge whose mean m/z lies within two FWHM of the ion's.
    """
    out = [""] * len(ions)
    if unc is None or len(unc.hypotheses) < 2 or ions.empty:
        return out
    swapped = {k[1] for k in unc.species}
    partners: list[tuple[str, int, float]] = []
    for h in unc.hypotheses[1:]:
        for name, (z, mz, _) in h.ions.items():
            if name not in unc.hypotheses[0].ions:
                partners.append((name, z, mz))
    for r, (fam, z, mz) in enumerate(zip(ions["family"], ions["charge"], ions["mz"], strict=True)):
        if fam not in swapped:
            continue
        tol = 2.0 * float(mz) / resolution
        near = sorted({n for n, zz, m in partners if zz == z and abs(m - float(mz)) <= tol})
        out[r] = ";".join(near)
    return out


def _fraction_sd(sp: pd.DataFrame, fams: pd.DataFrame, unc: Uncertainty | None) -> list[float]:
    """Sd of each family's fraction: from :class:`Uncertainty`, else from the species sd."""
    if unc is not None:
        return [float(unc.fraction_sd.get(f, 0.0)) for f in fams["family"]]
    out = []
    for f in fams["family"]:
        s = sp.loc[sp["family"] == f, "abundance_sd"]
        out.append(float(np.sqrt(np.sum(np.square(s)))))
    return out
