"""Model selection after the joint fit: fragments without parents, redundant families,
detached species (step 5).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .candidates import _Problem
from .design import _Design, _fit_round

if TYPE_CHECKING:
    pass

__all__: list[str] = []


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
    prob: _Problem, state: dict[str, Any], design: _Design, drop: np.ndarray
) -> tuple[_Problem, dict[str, Any], np.ndarray, float, float]:
    """Refit without the groups in ``drop`` (bool per group) and the fragments they orphan.

    Returns the trial problem and fit, the ions kept (bool per ion), the rise
    of the residual sum of squares, and the removed columns' own share of the
    model (the sum of squares of their fitted signal: what removing them could
    at most cost).
    """
    sig = _group_signal(prob, state)
    sig[drop] = 0.0
    keep = ~drop[prob.group] & ~_orphans(prob, sig)[prob.group]
    mine = np.flatnonzero(~keep)
    contrib = state["design"][:, mine] @ state["fit"].ion[mine]
    trial_prob = _subset(prob, keep, state["fit"].form)
    trial = _fit_round(trial_prob, design, state["y"], trial_prob.form_init, 6)
    return trial_prob, trial, keep, trial["rss"] - state["rss"], float(contrib @ contrib)


def _drop_redundant_families(
    prob: _Problem,
    state: dict[str, Any],
    design: _Design,
    tolerance: float,
) -> tuple[_Problem, dict[str, Any]]:
    """Backward elimination of cluster families that the others already explain.

    A family (weakest first, the strongest too, never the last) or the set of
    species detached from their family's contiguous x range is dropped when
    the refit without it raises the residual sum of squares by less than
    ``tolerance`` times its own share of the model (the sum of squares of its
    fitted signal), and a family's by less than four times the residual
    itself: the others then re-explain almost all of it. Fragments go with
    their parents (:func:`_orphans`), first those whose parents the fit left
    empty.
    """
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

    fams = family_of_groups(prob)
    sig = _group_signal(prob, state)
    signal = {f: float(sig[fams == f].sum()) for f in set(fams) - {""}}
    for fam in [f for f, v in sorted(signal.items(), key=lambda kv: kv[1]) if v > 0]:
        fams = family_of_groups(prob)
        if len(set(fams) - {""}) < 2:
            break  # never the last family
        trial_prob, trial, _, gain, own = _without(prob, state, design, fams == fam)
        # ... and the fit without it stays close: the residual grows at most
        # fourfold (10 % of a dominant family's signal is far more than any
        # residual: a true family's removal multiplied it by 15-240 on synthetic
        # data, a near-isobaric decoy's by 0.2-1.1)
        if gain < tolerance * own and gain < 4.0 * state["rss"]:
            prob, state = trial_prob, trial
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
            by_x[prob.group_labels[k][2]] = by_x.get(prob.group_labels[k][2], 0.0) + sig[k]
        top = max(by_x.values(), default=0.0)
        if top <= 0:
            continue
        x0 = max(by_x, key=lambda x: by_x[x])
        lo = hi = x0
        while by_x.get(lo - 1, 0.0) > 0.01 * top:
            lo -= 1
        while by_x.get(hi + 1, 0.0) > 0.01 * top:
            hi += 1
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
        trial_prob, trial, keep, gain, own = _without(prob, state, design, mask)
        if gain < threshold * own:
            kept = np.zeros(mask.size, dtype=bool)
            kept[prob.group[keep]] = True
            tests = [(m[kept], th) for m, th in tests]  # renumbered like the subset
            prob, state = trial_prob, trial
    return prob, state
