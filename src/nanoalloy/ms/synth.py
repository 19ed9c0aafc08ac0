"""Populations -> realistic ESI mass spectra (the closing half of the loop).

A population table (``family, au, ag, ligands, core_charge, fraction``; what
:func:`nanoalloy.kinetics.simulate` writes; or ``family, species, fraction``
with the species labels of any preset) becomes the ESI spectrum a chemist
would record (negative or positive mode, as the preset's ion charges say):
every species spread over its charge states and Na+/H+ exchange ladder or
counter-ion adducts (split equally between the kinds a family allows),
Cl-for-SR shells on M44S30, in-source [M(SR)2]-
losses, metal-thiolate complexes, rendered at a resolving power with a
calibration error, a baseline, and Poisson (ion counting) plus Gaussian
(electronic) noise. Deterministic for a seed.

Assumptions (stated, because the fit inverts them): every 44-metal species
has the same total ion response, so a species' share of the integrated ion
signal equals its population fraction; the charge-state and Na+ distributions
depend on the family, not on x; fragments take a fixed share of each parent's
signal, split between Au and Ag loss by the parent's composition.

Contents
--------
ESIModel
    Charge-state weights, Na+ ladder means, Cl shells, fragment and complex shares.
SynthResult
    The spectrum, the per-ion truth and the per-species truth (``abundance``).
synthesize
    One population table -> one :class:`SynthResult`.
synthesize_series
    A long table with ``time_h`` -> one spectrum per time point.
read_populations
    Read and validate a populations CSV.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from .fit import Instrument, peak_profile
from .library import (
    Candidate,
    Preset,
    Species,
    complex_forms,
    family_species,
    fragment_forms,
    load_preset,
    species_forms,
)
from .response import family_charge_weights, ion_window_shares

if TYPE_CHECKING:
    import pandas as pd

    from ..chem.isotopes import Pattern
    from .spectrum import Spectrum

__all__ = ["ESIModel", "SynthResult", "read_populations", "synthesize", "synthesize_series"]

_DEFAULT_NA: dict[str, float] = {"M44S30": 2.0, "M44S27": 2.0, "M44S26": 8.0}


@dataclass(frozen=True, slots=True)
class ESIModel:
    """How a population appears in negative-mode ESI."""

    charge_weights: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    """Family -> {signed ion charge: relative weight}; missing families use the preset's
    ``charge_weights`` (its charges equally when it gives none)."""
    na_mean: Mapping[str, float] = field(default_factory=lambda: _DEFAULT_NA)
    """Family -> mean number of Na+ (Poisson, truncated at the preset's ladder depth)."""
    halide_weights: tuple[float, ...] = (0.55, 0.28, 0.12, 0.05)
    """Relative weights of 0, 1, 2, 3 halides in families that allow them."""
    fragment_share: float = 0.04
    """Share of each cluster's signal appearing as [M(SR)2]- loss fragments."""
    complex_share: float = 0.03
    """Total complex signal relative to the cluster signal (spread over complex sizes)."""


@dataclass(frozen=True, slots=True)
class SynthResult:
    """A synthetic spectrum with the truth that made it."""

    spectrum: Spectrum
    """The profile spectrum."""
    ions: pd.DataFrame
    """Per ion with signal in the window: ion, species, family, au, ag, x, charge, na, halides,
    mz (mean), intensity (integrated signal of the whole ion), inside (the share of it the
    window holds: 1 when its mean m/z lies inside) and signal (``intensity * inside``)."""
    truth: pd.DataFrame
    """Per species: species, family, au, ag, x, ligands, core_charge, signal (its ions' in-window
    signal) and abundance (share of the cluster ions' in-window signal; fragments/complexes on
    the same scale)."""


def read_populations(path: str | Path, /) -> pd.DataFrame:
    """Read a populations CSV (``family,au,ag,ligands,core_charge,fraction[,time_h]``)."""
    import pandas as pd

    p = Path(path)
    try:
        df = pd.read_csv(p)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read populations file {str(p)!r}: {exc}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"populations file {str(p)!r} is not a CSV table: {exc}") from None
    return _check_populations(df, str(p))


def _check_populations(df: pd.DataFrame, where: str) -> pd.DataFrame:
    missing = {"family", "fraction"} - set(df.columns)
    if not missing and not ({"au", "x", "species"} & set(df.columns)):
        missing = {"au"}
    if missing:
        raise InputError(
            f"populations {where!r} lacks column(s) {sorted(missing)}; expected "
            "family,au,ag,ligands,core_charge,fraction (or family,species,fraction)"
        )
    frac = np.asarray(df["fraction"], dtype=float)
    tiny = 1e-9 * max(float(np.abs(frac).max(initial=0.0)), 1e-300) if frac.size else 0.0
    if not np.all(np.isfinite(frac)) or np.any(frac < -tiny):
        raise InputError(f"populations {where!r}: 'fraction' must be finite and >= 0")
    if np.any(frac < 0):  # round-off of an ODE solution or a fit: zero
        df = df.assign(fraction=np.clip(frac, 0.0, None))
    return df


def _population_species(df: pd.DataFrame, preset: Preset) -> list[tuple[Species, float]]:
    """(species, fraction) of every row, looked up by ``species`` label or by ``x`` / ``au``."""
    import pandas as pd

    families = {f.name: f for f in preset.families}
    by_label = "species" in df.columns
    xcol = "x" if "x" in df.columns else "au"
    key = "species" if by_label else xcol
    for col in ("family", key):  # groupby drops a missing key, and its fraction, silently
        empty = df[col].isna().to_numpy()
        if empty.any():
            row = _line(df, int(np.argmax(empty)))
            raise InputError(f"populations: line {row}: no {col!r} (an empty cell)")
    if not by_label:  # a count of atoms: 5.5 was read as 5
        counts = pd.to_numeric(df[xcol], errors="coerce").to_numpy(dtype=float)
        bad = ~(np.isfinite(counts) & (counts == np.round(counts)))
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(
                f"populations: line {_line(df, i)}: {xcol} = {str(df[xcol].iloc[i])!r} is not "
                "a whole number of atoms"
            )
    grouped = df.groupby(["family", key], sort=True)["fraction"].sum()
    out: list[tuple[Species, float]] = []
    for (fam, k), frac in grouped.items():
        if frac <= 0:
            continue
        if fam not in families:
            raise InputError(
                f"family {fam!r} is not in preset {preset.name!r} ({', '.join(families)})"
            )
        species = family_species(preset, str(fam))
        if by_label:
            found = _match_label(preset, species, str(k))
            what = f"species {k!r}"
        else:
            found = [s for s in species if s.x == int(k)]
            what = f"{xcol} = {k}"
        if len(found) != 1:
            charges = sorted({s.core_charge for s in found})
            if not found:
                hint = f"no such species (x range {families[str(fam)].x_range})"
            elif by_label and len(charges) > 1:
                # the same formula with other core charges: the bracketed form names one
                hint = (
                    f"{len(found)} species match (core charges {charges}): write the charge, "
                    f"e.g. '[{k}]{_charge_text(charges[0])}'"
                )
            else:
                hint = f"{len(found)} species match: give a 'species' column"
            raise InputError(f"populations: family {fam!r}, {what}: {hint}")
        out.append((found[0], float(frac)))
    return out


def _line(df: pd.DataFrame, i: int) -> object:
    """The file line of row ``i`` of a table read by :func:`read_populations` (header: 1)."""
    label = df.index[i]
    return int(label) + 2 if isinstance(label, int | np.integer) else label


def _charge_text(z: int) -> str:
    """Our notation's charge suffix: ``-``, ``2-``, ``0``, ``+``, ``3+``."""
    if z == 0:
        return "0"
    return f"{'' if abs(z) == 1 else abs(z)}{'-' if z < 0 else '+'}"


def _polarity(preset: Preset, polarity: str | None) -> int:
    """-1 (negative mode) or +1; by default negative when any family forms anions."""
    if polarity is None:
        return -1 if any(z < 0 for f in preset.families for z in f.ion_charges) else 1
    if polarity not in ("negative", "positive"):
        raise InputError(f"polarity must be 'negative' or 'positive', got {polarity!r}")
    return -1 if polarity == "negative" else 1


def _match_label(preset: Preset, species: Sequence[Species], text: str) -> list[Species]:
    """Species whose label is ``text``, or whose core (and charge, if bracketed) ``text`` writes."""
    from ..chem.formula import parse
    from ..errors import FormulaError

    exact = [s for s in species if s.label == text]
    if exact:
        return exact
    try:
        ion = parse(text, ligands=preset.registry)
    except FormulaError:
        return []
    charged = text.strip().startswith("[")
    return [
        s
        for s in species
        if s.core(preset).core_notation == ion.core_notation
        and (not charged or s.core_charge == ion.core_charge)
    ]


def _weights_from_populations(
    df: pd.DataFrame, preset: Preset, model: ESIModel, sign: int = -1
) -> tuple[list[Candidate], np.ndarray]:
    """Ion candidates and their integrated signal for one population table."""
    cands: list[Candidate] = []
    weights: list[float] = []
    rows = _population_species(df, preset)
    total = sum(frac for _, frac in rows)
    if total <= 0:
        raise InputError("populations hold no positive fraction")
    first = preset.metals[0]
    metal_au = 0.0
    metal_all = 0.0
    for sp, frac in rows:
        fam = sp.family
        f = preset.family(fam)
        x = sp.x
        share = float(frac) / total
        metal_au += share * dict(sp.metals).get(first, 0)
        metal_all += share * f.n_metals
        cw = dict(model.charge_weights.get(fam, {}) or family_charge_weights(f))
        cw = {z: w for z, w in cw.items() if z in f.ion_charges and z * sign > 0}
        csum = sum(cw.values())
        hw = model.halide_weights[: f.max_halide + 1] if f.halide else (1.0,)
        hsum = sum(hw)
        lam = model.na_mean.get(fam, 1.0)
        cluster_share = share * (1.0 - model.fragment_share)
        for hal, wh in enumerate(hw):
            forms = species_forms(preset, sp, halides=hal)
            for z, wz in cw.items():
                at_z = [c for c in forms if c.charge == z]
                kinds = sorted({c.cation for c in at_z})  # "" = Na+/H+ ladder
                for kind in kinds:
                    ladder = [c for c in at_z if c.cation == kind]
                    na = np.array([c.na + c.n_cation for c in ladder], dtype=float)
                    # truncated Poisson over the feasible Na counts (cation forms: one per z)
                    logp = na * np.log(lam) - np.array(
                        [np.sum(np.log(np.arange(1, k + 1))) for k in na]
                    )
                    p = np.exp(logp - logp.max())
                    p /= p.sum()
                    for c, pi in zip(ladder, p, strict=True):
                        cands.append(c)
                        weights.append(cluster_share * (wz / csum) * (wh / hsum) * pi / len(kinds))
        if model.fragment_share > 0:
            frags = [c for c in fragment_forms(preset, fam, x) if c.na == 0 and c.charge * sign > 0]
            if frags:
                # loss of Au(SR)2 vs Ag(SR)2 in proportion to the parent's composition
                w_au = x / f.n_metals
                fw = np.array([w_au if c.au < x else 1 - w_au for c in frags])
                if fw.sum() > 0:
                    fw = fw / fw.sum()
                    for c, wi in zip(frags, fw, strict=True):
                        cands.append(c)
                        weights.append(share * model.fragment_share * wi)
    if model.complex_share > 0:
        comps = [c for c in complex_forms(preset) if c.na == 0 and c.charge * sign > 0]
        if comps:
            frac_au = metal_au / metal_all if metal_all else 0.5
            n = np.array([c.au + c.ag for c in comps], dtype=float)
            # binomial Au/Ag mixing at the clusters' mean composition, smaller complexes more intense
            from scipy.stats import binom

            w = binom.pmf([c.au for c in comps], n.astype(int), frac_au) * np.exp(-(n - 1) / 1.5)
            w = w / w.sum()
            for c, wi in zip(comps, w, strict=True):
                cands.append(c)
                weights.append(model.complex_share * wi)
    return cands, np.asarray(weights)


def synthesize(
    populations: pd.DataFrame | str | Path,
    /,
    *,
    preset: Preset | str = "auag44-pmba",
    resolution: float = 20_000.0,
    mz_range: tuple[float, float] = (400.0, 4500.0),
    points_per_fwhm: float = 6.0,
    calibration_ppm: float = 0.0,
    calibration_slope_ppm: float = 0.0,
    baseline: float = 0.01,
    counts: float = 2e6,
    gaussian_noise: float = 0.002,
    seed: int | None = 0,
    model: ESIModel | None = None,
    time_min: float | None = None,
    polarity: str | None = None,
    eta: float = 0.0,
    tail_fwhm: float = 0.0,
    resolution_exponent: float = 0.0,
) -> SynthResult:
    """Render one population table as an ESI spectrum.

    Parameters
    ----------
    populations
        Table or CSV path with ``family, au, fraction`` (``ag``, ``ligands``,
        ``core_charge`` are implied by the preset; ``x`` may stand for ``au``), or
        ``family, species, fraction`` with labels from
        :func:`~nanoalloy.ms.library.family_species` (any preset).
    resolution
        Resolving power, FWHM = m/z / resolution.
    mz_range
        m/z window of the spectrum.
    points_per_fwhm
        Sampling of the profile at the low end of the window.
    calibration_ppm, calibration_slope_ppm
        Calibration error: ``mz_obs = mz (1 + 1e-6 (a + b (mz - 2000)/1000))``.
    baseline
        Height of a smooth, decaying chemical baseline relative to the tallest peak.
    counts
        Ion counts of the tallest peak apex (sets the Poisson noise level).
    gaussian_noise
        Electronic noise sigma relative to the tallest peak.
    seed
        Random seed (None: no noise at all, an exact rendering).
    model
        How populations appear as ions (default :class:`ESIModel`).
    time_min
        Scan time written to the metadata (``rt_min``).
    eta
        Lorentzian fraction of a pseudo-Voigt peak shape (0: Gaussian peaks).
    tail_fwhm
        Mean length of an exponential tail to high m/z, in FWHM (TOF tailing;
        the peak's position, which the calibration moves, is its centroid).
    resolution_exponent
        ``k`` of ``R(m) = resolution (m / 2000)^k`` (0: the same resolving
        power everywhere).
    polarity
        ``"negative"`` or ``"positive"``: only ions of that sign are made; by
        default negative when any family of the preset forms anions.

    Peak shapes other than Gaussian (and a resolving power varying with m/z)
    are rendered by :func:`nanoalloy.ms.fit.peak_profile` with an
    :class:`nanoalloy.ms.fit.Instrument`; the default Gaussian rendering is
    :func:`nanoalloy.chem.isotopes.profile`, unchanged.

    Returns
    -------
    SynthResult

    Examples
    --------
    >>> import pandas as pd
    >>> pops = pd.DataFrame({"family": ["M44S30"], "au": [12], "fraction": [1.0]})
    >>> res = synthesize(pops, mz_range=(2550, 2700), resolution=15000, seed=1)
    >>> float(res.truth.loc[res.truth.family == "M44S30", "abundance"].sum())
    1.0
    """
    import pandas as pd

    from ..chem.isotopes import profile
    from .spectrum import Spectrum

    p = load_preset(preset) if isinstance(preset, str | Path) else preset
    df = read_populations(populations) if isinstance(populations, str | Path) else populations
    df = _check_populations(df, "table")
    m = model or ESIModel()
    if not (resolution > 0 and mz_range[0] < mz_range[1] and points_per_fwhm > 0):
        raise InputError("resolution, mz_range and points_per_fwhm must be positive and ordered")
    if not (0.0 <= eta <= 1.0 and 0.0 <= tail_fwhm <= 20.0 and abs(resolution_exponent) <= 3):
        raise InputError("eta must be in [0, 1], tail_fwhm in [0, 20], |resolution_exponent| <= 3")
    sign = _polarity(p, polarity)
    cands, w = _weights_from_populations(df, p, m, sign)
    if not cands:
        raise InputError(
            f"no {'negative' if sign < 0 else 'positive'} ions: the preset's families give "
            "these species no ion charge of that sign"
        )
    patterns = _patterns(cands)
    lo, hi = mz_range
    instrument = Instrument(
        resolution, eta=eta, tail=tail_fwhm, exponent=resolution_exponent, reference_mz=2000.0
    )
    step = float(instrument.fwhm(lo)) / points_per_fwhm
    grid = np.arange(lo, hi, step)
    scale = 1e-6 * (calibration_ppm + calibration_slope_ppm * (grid - 2000.0) / 1000.0)
    is_cluster = np.array([c.kind == "cluster" for c in cands])
    w_cluster = np.where(is_cluster, w, 0.0)
    # render on the true axis, then relabel the axis as the miscalibrated instrument reports it
    if instrument.shape == "gaussian" and resolution_exponent == 0.0:
        _, y = profile(patterns, resolution, mz=grid, weights=w)
        _, y_cluster = profile(patterns, resolution, mz=grid, weights=w_cluster)
    else:
        y = peak_profile(patterns, grid, instrument, weights=w)
        y_cluster = peak_profile(patterns, grid, instrument, weights=w_cluster)
    mz_obs = grid * (1.0 + scale)
    # scale to the tallest *cluster* apex: single-peak complexes may stand above it, as in real spectra
    ymax = (
        float(y_cluster.max()) if y_cluster.size and y_cluster.max() > 0 else float(y.max() or 1.0)
    )
    y = y / ymax
    rng = np.random.default_rng(seed) if seed is not None else None
    base = baseline * (0.3 + np.exp(-(grid - lo) / (0.25 * (hi - lo))))
    y = y + base
    if rng is not None:
        y = rng.poisson(np.clip(y, 0, None) * counts).astype(float) / counts
        y = y + rng.normal(0.0, gaussian_noise, size=y.size)
    y = np.clip(y, 0.0, None)
    meta: dict[str, object] = {
        "source": "nanoalloy.ms.synth (simulated)",
        "resolution": float(instrument.resolution_at((lo + hi) / 2.0)),
        "ms_level": 1,
        "polarity": "negative" if sign < 0 else "positive",
        "centroided": False,
    }
    if time_min is not None:
        meta["rt_min"] = float(time_min)
    spec = Spectrum(mz_obs, y, metadata=meta)
    # per-ion truth on the same (relative) scale as the rendered spectrum
    area = w / ymax
    ions = pd.DataFrame(
        {
            "ion": [str(c.ion) for c in cands],
            "species": [c.species for c in cands],
            "family": [c.family for c in cands],
            "au": [c.au for c in cands],
            "ag": [c.ag for c in cands],
            "x": [c.x for c in cands],
            "ligands": [c.ligands for c in cands],
            "core_charge": [c.core_charge for c in cands],
            "charge": [c.charge for c in cands],
            "na": [c.na for c in cands],
            "halides": [c.halides for c in cands],
            "mz": [pat.mean_mz for pat in patterns],
            "intensity": area,
            # the share of each ion the window holds, counted as assign counts it (an ion
            # the window cuts before its mean by its share inside, not as nothing)
            "inside": ion_window_shares(patterns, [pat.mean_mz for pat in patterns], lo, hi),
        }
    )
    ions = ions[ions["inside"] > 0].reset_index(drop=True)
    ions["signal"] = ions["intensity"] * ions["inside"]
    truth = ions.groupby(
        ["species", "family", "au", "ag", "x", "ligands", "core_charge"], as_index=False
    )["signal"].sum()
    cluster = ~truth["family"].isin(["fragment", "complex"])
    total = float(truth.loc[cluster, "signal"].sum())
    truth["abundance"] = truth["signal"] / total if total > 0 else 0.0
    return SynthResult(spec, ions, truth.sort_values(["family", "x"]).reset_index(drop=True))


_PATTERN_CACHE: dict[str, Pattern] = {}


def _patterns(cands: list[Candidate]) -> list[Pattern]:
    from ..chem.isotopes import batch_patterns

    missing = [c for c in dict.fromkeys(str(c.ion) for c in cands) if c not in _PATTERN_CACHE]
    if missing:
        by_name = {str(c.ion): c for c in cands}
        todo = [by_name[k] for k in missing]
        pats = batch_patterns([c.ion.composition for c in todo], [c.charge for c in todo])
        for k, pat in zip(missing, pats, strict=True):
            _PATTERN_CACHE[k] = pat
        if len(_PATTERN_CACHE) > 200_000:  # bound memory in long sessions
            _PATTERN_CACHE.clear()
            return _patterns(cands)
    return [_PATTERN_CACHE[str(c.ion)] for c in cands]


def synthesize_series(
    populations: pd.DataFrame | str | Path, /, *, seed: int | None = 0, **kwargs: object
) -> list[SynthResult]:
    """One spectrum per ``time_h`` of a long population table (scan time in minutes)."""
    df = read_populations(populations) if isinstance(populations, str | Path) else populations
    if "time_h" not in df.columns:
        return [synthesize(df, seed=seed, **kwargs)]  # type: ignore[arg-type]
    out = []
    for i, (t, part) in enumerate(df.groupby("time_h", sort=True)):
        s = None if seed is None else seed + i
        out.append(synthesize(part, seed=s, time_min=float(t) * 60.0, **kwargs))  # type: ignore[arg-type]
    return out
