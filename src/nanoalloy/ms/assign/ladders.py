"""Na+ ladders deeper than the preset allows: looked for, and fitted when the data want them.

A preset bounds each family's Na+/H+ ladder (``max_na``; ``nanoalloy preset new`` writes
6). Source conditions and sample work-up set how far the ladder really runs, and rungs
beyond the preset's depth do not leave their signal unexplained: the family's own
near-isobars take it. One Au/Ag swap weighs 90.06 Da against 87.93 Da for four Na+/H+
exchanges, so ``[AuAg43(SR)30+(k-4)Na]`` stands two isotope steps from ``[Ag44(SR)30+kNa]``
at 4-: a stranger's pure Ag44(p-MBA)30 with a Poisson ladder of mean 3.5 (rungs to ~10),
assigned with ``max_na = 6``, came back with a false Au1Ag43 of 0.09 +- 0.02 and no word.

What a chemist does: where a family's ladder is still strong at the preset's last rung
(:data:`TOP_SHARE` of its strongest rung, at a charge state whose next rung lies in the
window), assign the spectrum once more with the ladder :data:`DEEPEN` rungs deeper (again,
up to :data:`ROUNDS` times, while the new last rung is strong), and keep the fit that wants
them: the added rungs carry at least :data:`MIN_RUNG_SHARE` of the
family's ion signal and the residual falls by :data:`~.charges.MIN_RSS_DROP`, or the same
residual or lower is reached with fewer species (the decoy gone).

Contents
--------
truncated_ladders
    The families whose ladder the preset cuts, with the depth to try.
with_ladders
    A copy of a preset with some families' ladders deepened.
added_rung_share
    The share of each family's ion signal on the rungs added.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from ..library import count_candidates

if TYPE_CHECKING:
    from ..preset import Preset
    from .result import Assignment

__all__ = ["added_rung_share", "truncated_ladders", "with_ladders"]

NA_STEP_DA = 21.981945
"""Mass of one Na+/H+ exchange (Na - H), Da."""

TOP_SHARE = 0.25
"""A ladder whose last allowed rung carries this share of its strongest rung (summed over
the charge states whose next rung lies in the window) is tried deeper. A Poisson ladder
cut at 6: 0.36 at mean 3.5 (10 % of its ions beyond), 0.22 at mean 3 (3 %), 0.04 at mean 2."""

MIN_FAMILY_FRACTION = 0.02
"""Families below this fraction are not searched."""

MIN_RUNG_SHARE = 0.02
"""The added rungs must carry this share of the family's ion signal to be kept."""

DEEPEN = 4
"""Rungs added (at least; half the preset's depth when that is more)."""

ROUNDS = 3
"""Deepenings at most, each kept on the same rule (from 6: 10, 15, 22 Na+)."""


def truncated_ladders(res: Assignment, preset: Preset) -> dict[str, int]:
    """Per reported family whose Na+ ladder runs into the preset's ``max_na``, the depth to try."""
    if not res.found or not len(res.ions):
        return {}
    ions = res.ions
    top_mz = float(res.spectrum.mz[-1])
    fractions = dict(zip(res.families["family"], res.families["fraction"], strict=True))
    out: dict[str, int] = {}
    for spec in preset.families:
        if spec.max_na <= 0 or fractions.get(spec.name, 0.0) < MIN_FAMILY_FRACTION:
            continue
        mine = ions[ions["family"] == spec.name]
        if not len(mine):
            continue
        last = peak = 0.0
        for z, at_z in mine.groupby("charge"):
            rungs = at_z.groupby("na")["intensity"].sum().clip(lower=0.0)
            at_top = at_z[at_z["na"] == spec.max_na]
            if not len(at_top) or rungs.max() <= 0:
                continue
            # the next rung's envelope (+-3 Da) within the window: else no evidence
            nxt = float(at_top["mz"].max()) + (NA_STEP_DA + 3.0) / abs(int(z))
            if nxt > top_mz:
                continue
            last += float(rungs.get(spec.max_na, 0.0))
            peak += float(rungs.max())
        if peak > 0 and last >= TOP_SHARE * peak:
            out[spec.name] = spec.max_na + max(DEEPEN, spec.max_na // 2)
    # only ladders that make ions (a ladder at its acidic protons' limit goes no deeper)
    if out:
        before, after = count_candidates(preset), count_candidates(with_ladders(preset, out))
        out = {f: d for f, d in out.items() if after.get(f, 0) > before.get(f, 0)}
    return out


def with_ladders(preset: Preset, depth: dict[str, int]) -> Preset:
    """``preset`` with those families' ``max_na`` raised to ``depth`` (candidate cap lifted)."""
    fams = []
    factor = 1.0
    for f in preset.families:
        new = depth.get(f.name, f.max_na)
        if new > f.max_na:
            factor = max(factor, (new + 1) / (f.max_na + 1))
            f = replace(f, max_na=new)
        fams.append(f)
    return replace(
        preset, families=tuple(fams), max_candidates=math.ceil(preset.max_candidates * factor)
    )


def added_rung_share(res: Assignment, before: Preset, depth: dict[str, int]) -> dict[str, float]:
    """Per family of ``depth``, the share of its ion signal on rungs beyond ``before``'s depth."""
    was = {f.name: f.max_na for f in before.families}
    out = {}
    for fam in depth:
        mine = res.ions[res.ions["family"] == fam]
        total = float(mine["intensity"].clip(lower=0).sum())
        extra = float(mine.loc[mine["na"] > was[fam], "intensity"].clip(lower=0).sum())
        out[fam] = extra / total if total > 0 else 0.0
    return out
