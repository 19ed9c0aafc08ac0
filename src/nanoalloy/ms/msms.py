"""Tandem MS of thiolate-protected clusters: fragment ladders and envelope matching.

In collision-induced dissociation a cluster anion such as ``[Au12Ag32(p-MBA)30]4-``
strips metal-thiolate units: anionic ``[M(SR)2]-`` (each taking one negative
charge away from the cluster, M = any metal of the core, in any order) and,
less often, neutral ``M(SR)`` (charge kept). The released ``[M(SR)2]-`` anions
show up as low-mass complementary ions. Because every fragment is a large
cluster with a wide isotope envelope, fragments are recognised by fitting whole
envelopes at the instrument's resolving power, never by single peaks.

Contents
--------
Fragment
    One ion of a fragment ladder: the ion, its charge, the loss that made it,
    average and most-abundant m/z, and its kind.
FragmentKind
    The kinds of ladder entries (precursor, anion-, neutral-, mixed-loss, complement).
MATCH_COLUMNS
    Column names of the table :func:`match_spectrum` returns.
fragment_ladder
    Precursor ion -> every fragment reachable by ``[M(SR)2]-`` and ``M(SR)``
    losses, plus the complementary ``[M(SR)2]-`` ions.
match_spectrum
    Fit the isotope envelopes of a ladder jointly (non-negative least squares
    per window, with a common m/z shift searched within the tolerance) to a
    product-ion spectrum; one row per ladder entry with score and verdict.

Examples
--------
>>> ladder = fragment_ladder("[Au21Ag23(p-MBA)27-H]4-", max_neutral=0)
>>> [(str(f.ion), f.loss) for f in ladder[1:3]]
[('[Au20Ag23(p-MBA)25-H]3-', '-[Au(p-MBA)2]-'), ('[Au21Ag22(p-MBA)25-H]3-', '-[Ag(p-MBA)2]-')]
>>> round(ladder[1].mz_average, 2)
3416.26
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..chem.formula import Ion, make_ion, parse
from ..chem.ligands import DEFAULT_LIGANDS, LigandRegistry
from ..errors import FormulaError, InputError

if TYPE_CHECKING:
    import pandas as pd

    from ..chem.isotopes import Pattern
    from .spectrum import Spectrum

__all__ = ["Fragment", "FragmentKind", "MATCH_COLUMNS", "fragment_ladder", "match_spectrum"]

FragmentKind = Literal["precursor", "anion-loss", "neutral-loss", "mixed-loss", "complement"]
"""``precursor`` (the surviving parent), ``anion-loss`` (only ``[M(SR)2]-`` lost),
``neutral-loss`` (only ``M(SR)`` lost), ``mixed-loss`` (both), ``complement``
(a released ``[M(SR)2]-`` ion)."""

MATCH_COLUMNS: tuple[str, ...] = (
    "ion",
    "charge",
    "mz",
    "ppm_error",
    "intensity",
    "score",
    "matched",
    "kind",
    "loss",
    "mz_theoretical",
    "correlation",
    "coverage",
    "area",
    "near_isobaric",
)
"""Columns of the frame :func:`match_spectrum` returns, in order."""

_KIND_ORDER = {"precursor": 0, "anion-loss": 1, "neutral-loss": 1, "mixed-loss": 1, "complement": 2}
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


@dataclass(frozen=True, slots=True)
class Fragment:
    """One ion of a fragment ladder.

    Examples
    --------
    >>> f = fragment_ladder("[Ag44(p-MBA)30]4-", max_losses=1, max_neutral=0)[1]
    >>> f.notation, f.charge, f.loss, f.kind
    ('[Ag43(p-MBA)28]3-', -3, '-[Ag(p-MBA)2]-', 'anion-loss')
    """

    ion: Ion
    """The fragment ion (precursor adducts kept on cluster fragments)."""
    charge: int
    """Signed charge of the ion."""
    loss: str
    """What was lost, e.g. ``-[Au(p-MBA)2]-`` or ``-2[Ag(p-MBA)2]- -Au(p-MBA)``; empty for the
    precursor and for complementary ions."""
    mz_average: float
    """Average m/z."""
    mz_most_abundant: float
    """m/z of the most abundant aggregated isotope peak."""
    kind: FragmentKind
    """``precursor``, ``anion-loss``, ``neutral-loss``, ``mixed-loss`` or ``complement``."""
    anions_lost: tuple[tuple[str, int], ...] = ()
    """Metal -> number of ``[M(SR)2]-`` units lost."""
    neutrals_lost: tuple[tuple[str, int], ...] = ()
    """Metal -> number of neutral ``M(SR)`` units lost."""

    @property
    def notation(self) -> str:
        """Canonical notation of the ion."""
        return self.ion.notation

    def to_dict(self) -> dict[str, object]:
        """Row of ``fragments.csv``: ion, charge, m/z values, loss, kind."""
        return {
            "ion": self.ion.notation,
            "charge": self.charge,
            "mz_average": self.mz_average,
            "mz_most_abundant": self.mz_most_abundant,
            "loss": self.loss,
            "kind": self.kind,
        }


# ---------------------------------------------------------------------------
# fragment ladder
# ---------------------------------------------------------------------------
def _thiolate(ion: Ion, sr: str | None, reg: LigandRegistry) -> str:
    """The ligand the M(SR) units carry: ``sr`` if given, else the most numerous ligand."""
    # neutral donors (PPh3: no electron withdrawn) do not leave as [M(L)2]- units
    ligs = {
        g.name: g.count
        for g in ion.core
        if g.kind == "ligand" and (g.name not in reg or reg[g.name].electrons > 0)
    }
    if sr is not None:
        name = reg.resolve(sr).name
        if name not in ligs:
            raise InputError(
                f"the precursor {ion.notation} carries no {name} ligand "
                f"(its ligands: {', '.join(ligs) or 'none'})"
            )
        return name
    if not ligs:
        raise InputError(
            f"the precursor {ion.notation} has no thiolate ligand to lose as [M(SR)2]- units"
        )
    return max(ligs, key=lambda k: ligs[k])  # first written wins ties


def _loss_text(anions: Counter[str], neutrals: Counter[str], lig: str, order: Sequence[str]) -> str:
    parts = []
    for m in order:
        n = anions.get(m, 0)
        if n:
            parts.append(f"-{n if n > 1 else ''}[{m}({lig})2]-")
    for m in order:
        n = neutrals.get(m, 0)
        if n:
            parts.append(f"-{n if n > 1 else ''}{m}({lig})")
    return " ".join(parts)


def _multisets(metals: Sequence[str], n: int) -> list[Counter[str]]:
    return [Counter(c) for c in itertools.combinations_with_replacement(metals, n)]


def fragment_ladder(
    precursor: Ion | str,
    /,
    *,
    sr: str | Sequence[str] | None = None,
    max_losses: int | None = None,
    max_neutral: int = 2,
    metals: Iterable[str] | None = None,
    ligands: LigandRegistry | None = None,
) -> list[Fragment]:
    """Every fragment of a cluster anion reachable by metal-thiolate losses.

    Fragments lose ``k`` anionic ``[M(SR)2]-`` units (each removes one negative
    charge: ``[Au21Ag23(SR)27-H]4-`` -> ``[Au20Ag23(SR)25-H]3-``) and ``n``
    neutral ``M(SR)`` units (charge kept), with M drawn from ``metals`` in every
    combination. Routes that end in the same ion (``-[Au(SR)2]- -Ag(SR)`` and
    ``-[Ag(SR)2]- -Au(SR)``) are listed once, under the route with the heavier
    metals in the anionic losses. The precursor's Na+/H+ adducts stay on the
    cluster fragment; fragments whose shell could no longer carry the removed
    protons are left out. The complementary ``[M(SR)2]-`` ions close the list.

    Parameters
    ----------
    precursor
        The precursor ion (an :class:`~nanoalloy.chem.formula.Ion` or its notation);
        it must be an anion.
    sr
        Ligand ``SR`` stands for when ``precursor`` is text, and the ligand the
        lost units carry (default: the most numerous thiolate of the precursor).
        A sequence (a preset's ligands, e.g. ``["PET", "SBB"]``) binds ``SR`` to
        the first and lets every one of them the precursor carries leave as
        ``[M(L)2]-`` / ``M(L)`` units, one ligand per route (mixed units such as
        ``[M(L1)(L2)]-`` and routes mixing ligands are not listed).
    max_losses
        Largest number of anionic ``[M(SR)2]-`` losses (default and upper
        bound: until one negative charge is left).
    max_neutral
        Largest number of neutral ``M(SR)`` losses, alone or on top of the
        anionic ones (0 to leave them out).
    metals
        Metals that may leave (default: every metal of the precursor).
    ligands
        Ligand registry (default: the built-in one).

    Returns
    -------
    list of Fragment
        The precursor first, then fragments by number of losses (anionic losses
        first, heavier metals first), then the complementary ions.

    Raises
    ------
    FormulaError
        ``precursor`` text that does not parse.
    InputError
        A neutral or cationic precursor, no metal or thiolate to lose, bad options.

    Examples
    --------
    >>> ladder = fragment_ladder("[Au21Ag23(p-MBA)27-H]4-")
    >>> hit = next(f for f in ladder if f.notation == "[Au20Ag23(p-MBA)25-H]3-")
    >>> hit.loss, round(hit.mz_average, 2)
    ('-[Au(p-MBA)2]-', 3416.26)
    >>> sorted({f.charge for f in ladder})
    [-4, -3, -2, -1]
    >>> [f.notation for f in ladder if f.kind == "complement"]
    ['[Au(p-MBA)2]-', '[Ag(p-MBA)2]-']
    """
    reg = ligands or DEFAULT_LIGANDS
    many = sr is not None and not isinstance(sr, str)
    sr_list = [reg.resolve(x).name for x in sr] if sr is not None and many else []
    if many and not sr_list:
        raise InputError("sr: give at least one ligand")
    sr_one: str | None = sr_list[0] if many else (sr if isinstance(sr, str) else None)
    ion = parse(precursor, sr=sr_one, ligands=reg) if isinstance(precursor, str) else precursor
    if not isinstance(ion, Ion):
        raise InputError(
            f"precursor must be an Ion or its notation, got {type(precursor).__name__}"
        )
    if ion.charge >= 0:
        what = "neutral" if ion.charge == 0 else "a cation"
        raise InputError(
            f"precursor {ion.notation} is {what}: MS/MS ladders need a cluster anion "
            "(write the charge, e.g. [Au12Ag32(p-MBA)30]4-)"
        )
    for name, value in (("max_losses", max_losses), ("max_neutral", max_neutral)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InputError(f"{name} must be an integer, got {value!r}")
        if value is not None and value < 0:
            raise InputError(f"{name} must be >= 0, got {value}")
    core_metals = ion.metals
    if not core_metals:
        raise InputError(f"the precursor {ion.notation} holds no metal atoms")
    if many:
        present = set(ion.ligands)
        ligs = [x for x in sr_list if x in present]
        if not ligs:
            raise InputError(
                f"the precursor {ion.notation} carries none of the ligands {', '.join(sr_list)}"
            )
    else:
        ligs = [_thiolate(ion, sr_one, reg)]
    order = list(core_metals) if metals is None else list(dict.fromkeys(metals))
    missing = [m for m in order if m not in core_metals]
    if missing or not order:
        raise InputError(
            f"metals {missing or order} are not in the precursor {ion.notation} "
            f"(it holds {', '.join(core_metals)})"
        )
    k_max = -ion.charge - 1 if max_losses is None else min(max_losses, -ion.charge - 1)
    entries: list[tuple[tuple[int, ...], Ion, str, FragmentKind, Counter[str], Counter[str]]] = []
    entries.append(((0, 0, 0), ion, "", "precursor", Counter(), Counter()))
    done: set[str] = {ion.notation}
    for li, lig in enumerate(ligs):
        for e in _ladder_entries(ion, lig, li, order, k_max, max_neutral, reg):
            if e[1].notation not in done:
                done.add(e[1].notation)
                entries.append(e)
    entries.sort(key=lambda e: e[0])
    return _finish_ladder(entries, order)


def _ladder_entries(
    ion: Ion,
    lig: str,
    li: int,
    order: Sequence[str],
    k_max: int,
    max_neutral: int,
    reg: LigandRegistry,
) -> list[tuple[tuple[int, ...], Ion, str, FragmentKind, Counter[str], Counter[str]]]:
    """Fragments of ``ion`` losing ``[M(lig)2]-`` and ``M(lig)`` units, and the complements."""
    core_metals = ion.metals
    shell = ion.ligands
    adducts = dict(ion.adducts)
    removed = -adducts.get("H", 0)
    acidic_per = {name: reg[name].acidic_protons for name in shell if name in reg}
    entries: list[tuple[tuple[int, ...], Ion, str, FragmentKind, Counter[str], Counter[str]]] = []
    seen: set[tuple[int, int, tuple[tuple[str, int], ...]]] = set()
    for k in range(k_max + 1):
        for n in range(max_neutral + 1):
            if k + n == 0 or 2 * k + n > shell[lig]:
                continue
            for an in _multisets(order, k):
                for ne in _multisets(order, n):
                    lost = an + ne
                    key = (k, n, tuple(sorted(lost.items())))
                    if key in seen or any(lost[m] > core_metals[m] for m in lost):
                        continue
                    seen.add(key)
                    left_metals = {m: c - lost.get(m, 0) for m, c in core_metals.items()}
                    left_shell = dict(shell)
                    left_shell[lig] -= 2 * k + n
                    acidic = sum(c * acidic_per.get(name, 0) for name, c in left_shell.items())
                    if removed > acidic or sum(left_metals.values()) == 0:
                        continue
                    try:
                        frag = make_ion(
                            {m: c for m, c in left_metals.items() if c},
                            {name: c for name, c in left_shell.items() if c},
                            charge=ion.charge + k,
                            adducts=adducts,
                            registry=reg,
                        )
                    except FormulaError:
                        continue
                    kind: FragmentKind = (
                        "mixed-loss" if k and n else ("anion-loss" if k else "neutral-loss")
                    )
                    heavy = tuple(-lost.get(m, 0) for m in order)
                    entries.append(((1, k + n, -k, li, *heavy), frag, lig, kind, an, ne))
    for m in order:
        comp = make_ion({m: 1}, {lig: 2}, charge=-1, registry=reg)
        entries.append(((2, li, order.index(m)), comp, lig, "complement", Counter(), Counter()))
    return entries


def _finish_ladder(
    entries: list[tuple[tuple[int, ...], Ion, str, FragmentKind, Counter[str], Counter[str]]],
    order: Sequence[str],
) -> list[Fragment]:
    from ..chem.isotopes import batch_patterns

    ions = [e[1] for e in entries]
    pats = batch_patterns([i.composition for i in ions], [i.charge for i in ions])
    out = []
    for (_, ion, lig, kind, an, ne), pat in zip(entries, pats, strict=True):
        out.append(
            Fragment(
                ion=ion,
                charge=ion.charge,
                loss=_loss_text(an, ne, lig, order) if lig else "",
                mz_average=ion.mz_average,
                mz_most_abundant=pat.most_abundant_mz,
                kind=kind,
                anions_lost=tuple((m, an[m]) for m in order if an.get(m)),
                neutrals_lost=tuple((m, ne[m]) for m in order if ne.get(m)),
            )
        )
    return out


# ---------------------------------------------------------------------------
# matching a product-ion spectrum
# ---------------------------------------------------------------------------
def _as_profile(spectrum: Spectrum, resolution: float | None) -> tuple[Spectrum, float]:
    """The spectrum as a profile, and the resolving power to render envelopes at."""
    from ..chem.isotopes import Pattern, profile
    from .peaks import estimate_resolution
    from .spectrum import Spectrum

    if not isinstance(spectrum, Spectrum):
        raise InputError(f"spectrum must be a Spectrum, got {type(spectrum).__name__}")
    if len(spectrum) < 3 or float(spectrum.intensity.max()) <= 0:
        raise InputError("the product-ion spectrum is empty (fewer than 3 points or no signal)")
    if resolution is None:
        if spectrum.centroided:
            raise InputError(
                "a centroided spectrum needs the resolving power to render envelopes: "
                "--resolution R (Python: resolution=R)"
            )
        resolution = float(estimate_resolution(spectrum))
        if not math.isfinite(resolution):
            raise InputError(
                "could not estimate the resolving power from the spectrum; "
                "pass it: --resolution R (Python: resolution=R)"
            )
    if not (isinstance(resolution, int | float) and math.isfinite(resolution) and resolution > 0):
        raise InputError(f"resolution must be a positive number, got {resolution!r}")
    if spectrum.centroided:
        sigma = spectrum.mz / resolution / _FWHM_PER_SIGMA
        sticks = Pattern(spectrum.mz, spectrum.intensity * sigma * math.sqrt(2.0 * math.pi))
        x, y = profile(sticks, resolution)
        spectrum = Spectrum(x, np.clip(y, 0.0, None), spectrum.metadata)
    return spectrum, float(resolution)


def _window(pat: Pattern, resolution: float, tol_ppm: float) -> tuple[float, float]:
    keep = pat.probability >= 1e-3 * pat.probability.max()
    lo, hi = float(pat.mz[keep].min()), float(pat.mz[keep].max())
    pad = 2.5 / resolution + 2e-6 * tol_ppm
    return lo * (1 - pad), hi * (1 + pad)


def _templates(pats: Sequence[Pattern], x: np.ndarray, resolution: float, ppm: float) -> np.ndarray:
    """Columns: each pattern shifted by ``ppm`` and rendered on ``x`` (unit peak height scale)."""
    from ..chem.isotopes import profile

    grid = x / (1.0 + ppm * 1e-6)
    return np.column_stack([profile(p, resolution, mz=grid)[1] for p in pats])


def _nnls(a: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    from scipy.optimize import nnls

    scale = a.max(axis=0)
    scale[scale <= 0] = 1.0
    w, rnorm = nnls(a / scale, y, maxiter=50 * a.shape[1] + 100)
    return w / scale, float(rnorm)


def _refine(shifts: np.ndarray, values: np.ndarray, *, best: Literal["min", "max"]) -> float:
    """Parabolic refinement of the best of sampled values."""
    i = int(np.argmin(values) if best == "min" else np.argmax(values))
    if 0 < i < len(shifts) - 1:
        y0, y1, y2 = values[i - 1], values[i], values[i + 1]
        den = y0 - 2 * y1 + y2
        if den != 0:
            off = 0.5 * (y0 - y2) / den
            if abs(off) <= 1:
                return float(shifts[i] + off * (shifts[1] - shifts[0]))
    return float(shifts[i])


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3:
        return 0.0
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / den if den > 0 else 0.0


def match_spectrum(
    spectrum: Spectrum,
    ladder: Sequence[Fragment],
    /,
    *,
    resolution: float | None = None,
    tolerance_ppm: float = 20.0,
    min_score: float = 0.6,
    min_snr: float = 5.0,
) -> pd.DataFrame:
    """Match a product-ion spectrum against a fragment ladder, envelope by envelope.

    Each ladder ion's aggregated isotope pattern is rendered at the resolving
    power. Ions whose windows overlap are fitted together: for a common m/z
    shift searched within ``±2 tolerance_ppm`` the non-negative least-squares
    combination of their envelopes plus a constant baseline is fitted to the
    observed profile, and the shift with the smallest residual kept. Each ion
    is then judged on what is left for it (the observed profile minus the other
    fitted envelopes and the baseline) inside its window: ``correlation`` with
    its envelope (its own best shift gives ``ppm_error``), ``coverage`` = the
    share of its fitted envelope that the observed signal supports times the
    share of its pattern inside the measured range, ``score = correlation x
    coverage``. An ion is ``matched`` when ``score >= min_score``, its apex
    stands ``min_snr`` noise levels high and ``|ppm_error| <= tolerance_ppm``.
    Ions whose envelopes nearly coincide (template correlation > 0.9) are named
    in ``near_isobaric`` instead of one of them being picked silently.

    Parameters
    ----------
    spectrum
        Product-ion spectrum (profile; a centroided one is rendered at
        ``resolution`` first).
    ladder
        Fragments, e.g. from :func:`fragment_ladder`.
    resolution
        Resolving power m/z / FWHM (default: estimated from the spectrum).
    tolerance_ppm
        Largest accepted m/z error.
    min_score
        Score threshold for ``matched``.
    min_snr
        Smallest apex height of the fitted envelope, in noise standard deviations.

    Returns
    -------
    pandas.DataFrame
        One row per ladder entry, in ladder order, columns :data:`MATCH_COLUMNS`:
        ``ion``, ``charge``, ``mz`` (observed m/z of the most abundant peak; NaN
        when nothing was fitted), ``ppm_error``, ``intensity`` (apex height of the
        fitted envelope), ``score``, ``matched``, then ``kind``, ``loss``,
        ``mz_theoretical``, ``correlation``, ``coverage``, ``area`` (fitted
        weight: integral of the envelope in intensity x m/z) and
        ``near_isobaric``. ``frame.attrs["resolution"]`` holds the resolving
        power used.

    Raises
    ------
    InputError
        An empty ladder or spectrum, a bad option, or a resolving power that
        cannot be estimated.

    Examples
    --------
    >>> from nanoalloy.chem.isotopes import profile
    >>> from nanoalloy.ms.spectrum import Spectrum
    >>> ladder = fragment_ladder("[Ag44(p-MBA)30]4-", max_losses=1, max_neutral=0)
    >>> x = np.arange(2960.0, 2990.0, 0.004)
    >>> _, y = profile(ladder[1].ion.pattern(), 20000, mz=x)
    >>> table = match_spectrum(Spectrum(x, y + 1e-3), ladder, resolution=20000)
    >>> table.loc[table.matched, "ion"].tolist()
    ['[Ag43(p-MBA)28]3-']
    >>> abs(float(table.loc[1, "ppm_error"])) < 1
    True
    """
    import pandas as pd

    from ..chem.isotopes import batch_patterns
    from .peaks import noise_level

    frags = list(ladder)
    if not frags or not all(isinstance(f, Fragment) for f in frags):
        raise InputError("ladder must be a non-empty sequence of Fragment records")
    for name, value in (("tolerance_ppm", tolerance_ppm), ("min_score", min_score)):
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"{name} must be positive, got {value!r}")
    spec, res = _as_profile(spectrum, resolution)
    noise = noise_level(spec) or 1e-12 * float(spec.intensity.max())
    pats = batch_patterns([f.ion.composition for f in frags], [f.charge for f in frags])
    windows = [_window(p, res, tolerance_ppm) for p in pats]
    rows: list[dict[str, object]] = [
        {
            "ion": f.notation,
            "charge": f.charge,
            "mz": math.nan,
            "ppm_error": math.nan,
            "intensity": 0.0,
            "score": 0.0,
            "matched": False,
            "kind": f.kind,
            "loss": f.loss,
            "mz_theoretical": p.most_abundant_mz,
            "correlation": 0.0,
            "coverage": 0.0,
            "area": 0.0,
            "near_isobaric": "",
        }
        for f, p in zip(frags, pats, strict=True)
    ]
    mz_all, y_all = spec.mz, spec.intensity
    for members in _clusters(windows):
        lo = min(windows[i][0] for i in members)
        hi = max(windows[i][1] for i in members)
        sel = slice(*np.searchsorted(mz_all, [lo, hi]))
        x, y = mz_all[sel], y_all[sel]
        if x.size < 5 or float(y.max()) <= 0:
            continue
        cpats = [pats[i] for i in members]
        step = tolerance_ppm / 8
        shifts = np.arange(-2 * tolerance_ppm, 2 * tolerance_ppm + step / 2, step)
        resid = np.array(
            [_nnls(_with_baseline(_templates(cpats, x, res, s)), y)[1] for s in shifts]
        )
        shift = _refine(shifts, resid, best="min")
        a = _templates(cpats, x, res, shift)
        w, _ = _nnls(_with_baseline(a), y)
        models = a * w[:-1]
        total = models.sum(axis=1) + w[-1]
        for j, i in enumerate(members):
            _judge(rows[i], j, a, models, total, x, y, w, cpats, spec, res, shift, tolerance_ppm)
            rows[i]["matched"] = bool(
                float(rows[i]["score"]) >= min_score  # type: ignore[arg-type]
                and float(rows[i]["intensity"]) >= min_snr * noise  # type: ignore[arg-type]
                and abs(float(rows[i]["ppm_error"])) <= tolerance_ppm  # type: ignore[arg-type]
            )
        _flag_isobars(rows, members, a, w[:-1])
    frame = pd.DataFrame(rows, columns=list(MATCH_COLUMNS))
    frame.attrs["resolution"] = res
    frame.attrs["noise"] = noise
    return frame


def _with_baseline(a: np.ndarray) -> np.ndarray:
    return np.column_stack([a, np.ones(a.shape[0])])


def _clusters(windows: Sequence[tuple[float, float]]) -> list[list[int]]:
    """Indices grouped into runs of overlapping windows."""
    order = sorted(range(len(windows)), key=lambda i: windows[i])
    out: list[list[int]] = []
    end = -math.inf
    for i in order:
        if windows[i][0] > end:
            out.append([])
        out[-1].append(i)
        end = max(end, windows[i][1])
    return out


def _judge(
    row: dict[str, object],
    j: int,
    a: np.ndarray,
    models: np.ndarray,
    total: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    cpats: Sequence[Pattern],
    spec: Spectrum,
    res: float,
    shift: float,
    tolerance_ppm: float,
) -> None:
    """Fill one row's fit figures from the joint fit of its window."""
    if w[j] <= 0:
        return
    model = models[:, j]
    mask = a[:, j] > 0.02 * a[:, j].max()
    if mask.sum() < 3:
        return
    own = y - (total - model)
    # the ion's own best shift: correlation of what is left for it with its envelope
    shifts = shift + np.linspace(-tolerance_ppm, tolerance_ppm, 17)
    corrs = np.array([_corr(own[mask], _templates([cpats[j]], x, res, s)[mask, 0]) for s in shifts])
    ppm = _refine(shifts, corrs, best="max")
    corr = max(_corr(own[mask], _templates([cpats[j]], x, res, ppm)[mask, 0]), 0.0)
    supported = float(np.minimum(model[mask], np.clip(own[mask], 0, None)).sum())
    explained = supported / float(model[mask].sum())
    pat = cpats[j]
    inside = (pat.mz >= spec.mz[0]) & (pat.mz <= spec.mz[-1])
    in_range = float(pat.probability[inside].sum() / pat.probability.sum())
    coverage = explained * in_range
    row.update(
        mz=pat.most_abundant_mz * (1 + ppm * 1e-6),
        ppm_error=ppm,
        intensity=float(model.max()),
        score=corr * coverage,
        correlation=corr,
        coverage=coverage,
        area=float(w[j] * pat.probability.sum()),
    )


def _flag_isobars(
    rows: list[dict[str, object]], members: Sequence[int], a: np.ndarray, w: np.ndarray
) -> None:
    """Name, on both, every pair of a window's ions with nearly the same envelope (one fitted)."""
    if len(members) < 2:
        return
    norm = np.linalg.norm(a, axis=0)
    norm[norm == 0] = 1.0
    cos = (a / norm).T @ (a / norm)
    near: dict[int, list[str]] = {}
    for j, k in itertools.combinations(range(len(members)), 2):
        if cos[j, k] > 0.9 and (w[j] > 0 or w[k] > 0):
            near.setdefault(j, []).append(str(rows[members[k]]["ion"]))
            near.setdefault(k, []).append(str(rows[members[j]]["ion"]))
    for j, names in near.items():
        rows[members[j]]["near_isobaric"] = ";".join(names)
