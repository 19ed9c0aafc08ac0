"""Model selection after the joint fit: fragments without parents, redundant families,
detached species, under the chemistry priors of :mod:`~nanoalloy.ms.assign.priors` (step 5).

Contents
--------
Trial
    One removal test: what was tested, the residual rise, its own share, the prior score.
select
    Backward elimination of families and detached species; returns the trials too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .candidates import _Problem
from .design import _Design, _fit_round, _fit_started
from .priors import family_scores, ion_adducts, main_mode

if TYPE_CHECKING:
    from ..library import CandidateLibrary

__all__ = ["Trial", "halide_shells", "select"]


MAJOR_SHARE = 0.2
"""A family's prior score fades linearly to 0 as its share of the cluster signal reaches this."""


@dataclass(frozen=True, slots=True)
class Trial:
    """One removal test of :func:`select`."""

    family: str
    """Family tested (``detached:FAMILY`` for a detached set of species)."""
    species: tuple[tuple[str, int], ...]
    """(family, x) of the species tested."""
    gain: float
    """Rise of the residual sum of squares when they are removed."""
    own: float
    """Their own share of the model (sum of squares of their fitted signal)."""
    rss: float
    """Residual sum of squares with them."""
    score: float
    """Prior implausibility score (0-1) of the family when tested."""
    dropped: bool
    """Whether they were removed."""


def _subset(prob: _Problem, keep: np.ndarray, form_weights: np.ndarray) -> _Problem:
    """The problem restricted to the ions in ``keep`` (groups and forms renumbered)."""
    groups, group = np.unique(prob.group[keep], return_inverse=True)
    has = prob.form[keep] >= 0
    forms, finv = np.unique(prob.form[keep][has], return_inverse=True)
    form = np.full(int(keep.sum()), -1, dtype=np.intp)
    form[has] = finv
    return _Problem(
        prob.idx[keep],
        group.astype(np.intp),
        form,
        prob.form_family[forms],
        form_weights[forms],
        [prob.group_labels[k] for k in groups],
        prob.free_group[groups],
        prob.col[keep],
        [prob.parents[k] for k in groups],
        prob.observable,
    )


def _orphans(prob: _Problem, signal: np.ndarray) -> np.ndarray:
    """Fragment groups none of whose parent species is there (per group, bool).

    A parent is there when it carries more than 1 % of its family's strongest
    species' ``signal``, or when none of its ions falls in the recorded m/z
    range (its absence cannot be seen). Without this, an in-source fragment of
    an absent species (M43(SR)28 + 2 Na, say) stands in for a true cluster ion
    that is isobaric to it (M44(SR)27: Au - SR = 2 (Na - H) within 2 mDa).
    """
    level: dict[tuple[str, int], float] = {}
    top: dict[str, float] = {}
    for k, lab in enumerate(prob.group_labels):
        if not prob.free_group[k]:
            level[(lab[1], lab[2])] = float(signal[k])
            top[lab[1]] = max(top.get(lab[1], 0.0), float(signal[k]))
    out = np.zeros(len(prob.group_labels), dtype=bool)
    for k, par in enumerate(prob.parents):
        if par and not any(
            p not in prob.observable or level.get(p, 0.0) > 0.01 * top.get(p[0], 0.0) for p in par
        ):
            out[k] = True
    return out


def _group_signal(prob: _Problem, state: dict[str, Any]) -> np.ndarray:
    """Fitted ion signal summed per group."""
    ion = state["fit"].ion[: prob.idx.size]
    return np.bincount(prob.group, weights=ion, minlength=len(prob.group_labels))


def _without(
    prob: _Problem,
    state: dict[str, Any],
    design: _Design,
    drop: np.ndarray,
    *,
    converged: bool = False,
) -> tuple[_Problem, dict[str, Any], np.ndarray, float, float]:
    """Refit without the groups in ``drop`` (bool per group) and the fragments they orphan.

    Returns the trial problem and fit, the ions kept (bool per ion), the rise
    of the residual sum of squares, and the removed columns' own share of the
    model (the sum of squares of their fitted signal: what removing them could
    at most cost). The refit is a few alternations from the preset's forms, or
    with ``converged`` a fit run to convergence (also from the ions' own heights).
    """
    sig = _group_signal(prob, state)
    sig[drop] = 0.0
    keep = ~drop[prob.group] & ~_orphans(prob, sig)[prob.group]
    mine = np.flatnonzero(~keep)
    contrib = state["design"][:, mine] @ state["fit"].ion[mine]
    trial_prob = _subset(prob, keep, state["fit"].form)
    if converged:
        trial = _fit_started(trial_prob, design, state["y"], trial_prob.form_init, 200, tol=1e-5)
    else:
        trial = _fit_round(trial_prob, design, state["y"], trial_prob.form_init, 6)
    return trial_prob, trial, keep, trial["rss"] - state["rss"], float(contrib @ contrib)


def _drop_redundant_families(
    prob: _Problem,
    state: dict[str, Any],
    design: _Design,
    tolerance: float,
) -> tuple[_Problem, dict[str, Any]]:
    """:func:`select` without priors (the selection before issue 11)."""
    prob, state, _ = select(prob, state, design, tolerance)
    return prob, state


def select(
    prob: _Problem,
    state: dict[str, Any],
    design: _Design,
    tolerance: float,
    *,
    lib: CandidateLibrary | None = None,
    priors: frozenset[str] = frozenset(),
    adducts_first: bool = False,
) -> tuple[_Problem, dict[str, Any], list[Trial]]:
    """Backward elimination of cluster families that the others already explain.

    A family (weakest first, the strongest too, never the last) or the set of
    species detached from their family's contiguous x range is dropped when
    the refit without it raises the residual sum of squares by less than
    ``tolerance`` times its own share of the model (the sum of squares of its
    fitted signal), and a family's by less than four times the residual
    itself: the others then re-explain almost all of it. Fragments go with
    their parents (:func:`_orphans`), first those whose parents the fit left
    empty.

    The chemistry ``priors`` (names of :data:`~nanoalloy.ms.assign.priors.PRIORS`;
    they need ``lib``) raise the bar for an implausible family: with a score
    ``s`` (0-1, :func:`~nanoalloy.ms.assign.priors.family_scores`) it must
    explain ``tolerance + (0.9 - tolerance) s`` of its own share uniquely, and
    the residual cap rises from 4 to ``4 + 36 s`` times the residual; the score
    fades with the family's share ``f`` of the cluster signal, ``s (1 - f / 0.2)``
    (priors decide between explanations of a minor signal). Without
    ``x_smooth`` detached species are not tested.

    With ``adducts_first`` (a single-envelope window under the ``adducts`` prior,
    where near-isobaric families explain the same envelope and the first tested
    goes) the families are tested in order of their ions' mean Na+ count, most
    first, then weakest first: ``[Au25(SR)17+7Na-13H]6-`` goes before
    ``[Au25(SR)18-5H]6-``, whatever the joint fit's split of the signal.

    Returns the selected problem and fit, and every removal test made.
    """
    trials: list[Trial] = []
    use = priors if lib is not None else frozenset()
    sig = _group_signal(prob, state)
    orphan = _orphans(prob, sig)
    if (sig[orphan] > 0).any():  # (empty ones may stay: they go with the trials below)
        prob = _subset(prob, ~orphan[prob.group], state["fit"].form)
        state = _fit_round(prob, design, state["y"], prob.form_init, 6)

    def family_of_groups(pr: _Problem) -> np.ndarray:
        """Family name of every cluster group, "" for free groups."""
        return np.array(
            [
                "" if free else lab[1]
                for lab, free in zip(pr.group_labels, pr.free_group, strict=True)
            ]
        )

    def species_of(pr: _Problem, mask: np.ndarray) -> tuple[tuple[str, int], ...]:
        return tuple((pr.group_labels[k][1], pr.group_labels[k][2]) for k in np.flatnonzero(mask))

    if "fragments" in use:
        prob, state = _outweighing_fragments(prob, state, design, trials)
    fams = family_of_groups(prob)
    sig = _group_signal(prob, state)
    signal = {f: float(sig[fams == f].sum()) for f in set(fams) - {""}}
    load = _family_adducts(prob, state, lib, fams) if adducts_first and lib is not None else {}
    order = sorted(signal, key=lambda f: (-round(load.get(f, 0.0)), signal[f]))
    for fam in [f for f in order if signal[f] > 0]:
        fams = family_of_groups(prob)
        if len(set(fams) - {""}) < 2:
            break  # never the last family
        if fam not in set(fams):
            continue
        score = family_scores(prob, state, lib, use).get(fam, 0.0) if use and lib else 0.0
        sig = _group_signal(prob, state)
        share = float(sig[fams == fam].sum()) / max(float(sig[fams != ""].sum()), 1e-300)
        # a prior tilts the choice between explanations of a minor signal; a family
        # holding a fifth or more of the cluster signal is the data's to decide
        score *= max(0.0, 1.0 - share / MAJOR_SHARE)
        mask = fams == fam
        trial_prob, trial, _, gain, own = _without(prob, state, design, mask)
        # ... and the fit without it stays close: the residual grows at most
        # fourfold (10 % of a dominant family's signal is far more than any
        # residual: a true family's removal multiplied it by 15-240 on synthetic
        # data, a near-isobaric decoy's by 0.2-1.1)
        bar = tolerance + max(0.9 - tolerance, 0.0) * score
        drop = gain < bar * own and gain < (4.0 + 36.0 * score) * state["rss"]
        trials.append(Trial(fam, species_of(prob, mask), gain, own, state["rss"], score, drop))
        if drop:
            prob, state = trial_prob, trial
    if lib is not None and "x_smooth" not in use:
        return prob, state, trials
    # species detached from their family's contiguous x distribution
    sig = _group_signal(prob, state)
    outlier = np.zeros(len(prob.group_labels), dtype=bool)
    for fam in {
        lab[1] for lab, free in zip(prob.group_labels, prob.free_group, strict=True) if not free
    }:
        ks = [
            k for k, lab in enumerate(prob.group_labels) if lab[1] == fam and not prob.free_group[k]
        ]
        by_x: dict[int, float] = {}  # summed over species sharing x (ternary alloys, shells)
        for k in ks:
            by_x[prob.group_labels[k][2]] = by_x.get(prob.group_labels[k][2], 0.0) + float(sig[k])
        top = max(by_x.values(), default=0.0)
        if top <= 0:
            continue
        lo, hi, _ = main_mode(by_x)
        # everything outside the core (one step of margin) goes, fitted or not, so
        # that nothing detached re-emerges in the refit
        for k in ks:
            if not lo - 1 <= prob.group_labels[k][2] <= hi + 1:
                outlier[k] = True
    # a family's detached set holding a good part of all cluster signal is a second
    # mode of its distribution, not stray decoys: tested on its own, like a family
    total = float(sig[~prob.free_group].sum())
    major: list[np.ndarray] = []
    for fam in sorted({prob.group_labels[k][1] for k in np.flatnonzero(outlier)}):
        mask = outlier & np.array([lab[1] == fam for lab in prob.group_labels])
        if sig[mask].sum() >= 0.05 * total:
            major.append(mask)
            outlier &= ~mask
    # stray detached species are held to a stricter standard than whole families:
    # a family's x distribution is contiguous, so they must explain at least half
    # of their own signal that nothing else can
    tests = [(outlier, max(0.5, tolerance)), *((m, tolerance) for m in major)]
    for t in range(len(tests)):
        mask, threshold = tests[t]
        if not mask.any():
            continue
        names = sorted({prob.group_labels[k][1] for k in np.flatnonzero(mask)})
        trial_prob, trial, keep, gain, own = _without(prob, state, design, mask)
        drop = gain < threshold * own
        trials.append(
            Trial(
                "detached:" + ",".join(names),
                species_of(prob, mask),
                gain,
                own,
                state["rss"],
                0.0,
                drop,
            )
        )
        if drop:
            kept = np.zeros(mask.size, dtype=bool)
            kept[prob.group[keep]] = True
            tests = [(m[kept], th) for m, th in tests]  # renumbered like the subset
            prob, state = trial_prob, trial
    return prob, state, trials


HALIDE_EMPTY = 0.1
"""The ``halides`` prior: a halide rung carrying less than this share of the rung above it
is empty (as :func:`~nanoalloy.ms.assign.priors._ladder_score` reads a Na+ ladder)."""

HALIDE_RESIDUAL = 0.05
"""... and halide shells stay wherever they lower the residual by this share of it or more
(a family's cap is four times the residual): they are a part of a family, and a minor
family's true shells sit among the others' near-isobars (the demo's 60 min M44S30, 3 %
of the signal: removing its Cl forms raised the residual by 16 %, and 0.08 of their own
share; the generator's Cl-free windows 0.2 % and 1.4 %, 0.03 and 0.03)."""


def _halide_floating(prob: _Problem, state: dict[str, Any], lib: CandidateLibrary) -> np.ndarray:
    """Ions of halide forms floating above an empty visible rung (bool per ion).

    Per family and charge state, the fitted signal is summed per halide count over the
    Na+ forms; a rung is visible where the window holds an ion of it. The first rung
    that holds at least 5 % of the ladder's top while the visible rung below it carries
    less than :data:`HALIDE_EMPTY` of it floats, with every rung above it.
    """
    n = prob.idx.size
    ion = np.asarray(state["fit"].ion[:n], dtype=float)
    key: dict[int, tuple[int, int, int]] = {}  # form -> (family, charge, halides)
    for i, f in enumerate(prob.form.tolist()):
        if f >= 0 and f not in key:
            c = lib.candidates[int(prob.idx[i])]
            key[f] = (int(prob.form_family[f]), c.charge, c.halides)
    fsig = np.bincount(
        np.maximum(prob.form, 0),
        weights=np.where(prob.form >= 0, ion, 0.0),
        minlength=len(prob.form_family),
    )
    ladders: dict[tuple[int, int], dict[int, float]] = {}
    for f, (fam, z, hal) in key.items():
        rung = ladders.setdefault((fam, z), {})
        rung[hal] = rung.get(hal, 0.0) + float(fsig[f])
    cut: dict[tuple[int, int], int] = {}
    for lad, rungs in ladders.items():
        top = max(rungs.values(), default=0.0)
        for h in sorted(rungs):
            below = rungs.get(h - 1)
            if h > 0 and top > 0 and below is not None and rungs[h] >= 0.05 * top:
                if below < HALIDE_EMPTY * rungs[h]:
                    cut[lad] = h
                    break
    gone = np.zeros(len(prob.form_family), dtype=bool)
    for f, (fam, z, hal) in key.items():
        at = cut.get((fam, z))
        gone[f] = at is not None and hal >= at
    return (prob.form >= 0) & gone[np.maximum(prob.form, 0)]


def halide_shells(
    prob: _Problem,
    state: dict[str, Any],
    design: _Design,
    lib: CandidateLibrary,
    tolerance: float,
) -> tuple[_Problem, dict[str, Any]]:
    """The ``halides`` prior: each family's halide shells tested as one set, like a family.

    Cl in place of SR is a partial exchange on a thiolate cluster. Every halide form of
    a family (the ions with one Cl or more) is removed together and the problem refitted;
    they go when the rest re-explains them as a redundant family is re-explained (the
    residual rises by less than ``tolerance`` times their own share of the model) and
    they hardly lower the residual (by less than :data:`HALIDE_RESIDUAL` of it), the
    bars raised by their implausibility: the
    share of their signal that floats above an empty halide rung (ions with two Cl
    without those with one, :func:`_halide_floating`) scores as a family's prior score
    does in :func:`select`. A family's true halide shells explain signal nothing else
    does and stay; shells that took neighbouring families' signal at low resolving
    power (an independent generator's three-family window at R 9,000: M44S30 read 0.24
    for 0.16, a third of it in Cl forms, M44S27 0.28 for 0.34) or a wing's misfit go.
    """
    n = prob.idx.size
    hal = np.fromiter((lib.candidates[int(i)].halides for i in prob.idx), dtype=int, count=n)
    if not (hal > 0).any():
        return prob, state
    ion_fam = np.where(prob.form >= 0, prob.form_family[np.maximum(prob.form, 0)], -1)
    for k in sorted({int(f) for f in ion_fam[hal > 0]}):
        ion = np.asarray(state["fit"].ion[:n], dtype=float)
        mask = (hal > 0) & (ion_fam == k)
        own_sig = float(ion[mask].sum())
        if own_sig <= 0:
            continue
        fam_sig = float(ion[ion_fam == k].sum())
        floating = float(ion[mask & _halide_floating(prob, state, lib)].sum())
        share = fam_sig / max(float(ion[ion_fam >= 0].sum()), 1e-300)
        score = floating / own_sig * max(0.0, 1.0 - share / MAJOR_SHARE)
        mine = np.flatnonzero(mask)
        contrib = state["design"][:, mine] @ state["fit"].ion[mine]
        own = float(contrib @ contrib)
        trial_prob = _subset(prob, ~mask, state["fit"].form)
        trial = _fit_round(trial_prob, design, state["y"], trial_prob.form_init, 6)
        gain = float(trial["rss"] - state["rss"])
        bar = tolerance + max(0.9 - tolerance, 0.0) * score
        drop = gain < bar * own and gain < (HALIDE_RESIDUAL + 36.0 * score) * state["rss"]
        if drop:
            prob, state = trial_prob, trial
            n = prob.idx.size
            hal = hal[~mask]
            ion_fam = ion_fam[~mask]
    return prob, state


FRAGMENT_SHARE = 0.5
"""The ``fragments`` prior: in-source fragments holding more than this share of the cluster
signal are implausible (a fragment carries a small part of what it comes from)."""

FRAGMENT_FLOOR = 0.05
"""Fragments holding at most this share of the cluster signal are not tested (too little to
move a distribution; a converged refit each time would cost more than they can)."""

FRAGMENT_UNIQUE = 0.1
"""Fragments between :data:`FRAGMENT_FLOOR` and :data:`FRAGMENT_SHARE` of the cluster
signal stay where they explain this share of their own signal uniquely: a set the
clusters re-explain whole is a near-isobar the data cannot decide, and the prior does."""


def _outweighing_fragments(
    prob: _Problem, state: dict[str, Any], design: _Design, trials: list[Trial]
) -> tuple[_Problem, dict[str, Any]]:
    """The fragments tested as one set where they outweigh the clusters they come from.

    An M43(SR)28 fragment with 2 Na+ more is isobaric to M44(SR)27 (Au - SR = 2 (Na - H)
    within 2 mDa), and x shifts by one with it: in 120 m/z of M44S27 3- ions (no other
    charge state to tell them apart) the fragments took 1.6 times the clusters' signal
    and the cluster x distribution was off by TV 0.38. Fragments holding more than
    :data:`FRAGMENT_SHARE` of the cluster signal score 1 (as an implausible family): they
    stay only where they explain 90 % of their own signal uniquely and the residual at
    most grows 40-fold without them. Below that share (and above
    :data:`FRAGMENT_FLOOR`) they go only where the clusters re-explain nine tenths of their
    signal: the same near-isobar at 0.37 of a 120 m/z window's signal (R 10,900, a
    Gaussian read as a 0.15 FWHM tail whose misfit the fragments filled; cluster x off by
    TV 0.08) cost 0.005 of its own 35 to remove.
    """
    frag = np.array([bool(p) for p in prob.parents], dtype=bool) & np.asarray(
        prob.free_group, dtype=bool
    )
    sig = _group_signal(prob, state)
    frag &= sig > 0
    clusters = float(sig[~np.asarray(prob.free_group, dtype=bool)].sum())
    share = float(sig[frag].sum()) / clusters if clusters > 0 else math.inf
    if not frag.any() or share <= FRAGMENT_FLOOR:
        return prob, state
    unique = 0.9 if share > FRAGMENT_SHARE else FRAGMENT_UNIQUE
    # refitted to convergence: the clusters' Na+ forms must move two rungs to take the
    # fragments' signal back, which the few alternations of a family's test never reach
    trial_prob, trial, _, gain, own = _without(prob, state, design, frag, converged=True)
    drop = gain < unique * own and gain < 40.0 * state["rss"]
    species = tuple(("fragment", int(prob.group_labels[k][2])) for k in np.flatnonzero(frag))
    trials.append(Trial("fragments", species, gain, own, state["rss"], 1.0, drop))
    return (trial_prob, trial) if drop else (prob, state)


def _family_adducts(
    prob: _Problem, state: dict[str, Any], lib: CandidateLibrary, fams: np.ndarray
) -> dict[str, float]:
    """Signal-weighted mean Na+ (cation) count of each family's fitted ions."""
    ion = np.asarray(state["fit"].ion[: prob.idx.size], dtype=float)
    na = ion_adducts(prob, lib)
    fam_row = fams[prob.group]
    out: dict[str, float] = {}
    for f in set(fams) - {""}:
        m = fam_row == f
        tot = float(ion[m].sum())
        if tot > 0:
            out[f] = float((ion * na)[m].sum()) / tot
    return out
