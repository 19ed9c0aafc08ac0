"""Chemistry priors of the model selection: what a chemist would not believe of a fitted family.

Each prior scores a fitted family between 0 (what ESI of a real cluster looks like)
and 1 (implausible); :func:`~nanoalloy.ms.assign.selection.select` raises the share of
its own signal a family must explain (that no other family can) by its score, and
the ambiguity shares of competing hypotheses are weighted by ``exp(-PRIOR_WEIGHT *
score)`` (a prior probability). Each is switchable: ``assign(..., priors=...)`` and
``nanoalloy assign --no-prior NAME``.

``na_ladder``
    A species' Na+ ladder is contiguous and smooth: a family's fitted Na+ forms at one
    charge state that float above an empty rung (a visible rung carrying < 10 % of
    the rung above it, while the rung above holds >= 5 % of the ladder's top) are
    implausible; the score is their share of the ladder. Rungs outside the recorded
    m/z window are not visible and never count as empty. Removes e.g.
    ``[Au25(SR)17+7Na-13H]6-`` standing in for ``[Au25(SR)18-5H]6-`` (one SR =
    153.0 Da against 7 Na - 8 H = 152.9 Da) and M44S26 3- with 8-10 Na standing in
    for M44S27 3- with 5-7 Na.
``charge``
    A species' charge states follow a family-wide distribution (the fit shares one
    charge and Na+ distribution per family, so each species must show all of them),
    and ESI spreads a family over neighbouring charge states: a family holding more
    than 80 % of its signal in one charge state while another of its charge states
    is recorded (the window holds every Na+ rung where the strongest charge state
    carries >= 10 % of its ladder's top) scores up to 1 at 100 %.
``x_smooth``
    A family's x distribution is smooth and unimodal unless the data demand a second
    mode: species detached from the family's contiguous x range are tested for
    removal (see :func:`~nanoalloy.ms.assign.selection.select`); the score is the
    family's signal share outside its main contiguous mode.
``h_bookkeeping``
    The H count follows the ladder bookkeeping ``h = Na + q - z`` with the family's
    core charge ``q``: two families of one metal core and shell whose core charges
    differ by one explain the same ions with one H more or less; the one whose
    valence electron count is a closed superatom shell (2, 8, 18, 20, 34, 40, 58, 92)
    is believed, the other scores 1.
``adducts``
    Fewer adducts are believed (Occam's razor of the hypotheses, not of the
    selection): a hypothesis' log weight falls by :data:`ADDUCT_WEIGHT` per Na+ (or
    other cation) of its signal-weighted mean cluster ion, and a single-envelope
    window's family and calibration are chosen by :data:`ZOOM_ADDUCT_WEIGHT`. It decides only between
    explanations the residual cannot tell apart, e.g. ``[Au25(SR)17+7Na-13H]6-``
    against ``[Au25(SR)18-5H]6-`` in a window without the neighbouring rungs (the
    ``na_ladder`` prior needs them), M44S26 with 8 Na+ against M44S27 with 1, or x+1
    with 4 Na+ more at a calibration one isotope step away; where the data decide,
    its few log units are nothing against the residual. See
    :func:`adduct_load`.

``halides``
    A family's halide shells (Cl in place of SR) are a part of its signal that must
    earn its place: all its halide forms are tested for removal as one set, like a
    family, and go when the rest of the model re-explains them; the bar rises with the
    share of them that floats above an empty halide rung (ions with two Cl without
    those with one: a partial exchange on a thiolate cluster shows its lower rungs).
    Removes e.g. Cl-substituted M44S30 ions taking M44S27 signal at low resolving
    power. See :func:`~nanoalloy.ms.assign.selection.halide_shells`.

Contents
--------
PRIORS
    Names of the priors (all on by default).
PRIOR_WEIGHT
    Log prior odds per unit score.
ADDUCT_WEIGHT, ZOOM_ADDUCT_WEIGHT
    Log prior odds per Na+ of the ``adducts`` prior (ambiguity shares; a zoom's choice).
adduct_load
    Signal-weighted mean Na+ (cation) count of a fit's cluster ions.
check_priors
    Validate a selection of priors.
family_scores
    Score of every fitted family under the active priors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import InputError

if TYPE_CHECKING:
    from ..library import CandidateLibrary
    from .candidates import _Problem

__all__ = [
    "ADDUCT_WEIGHT",
    "PRIORS",
    "PRIOR_WEIGHT",
    "ZOOM_ADDUCT_WEIGHT",
    "adduct_load",
    "check_priors",
    "family_scores",
    "ion_adducts",
]

PRIORS: tuple[str, ...] = (
    "na_ladder",
    "charge",
    "x_smooth",
    "h_bookkeeping",
    "adducts",
    "fragments",
    "halides",
)
"""Names of the chemistry priors, in the order they are documented."""

PRIOR_WEIGHT = 3.0
"""Log prior odds against a hypothesis per unit of score (a score of 1 is odds of ~1:20)."""

ADDUCT_WEIGHT = 0.3
"""Log prior odds against a hypothesis per Na+ (cation) of its mean cluster ion, in the
ambiguity shares: 7 Na+ more (one SR against 7 Na+ - 8 H+) are odds of ~1:8, so a pair
the data cannot tell apart is still reported as ambiguous, the fewer adducts favoured."""

ZOOM_ADDUCT_WEIGHT = 1.0
"""The same per Na+ where a single-envelope window's family and calibration are chosen
among their aliases (the point estimate; odds ~1:1100 for 7 Na+ more): there the
residual cannot decide and a weaker prior loses to its noise (``scripts/assign_sweep.py``
zooms: the strongest ion right in 9 of 21 at 0.3, 12 at 1.0; 8 without the prior)."""

MAGIC = frozenset({2, 8, 18, 20, 34, 40, 58, 92})
"""Closed superatom shells (valence electron counts)."""


def check_priors(priors: Iterable[str] | None, /) -> frozenset[str]:
    """The active priors: all when ``None``; an unknown name is an error.

    >>> sorted(check_priors(["charge"]))
    ['charge']
    """
    if priors is None:
        return frozenset(PRIORS)
    if isinstance(priors, str):
        priors = [priors]
    out = frozenset(priors)
    bad = sorted(out - set(PRIORS))
    if bad:
        raise InputError(f"unknown prior {bad[0]!r}; expected one of {', '.join(PRIORS)}")
    return out


def _form_keys(prob: _Problem, lib: CandidateLibrary) -> dict[int, tuple[int, int]]:
    """(charge, Na) of every form (halide shells pooled later by summing)."""
    keys: dict[int, tuple[int, int]] = {}
    for i, f in enumerate(prob.form.tolist()):
        if f >= 0 and f not in keys:
            c = lib.candidates[int(prob.idx[i])]
            keys[f] = (c.charge, c.na)
    return keys


def _ladder_score(rungs: dict[int, float]) -> float:
    """Share of one charge state's Na+ ladder floating above an empty visible rung."""
    top = max(rungs.values(), default=0.0)
    total = sum(rungs.values())
    if top <= 0 or total <= 0:
        return 0.0
    floating = 0.0
    for n in sorted(rungs, reverse=True):
        below = rungs.get(n - 1)
        if below is not None and rungs[n] >= 0.05 * top and below < 0.1 * rungs[n]:
            floating = sum(w for m, w in rungs.items() if m >= n)
            break
    return floating / total


def family_scores(
    prob: _Problem,
    state: dict[str, Any],
    lib: CandidateLibrary,
    priors: frozenset[str],
) -> dict[str, float]:
    """Implausibility (0-1) of every fitted cluster family under the active ``priors``.

    The scores of the active priors add up (capped at 1): ``na_ladder`` and
    ``charge`` read the family's fitted form weights, ``x_smooth`` its species'
    signal, ``h_bookkeeping`` the families present.
    """
    if not priors:
        return {}
    fams = [f.name for f in lib.preset.families]
    w = state["fit"].form
    ion = state["fit"].ion[: prob.idx.size]
    sig = np.bincount(prob.group, weights=ion, minlength=len(prob.group_labels))
    present = {
        lab[1]: float(sig[k])
        for k, lab in enumerate(prob.group_labels)
        if not prob.free_group[k] and sig[k] > 0
    }
    keys = _form_keys(prob, lib)
    out = dict.fromkeys(present, 0.0)
    ladders: dict[str, dict[int, dict[int, float]]] = {}
    for form, (z, na) in keys.items():
        fam = fams[int(prob.form_family[form])]
        rung = ladders.setdefault(fam, {}).setdefault(z, {})
        rung[na] = rung.get(na, 0.0) + float(w[form])
    for fam in present:
        lad = ladders.get(fam, {})
        tot = {z: sum(r.values()) for z, r in lad.items()}
        all_w = sum(tot.values())
        if all_w <= 0:
            continue
        if "na_ladder" in priors:
            out[fam] += sum(tot[z] / all_w * _ladder_score(r) for z, r in lad.items())
        if "charge" in priors:
            # a charge state is recorded when the window holds every rung where the
            # family's strongest charge state carries >= 10 % of its ladder's top
            zm = max(tot, key=lambda z: tot[z])
            top_rung = max(lad[zm].values())
            core = {n for n, v in lad[zm].items() if v >= 0.1 * top_rung}
            visible = [z for z, r in lad.items() if core <= set(r)]
            if len(visible) >= 2:
                top = max(tot[z] for z in visible) / sum(tot[z] for z in visible)
                out[fam] += float(np.clip((top - 0.8) / 0.2, 0.0, 1.0))
    if "x_smooth" in priors:
        for fam in present:
            by_x = {
                lab[2]: float(sig[k])
                for k, lab in enumerate(prob.group_labels)
                if lab[1] == fam and not prob.free_group[k]
            }
            out[fam] += 1.0 - main_mode(by_x)[2]
    if "h_bookkeeping" in priors:
        spec = {f.name: f for f in lib.preset.families}
        for fam in present:
            me = spec[fam]
            e = me.n_metals - me.ligands - me.core_charge
            if e in MAGIC:
                continue
            for other in present:
                o = spec[other]
                if (
                    other != fam
                    and (o.n_metals, o.ligands, o.halide) == (me.n_metals, me.ligands, me.halide)
                    and abs(o.core_charge - me.core_charge) == 1
                    and o.n_metals - o.ligands - o.core_charge in MAGIC
                ):
                    out[fam] += 1.0
                    break
    return {k: min(v, 1.0) for k, v in out.items()}


def adduct_load(prob: _Problem, state: dict[str, Any], lib: CandidateLibrary) -> float:
    """Signal-weighted mean count of Na+ (and other cations) on a fit's cluster ions.

    Fragments and complexes (free groups) do not count; 0 when no cluster ion is fitted.
    """
    ion = np.asarray(state["fit"].ion[: prob.idx.size], dtype=float)
    cluster = ~np.asarray(prob.free_group, dtype=bool)[prob.group]
    total = float(ion[cluster].sum())
    if total <= 0:
        return 0.0
    return float((ion * ion_adducts(prob, lib))[cluster].sum()) / total


def ion_adducts(prob: _Problem, lib: CandidateLibrary) -> np.ndarray:
    """Count of Na+ (and other cations) on each ion of the fit, in ``prob.idx`` order."""
    cands = lib.candidates
    return np.fromiter(
        (cands[int(i)].na + cands[int(i)].n_cation for i in prob.idx),
        dtype=float,
        count=prob.idx.size,
    )


def main_mode(by_x: dict[int, float], /, *, level: float = 0.01) -> tuple[int, int, float]:
    """Contiguous x range around the strongest species, and its share of the signal.

    The range grows while the next x carries more than ``level`` of the top.

    >>> main_mode({3: 1.0, 4: 2.0, 5: 0.5, 9: 0.5})
    (3, 5, 0.875)
    """
    total = sum(by_x.values())
    top = max(by_x.values(), default=0.0)
    if top <= 0 or total <= 0:
        return 0, 0, 1.0
    x0 = max(by_x, key=lambda x: by_x[x])
    lo = hi = x0
    while by_x.get(lo - 1, 0.0) > level * top:
        lo -= 1
    while by_x.get(hi + 1, 0.0) > level * top:
        hi += 1
    inside = sum(v for x, v in by_x.items() if lo <= x <= hi)
    return lo, hi, inside / total
