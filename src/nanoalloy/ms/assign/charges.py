"""Charge states the preset does not list: looked for, and fitted when the data want them.

A preset lists each family's ion charges (``ion_charges``): what the paper or the
chemist saw. An instrument's source conditions move the charge-state distribution,
and a charge state left out of the preset does not leave its signal unexplained:
other families' near-isobaric forms take it. An independent generator's M44S26 at
5- (12 % of its ions; the preset lists 3-, 6-, 7-, 8-) came back as a false M44S30
of 0.20-0.33 in four of nine such spectra, M44S30 4- with Na+ sitting where
[Au40Ag4(p-MBA)26-3H]5- stands.

What a chemist does: from the species already found, predict where the family would
stand at the charge states the preset leaves out (between its listed ones, and one
step beyond either end); where the data hold signal there that the family itself does
not explain, assign the spectrum once more with those charge states added to the
family, and keep the fit that wants them. The family's x distribution is shared by
all of its charge states in the structured fit, so a charge state added can only
explain envelopes standing where that distribution puts them: it cannot take an
unrelated envelope. It is kept when it carries at least :data:`MIN_CHARGE_SHARE` of
its family's ion signal and the fit with it leaves a lower residual on the spectrum as
given, by :data:`MIN_RSS_DROP` or with fewer families (the decoy gone).

Contents
--------
unlisted_charges
    The charge states worth trying, per family, from an assignment.
with_charges
    A copy of a preset with charge states added to some families.
added_share
    The share of each family's ion signal carried by the added charge states.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ..library import count_candidates

if TYPE_CHECKING:
    from ..preset import Preset
    from .result import Assignment

__all__ = ["added_share", "unlisted_charges", "with_charges"]

TRIGGER_SHARE = 0.03
"""Signal standing where a family's unlisted charge state would be, not explained by the
family itself, above this share of the family's signal: the charge state is tried if
that signal is also suspect (:data:`RESIDUAL_SHARE`, :data:`RESIDENT_SHARE`)."""

RESIDUAL_SHARE = 0.02
"""... suspect when the residual there (above twice the noise) exceeds this share of the
family's signal (the stranger's spectra with 5- ions: 0.005-0.17; the same samples
without them 0.006, the benchmark's three-family spectrum 0.003) ..."""

RESIDENT_SHARE = 0.5
"""... or when another cluster family holds this share of its ion signal there or more:
a family living where the missing charge state would stand is its decoy (the stranger's
false M44S30: 0.82-0.96 of it in the M44S26 5- span; the benchmark's true M44S30 0.38,
most of it at m/z its own x distribution puts it)."""

MIN_CHARGE_SHARE = 0.02
"""An added charge state must carry this share of its family's ion signal to be kept."""

MIN_RSS_DROP = 0.05
"""... and the fit with it must leave at most ``1 - MIN_RSS_DROP`` times the residual sum
of squares (or the same families less one, at a lower residual)."""

MIN_FAMILY_FRACTION = 0.02
"""Families below this fraction are not searched for other charge states."""

ADDED_WEIGHT = 0.5
"""An added charge state's weight in the preset's charge-state distribution (what the
window share reads): this times the smallest listed weight."""


def _candidates(listed: set[int]) -> list[int]:
    """Unlisted charge magnitudes: gaps between the listed ones and one step beyond."""
    lo, hi = min(listed), max(listed)
    out = [z for z in range(lo + 1, hi) if z not in listed]
    if lo - 1 >= 1:
        out.append(lo - 1)
    out.append(hi + 1)
    return sorted(out)


def unlisted_charges(res: Assignment, preset: Preset) -> dict[str, tuple[int, ...]]:
    """Per reported family, the signed charges the preset lacks that the data may hold.

    A family's ions (their fitted heights) are moved to each unlisted charge ``z'``
    (``m/z * |z| / |z'|``, the H+ count aside); where that span lies in the window and the
    data there hold signal beyond the family's own ions' share of the model, above
    :data:`TRIGGER_SHARE` of the family's signal, and that signal is suspect (a residual
    above :data:`RESIDUAL_SHARE` of the family's signal, or another family living there,
    :data:`RESIDENT_SHARE`), ``z'`` is returned. Each one tried costs an assignment.
    """
    if not res.found or len(res._render) < 4:
        return {}
    _, _, mz_cal, baseline = res._render
    mz = np.asarray(mz_cal, dtype=float)
    data = np.asarray(res.spectrum.intensity, dtype=float) - baseline
    # signal, not noise summed over a wide span (a weak spectrum's noise would pass for it)
    floor = 2.0 * res.noise if np.isfinite(res.noise) and res.noise > 0 else 0.0
    data = np.where(data > floor, data, 0.0)
    fitted = res.model  # (rendered on every access)
    resid = np.asarray(res.spectrum.intensity, dtype=float) - fitted
    resid = np.where(resid > floor, resid, 0.0)
    model = np.clip(fitted - baseline, 0.0, None)
    ions = res.ions
    if not len(ions) or mz.size < 2:
        return {}
    i_all = float(ions["intensity"].clip(lower=0).sum())
    if i_all <= 0:
        return {}
    fractions = dict(zip(res.families["family"], res.families["fraction"], strict=True))
    cluster = ~ions["family"].isin(["fragment", "complex"])
    fam_total = ions[cluster].groupby("family")["intensity"].sum()
    out: dict[str, tuple[int, ...]] = {}
    for spec in preset.families:
        if fractions.get(spec.name, 0.0) < MIN_FAMILY_FRACTION or not spec.ion_charges:
            continue
        mine = ions[ions["family"] == spec.name]
        if not len(mine):
            continue
        height = mine["intensity"].to_numpy(dtype=float)
        strong = height >= 0.05 * height.max()
        mass = (mine["mz"].to_numpy(dtype=float) * np.abs(mine["charge"].to_numpy()))[strong]
        f_total = float(model.sum()) * float(height.clip(min=0).sum()) / i_all
        # the polarity the family was found in (a preset may list both)
        sign = 1 if float(mine["charge"].mean()) > 0 else -1
        listed = {abs(q) for q in spec.ion_charges if q * sign > 0}
        if not listed:
            continue
        found = []
        for z in _candidates(listed):
            lo, hi = mass.min() / z - 5.0 / z, mass.max() / z + 5.0 / z
            seen = min(hi, mz[-1]) - max(lo, mz[0])
            if seen < 0.5 * (hi - lo):
                continue  # mostly outside the window: no evidence either way
            on = (mz >= lo) & (mz <= hi)
            at = (ions["mz"] >= lo) & (ions["mz"] <= hi)
            i_here = float(ions.loc[at, "intensity"].clip(lower=0).sum())
            i_own = float(ions.loc[at & (ions["family"] == spec.name), "intensity"].sum())
            own = float(model[on].sum()) * (i_own / i_here if i_here > 0 else 0.0)
            if float(data[on].sum()) - own < TRIGGER_SHARE * f_total:
                continue
            here = ions[at & cluster & (ions["family"] != spec.name)]
            resident = (here.groupby("family")["intensity"].sum() / fam_total).max()
            if float(resid[on].sum()) >= RESIDUAL_SHARE * f_total or (
                len(here) and float(resident) >= RESIDENT_SHARE
            ):
                found.append(sign * z)
        if found:
            out[spec.name] = tuple(found)
    # only charge states that make ions, from a listed core or one a step beyond it (see
    # with_charges: a thiolate without acidic protons has no 2- form of a 1- core but the
    # 2- core's; an adduct-free neutral family has no 5+ form)
    if out:
        before, after = count_candidates(preset), count_candidates(with_charges(preset, out))
        out = {f: zs for f, zs in out.items() if after.get(f, 0) > before.get(f, 0)}
    return out


def with_charges(preset: Preset, added: dict[str, tuple[int, ...]]) -> Preset:
    """``preset`` with the charges in ``added`` appended to those families' ``ion_charges``.

    Each added charge weighs :data:`ADDED_WEIGHT` times the family's smallest listed
    weight; the candidate cap is lifted by the ions added. Where an added charge makes no
    ion from the family's listed core charges (a thiolate without acidic protons has no
    2- form of a 1- core) and lies one electron beyond one of them, it is added as a core
    charge too, so that the bare ion of that charge exists: [Au38(PET)24]2- (the 2- core, 14 + 2 electrons; Au38(SR)24 is
    reduced and oxidised in steps of one electron) held 0.4 of a twentieth stranger's
    4000-11500 m/z window, and au38-sr24 (cores 0 and 1-) could not express it: R^2 0.27,
    the cluster read as the 1- ion alone.
    """
    fams = []
    for f in preset.families:
        more = tuple(z for z in added.get(f.name, ()) if z not in f.ion_charges)
        if more:
            weights = f.charge_weights or tuple(1.0 for _ in f.ion_charges)
            w = ADDED_WEIGHT * min(weights)
            cores = f.charges
            for z in more:
                alone = replace(preset, families=(replace(f, ion_charges=(z,)),))
                # (one electron beyond a listed core: a bare 5+ core of a neutral cluster
                # is no step a chemist would take; a deeper cation ladder is likelier)
                step = min(abs(z - c) for c in f.charges) == 1
                if step and z not in cores and not count_candidates(alone).get(f.name, 0):
                    cores = (*cores, z)
            f = replace(
                f,
                ion_charges=f.ion_charges + more,
                charge_weights=tuple(weights) + tuple(w for _ in more),
            )
            if cores != f.charges:
                f = replace(f, core_charges=cores)
        fams.append(f)
    factor = 1.0 + sum(len(v) for v in added.values())
    return replace(
        preset,
        families=tuple(fams),
        max_candidates=int(preset.max_candidates * factor),
    )


def added_share(res: Assignment, added: dict[str, tuple[int, ...]]) -> dict[str, float]:
    """Per family of ``added``, the share of its ion signal at the added charges."""
    out = {}
    for fam, zs in added.items():
        mine = res.ions[res.ions["family"] == fam]
        total = float(mine["intensity"].clip(lower=0).sum())
        extra = float(mine.loc[mine["charge"].isin(zs), "intensity"].clip(lower=0).sum())
        out[fam] = extra / total if total > 0 else 0.0
    return out
