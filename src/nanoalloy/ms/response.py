"""What share of a species' ions a recorded m/z window sees.

An assigned abundance is a share of the ion signal *inside the recorded window*, not
of the population: a family whose charge states fall partly outside the window is
under-counted. In the demo (2000-2800 m/z) M44S30 shows its 4- and 5- ions
(window share 1.0) but [Au40Ag4(p-MBA)26]2- only its 6- ion (0.35 of its signal;
the 3-, 7- and 8- ions lie at 4100, 1760 and 1540 m/z). The window cannot show what
it does not record, so the charge-state distribution comes from the preset: each
family's ``charge_weights`` (relative ion signal per ion charge; equal when the preset
gives none).

:func:`window_shares` gives, per species, the share of its charge-state weights whose
base ion (no Na+ or cation adducts) has its average m/z inside ``[lo, hi]``, over
the charge states of the spectrum's polarity.
``assign`` reports it in ``species.csv`` (``window_share``); ``fit-kinetics`` compares
its model populations times these shares with the assigned abundances (the
*response*; see :func:`nanoalloy.kinetics.fit.fit_timecourse`).

No library models this: it is the cluster family's charge-state bookkeeping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from ..chem.isotopes import FloatArray, Pattern
    from .preset import FamilySpec, Preset, Species

__all__ = ["family_charge_weights", "ion_window_shares", "window_shares"]


def ion_window_shares(
    patterns: Sequence[Pattern], means: Sequence[float] | np.ndarray, lo: float, hi: float
) -> FloatArray:
    """Per ion, the share of its signal the window ``[lo, hi]`` holds: 1 when its mean m/z
    (``means``) lies inside, else its isotope pattern's share inside (an envelope the window
    cuts off before its mean, at an edge or in a zoom, counts by what of it is recorded).
    ``assign`` counts its ions so, and the synthesizer's truth too.

    >>> from nanoalloy.chem.isotopes import Pattern
    >>> p = Pattern([1000.0, 1001.0, 1002.0], [0.5, 0.3, 0.2], charge=-1)
    >>> ion_window_shares([p, p], [1000.7, 1000.7], 1000.5, 1003.0).tolist()
    [1.0, 1.0]
    >>> ion_window_shares([p], [1000.7], 1000.9, 1003.0).round(2).tolist()
    [0.5]
    """
    means = np.asarray(means, dtype=float)
    out = ((means >= lo) & (means <= hi)).astype(float)
    for i in np.flatnonzero(out == 0.0).tolist():
        pat = patterns[i]
        tot = float(pat.probability.sum())
        if tot > 0 and pat.mz.size and pat.mz[0] <= hi and pat.mz[-1] >= lo:
            seen = (pat.mz >= lo) & (pat.mz <= hi)
            out[i] = float(pat.probability[seen].sum()) / tot
    return out


def family_charge_weights(family: FamilySpec, /) -> dict[int, float]:
    """``{signed ion charge: relative weight}`` of a family (the preset's, else equal)."""
    weights = family.charge_weights or (1.0,) * len(family.ion_charges)
    return dict(zip(family.ion_charges, weights, strict=True))


def window_shares(
    preset: Preset,
    species: pd.DataFrame,
    lo: float,
    hi: float,
    *,
    polarity: Literal["negative", "positive"] | None = None,
) -> list[float]:
    """Per row of a species table (``species``, ``family``): its ions' share inside ``[lo, hi]``.

    ``polarity``: the charge states of that sign only (a spectrum records one
    polarity: the Cs+ adducts of a family that forms anions too are not ions a
    negative-mode window could have seen); None: every charge state. NaN for rows
    of no preset family (fragments, complexes), species the preset does not list
    and species with no charge state of that polarity.

    >>> import pandas as pd
    >>> from nanoalloy.ms.preset import load_preset
    >>> sp = pd.DataFrame({"species": ["Au40Ag4(p-MBA)26"], "family": ["M44S26"]})
    >>> window_shares(load_preset("auag44-pmba"), sp, 2000.0, 2800.0)
    [0.35]
    >>> sp = pd.DataFrame({"species": ["[Au25(PET)18]-"], "family": ["Au25-xAgx"]})
    >>> au25 = load_preset("au25-sr18")  # ion charges -1, +1 and +2 (Cs+ adducts)
    >>> window_shares(au25, sp, 7000.0, 7600.0), window_shares(
    ...     au25, sp, 7000.0, 7600.0, polarity="negative"
    ... )
    ([0.3333333333333333], [1.0])
    """
    from .library import species_forms
    from .preset import family_species

    families = {f.name: f for f in preset.families}
    by_label: dict[str, dict[str, Species]] = {}
    out: list[float] = []
    for label, fam in zip(species["species"], species["family"], strict=True):
        f = families.get(str(fam))
        if f is None:
            out.append(math.nan)
            continue
        if f.name not in by_label:
            by_label[f.name] = {s.label: s for s in family_species(preset, f.name)}
        sp = by_label[f.name].get(str(label))
        if sp is None:
            out.append(math.nan)
            continue
        forms = species_forms(preset, sp, max_na=0)
        seen = total = 0.0
        for z, w in family_charge_weights(f).items():
            if polarity is not None and (z > 0) != (polarity == "positive"):
                continue
            at_z = [c for c in forms if c.charge == z]
            if not at_z:
                continue
            base = min(at_z, key=lambda c: c.na + c.n_cation)
            total += w
            seen += w if lo <= base.ion.mz_average <= hi else 0.0
        out.append(seen / total if total > 0 else math.nan)
    return out
