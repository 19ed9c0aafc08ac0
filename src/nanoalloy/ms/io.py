"""Reading and writing spectrum files.

Formats: mzML and mzXML (parsed with pyteomics, streamed scan by scan), and
text exports: two or more numeric columns separated by commas, tabs, semicolons
or spaces, with or without header lines, including Thermo Xcalibur exports
("SPECTRUM - MS", "Scan #: 1", "Mass Intensity" ...; several blocks become
several scans). The format is sniffed from the content; a known extension that
contradicts the content is an error. Every problem is a
:class:`~nanoalloy.errors.SpectrumFormatError` whose one-line message names the
file and what is wrong.

Contents
--------
read
    One spectrum: a scan by index or id, the scan nearest a time, or a range of
    scans summed or averaged.
iter_scans
    A generator over the scans of a file (never holds the whole file).
list_scans
    A :class:`~nanoalloy.ms.spectrum.ScanInfo` per scan.
read_series
    Every MS1 scan with its time (a time course).
write_csv
    One spectrum as two-column CSV/TSV.
write_mzml
    Spectra as an indexed mzML 1.1 file (64-bit, zlib-compressed arrays).
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import re
import warnings
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import quoteattr

import numpy as np

from .._version import __version__
from ..errors import SpectrumFormatError
from ..output import atomic_file
from .spectrum import ScanInfo, Spectrum

__all__ = ["iter_scans", "list_scans", "read", "read_series", "write_csv", "write_mzml"]

PathLike = str | os.PathLike[str]
Format = Literal["mzml", "mzxml", "text"]

_EXTENSIONS: Mapping[str, Format] = {
    ".mzml": "mzml",
    ".mzxml": "mzxml",
    ".csv": "text",
    ".tsv": "text",
    ".txt": "text",
    ".xy": "text",
    ".dat": "text",
    ".asc": "text",
}


# ---------------------------------------------------------------------------- format sniffing
def _sniff(path: Path) -> Format:
    """Decide the format from the content; check it against a known extension."""
    if path.is_dir():
        raise SpectrumFormatError(f"{path}: is a folder, not a spectrum file")
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if not head.strip():
        raise SpectrumFormatError(f"{path}: empty file")
    if b"\x00" in head or sum(b < 9 or 13 < b < 32 for b in head) > len(head) // 100:
        raise SpectrumFormatError(f"{path}: binary content, not a spectrum file")
    text = head.decode("latin-1")
    if text.lstrip("\ufeff\xef\xbb\xbf \t\r\n").startswith("<"):
        if "<mzML" in text or "<indexedmzML" in text:
            found: Format = "mzml"
        elif "<mzXML" in text or "<msRun" in text:
            found = "mzxml"
        else:
            raise SpectrumFormatError(f"{path}: XML file that is neither mzML nor mzXML")
    else:
        found = "text"
    expected = _EXTENSIONS.get(path.suffix.lower())
    if expected is not None and expected != found:
        raise SpectrumFormatError(
            f"{path}: extension {path.suffix!r} says {expected}, but the content is {found}"
        )
    return found


# ---------------------------------------------------------------------------- mzML / mzXML
@contextmanager
def _quiet_psims() -> Iterator[None]:
    """Context for importing pyteomics/psims: psims warns, on import, that its mzMLb
    *writer* lacks ``hdf5plugin`` whenever h5py is installed; we never write mzMLb."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="hdf5plugin is missing", category=UserWarning)
        yield


@lru_cache(maxsize=1)
def _psi_ms_cv() -> Any:
    """Load the PSI-MS vocabulary that pyteomics needs, once per process."""
    try:
        with _quiet_psims():
            from psims.controlled_vocabulary.controlled_vocabulary import load_psims
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SpectrumFormatError(
            "reading mzML needs the 'psims' package (pip install 'nanoalloy[io]')"
        ) from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # psims leaves its .obo.gz open
        return load_psims()


def _first(seq: Any) -> Any:
    return seq[0] if isinstance(seq, list) and seq else None


def _mzml_record(d: Mapping[str, Any], path: Path) -> Spectrum:
    md: dict[str, Any] = {
        "index": int(d.get("index", 0)),
        "id": str(d.get("id", d.get("index", 0))),
        "ms_level": int(d["ms level"]) if "ms level" in d else None,
        "source": str(path),
    }
    md["centroided"] = (
        True if "centroid spectrum" in d else False if "profile spectrum" in d else None
    )
    md["polarity"] = (
        "positive" if "positive scan" in d else "negative" if "negative scan" in d else None
    )
    scan = _first((d.get("scanList") or {}).get("scan")) or {}
    rt = scan.get("scan start time")
    if rt is not None:
        unit = str(getattr(rt, "unit_info", "minute") or "minute").lower()
        md["rt_min"] = float(rt) / 60.0 if unit.startswith("s") else float(rt)
    prec = _first((d.get("precursorList") or {}).get("precursor"))
    if prec is not None:
        ion = _first((prec.get("selectedIonList") or {}).get("selectedIon")) or {}
        iso = prec.get("isolationWindow") or {}
        pmz = ion.get("selected ion m/z", iso.get("isolation window target m/z"))
        md["precursor_mz"] = None if pmz is None else float(pmz)
        ch = ion.get("charge state")
        md["precursor_charge"] = None if ch is None else int(ch)
    return _make(d.get("m/z array", ()), d.get("intensity array", ()), md, path)


def _mzxml_record(d: Mapping[str, Any], path: Path, index: int) -> Spectrum:
    md: dict[str, Any] = {
        "index": index,
        "id": str(d.get("num", index)),
        "ms_level": int(d["msLevel"]) if "msLevel" in d else None,
        "source": str(path),
    }
    if "retentionTime" in d:
        md["rt_min"] = float(d["retentionTime"])  # pyteomics converts PT..S to minutes
    pol = d.get("polarity")
    md["polarity"] = {"+": "positive", "-": "negative"}.get(str(pol)) if pol else None
    cen = d.get("centroided")
    md["centroided"] = None if cen is None else str(cen).strip().lower() in ("1", "true")
    prec = _first(d.get("precursorMz"))
    if prec is not None:
        md["precursor_mz"] = float(prec["precursorMz"])
        ch = prec.get("precursorCharge")
        md["precursor_charge"] = None if ch is None else int(ch)
    return _make(d.get("m/z array", ()), d.get("intensity array", ()), md, path)


def _make(mz: Any, inten: Any, md: dict[str, Any], path: Path) -> Spectrum:
    try:
        return Spectrum(mz, inten, md)
    except SpectrumFormatError as exc:
        raise SpectrumFormatError(f"{path}: scan {md.get('index')}: {exc}") from None


def _iter_xml(path: Path, fmt: Format) -> Iterator[Spectrum]:
    from lxml import etree

    with _quiet_psims():
        from pyteomics import mzml, mzxml
        from pyteomics.auxiliary import PyteomicsError

    try:
        if fmt == "mzml":
            # huge_tree: one profile scan's binary array easily exceeds libxml2's
            # 10 MB text-node limit (700 000 points as uncompressed 64-bit floats)
            with mzml.MzML(str(path), use_index=False, cv=_psi_ms_cv(), huge_tree=True) as reader:
                for d in reader:
                    yield _mzml_record(d, path)
        else:
            with mzxml.MzXML(str(path), use_index=False, huge_tree=True) as reader:
                for i, d in enumerate(reader):
                    yield _mzxml_record(d, path, i)
    except SpectrumFormatError:
        raise
    except (etree.LxmlError, PyteomicsError, KeyError, TypeError, ValueError, zlib.error) as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        name = "mzML" if fmt == "mzml" else "mzXML"
        raise SpectrumFormatError(f"{path}: malformed or truncated {name}: {msg}") from None


# ---------------------------------------------------------------------------- text
_BLOCK_START = re.compile(r"^\s*(SPECTRUM\b|Scan\s*#|Packet\s*#)", re.IGNORECASE)
_THERMO_FILTER = re.compile(r"\b(?:FTMS|ITMS|TOF MS|MS)\s+([+-])\s+([pc])\b")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:nan|inf)$", re.I)


def _split(line: str) -> list[str]:
    if ";" in line or "\t" in line:
        parts = [p.strip().replace(",", ".") for p in re.split(r"[;\t]+", line)]
    else:
        parts = re.split(r"[,\s]+", line.strip())
    return [p for p in parts if p]


def _is_numeric(token: str) -> bool:
    return bool(_NUMBER.match(token))


def _header_metadata(lines: list[str]) -> dict[str, Any]:
    md: dict[str, Any] = {}
    for line in lines:
        if m := re.search(r"Scan\s*#\s*:?\s*(\d+)", line, re.I):
            md["id"] = m.group(1)
        if m := re.search(r"\bRT\s*:?\s*([0-9.]+)", line):
            md["rt_min"] = float(m.group(1))
        if m := _THERMO_FILTER.search(line):
            md["polarity"] = "positive" if m.group(1) == "+" else "negative"
            md["centroided"] = m.group(2) == "c"
            md["ms_level"] = int(ms.group(1)) if (ms := re.search(r"\bms(\d)\b", line)) else 1
    return md


def _iter_text(path: Path) -> Iterator[Spectrum]:
    """Blocks of numeric rows; header lines before a block become its metadata."""
    header: list[str] = []
    mz: list[float] = []
    inten: list[float] = []
    lines: list[int] = []
    index = 0

    def emit() -> Spectrum:
        arr_mz, arr_i = np.array(mz), np.array(inten)
        step = np.diff(arr_mz)
        if (step <= 0).any():
            k = int(np.argmax(step <= 0)) + 1
            what = "duplicate" if step[k - 1] == 0 else "unsorted"
            raise SpectrumFormatError(
                f"{path}: line {lines[k]}: {what} m/z {arr_mz[k]:.10g} after "
                f"{arr_mz[k - 1]:.10g} (m/z must be strictly increasing)"
            )
        md = {"index": index, "id": str(index), "source": str(path)} | _header_metadata(header)
        return _make(arr_mz, arr_i, md, path)

    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.strip().lstrip("\ufeff")
            if not line or line.startswith("#"):
                continue
            tokens = _split(line)
            numeric = bool(tokens) and _is_numeric(tokens[0])
            if not numeric:
                if mz and _BLOCK_START.match(line):
                    yield emit()
                    index += 1
                    header, mz, inten, lines = [], [], [], []
                elif mz:
                    raise SpectrumFormatError(
                        f"{path}: line {lineno}: expected two numbers, got {line[:40]!r}"
                    )
                header.append(line)
                continue
            if len(tokens) < 2 or not _is_numeric(tokens[1]):
                raise SpectrumFormatError(
                    f"{path}: line {lineno}: one column only; expected m/z and intensity"
                )
            x, y = float(tokens[0]), float(tokens[1])
            if not (math.isfinite(x) and math.isfinite(y)):
                raise SpectrumFormatError(f"{path}: line {lineno}: non-finite value {line!r}")
            if y < 0:
                raise SpectrumFormatError(f"{path}: line {lineno}: negative intensity {y:g}")
            mz.append(x)
            inten.append(y)
            lines.append(lineno)
    if not mz:
        raise SpectrumFormatError(f"{path}: no numeric m/z-intensity rows found")
    yield emit()


# ---------------------------------------------------------------------------- public readers
def iter_scans(path: PathLike, /) -> Iterator[Spectrum]:
    """Yield the scans of a file one at a time, in file order.

    mzML and mzXML are parsed incrementally (pyteomics over lxml iterparse),
    so memory stays bounded by one scan. Text files yield one spectrum per
    block (one for a plain two-column file).

    Parameters
    ----------
    path
        mzML, mzXML or text file.

    Yields
    ------
    Spectrum
        With metadata ``index``, ``id``, ``ms_level``, ``rt_min``, ``centroided``,
        ``polarity``, ``precursor_mz``, ``precursor_charge``, ``source`` where known.

    Raises
    ------
    SpectrumFormatError
        Unreadable or invalid content (raised when the bad scan is reached).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = p.write_text("mz,intensity\\n100,1\\n101,2\\n")
    >>> [len(s) for s in iter_scans(p)]
    [2]
    """
    p = Path(path)
    fmt = _sniff(p)
    if fmt == "text":
        yield from _iter_text(p)
    else:
        yield from _iter_xml(p, fmt)


def list_scans(path: PathLike, /) -> list[ScanInfo]:
    """Summarise every scan of a file (streams through it once).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.txt"
    >>> _ = p.write_text("100 1\\n101 2\\n")
    >>> list_scans(p)[0].base_peak_mz
    101.0
    """
    return [ScanInfo.from_spectrum(s) for s in iter_scans(path)]


def read_series(path: PathLike, /, *, ms_level: int = 1) -> list[Spectrum]:
    """Every scan of one MS level (default MS1) with its time: a time course.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.mzML"
    >>> write_mzml([Spectrum([1.0, 2.0], [1.0, 0.0], {"rt_min": t}) for t in (0.5, 1.0)], p)
    >>> [s.rt_min for s in read_series(p)]
    [0.5, 1.0]
    """
    return [s for s in iter_scans(path) if (s.ms_level or 1) == ms_level]


def read(
    path: PathLike,
    /,
    *,
    scan: int | str | None = None,
    time: float | None = None,
    scans: tuple[int, int] | None = None,
    combine: Literal["sum", "mean"] = "sum",
    ms_level: int = 1,
) -> Spectrum:
    """Read one spectrum from a file.

    Parameters
    ----------
    path
        mzML, mzXML or text file (format sniffed from the content).
    scan
        0-based scan index (int) or native id (str). Default: the first scan.
    time
        Retention time in minutes: the ``ms_level`` scan nearest to it.
    scans
        Inclusive range ``(first, last)`` of scan indices; its ``ms_level``
        scans are combined.
    combine
        ``"sum"`` or ``"mean"`` for ``scans``. Centroid scans are pooled and
        sticks closer than 1 ppm merged (intensity-weighted m/z). Profile scans
        are resampled by linear interpolation onto the sorted union of their
        m/z grids, a scan counting as zero outside its range and inside its
        gaps (steps > 4x the neighbouring sampling step, as left by
        zero-suppressing instruments), then added point by point.
    ms_level
        MS level used by ``time`` and ``scans``.

    Raises
    ------
    SpectrumFormatError
        Bad content, a scan out of range, no scan of that level, or mixed
        profile and centroid scans in a combination.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.mzML"
    >>> write_mzml([Spectrum([1.0, 2.0], [1.0, k], {"rt_min": k}) for k in (1.0, 2.0)], p)
    >>> read(p, time=1.9).rt_min, read(p, scans=(0, 1)).intensity.tolist()
    (2.0, [2.0, 3.0])
    """
    p = Path(path)
    given = sum(x is not None for x in (scan, time, scans))
    if given > 1:
        raise ValueError("give at most one of scan=, time= and scans=")
    if combine not in ("sum", "mean"):
        raise ValueError(f"combine must be 'sum' or 'mean', got {combine!r}")
    if time is not None:
        best: Spectrum | None = None
        for s in iter_scans(p):
            if (s.ms_level or 1) == ms_level and s.rt_min is not None:
                if best is None or abs(s.rt_min - time) < abs((best.rt_min or 0.0) - time):
                    best = s
        if best is None:
            raise SpectrumFormatError(f"{p}: no MS{ms_level} scan with a retention time")
        return best
    if scans is not None:
        lo, hi = int(scans[0]), int(scans[1])
        if lo > hi or lo < 0:
            raise ValueError(f"scans must be (first, last) with 0 <= first <= last, got {scans}")
        picked, n = [], 0
        for s in iter_scans(p):
            n += 1
            i = int(s.metadata.get("index", n - 1))
            if lo <= i <= hi and (s.ms_level or 1) == ms_level:
                picked.append(s)
            if i >= hi:
                break
        if hi >= n and not picked:
            raise SpectrumFormatError(f"{p}: scan range {lo}-{hi} out of range ({n} scans)")
        if not picked:
            raise SpectrumFormatError(f"{p}: no MS{ms_level} scan in range {lo}-{hi}")
        return _combine(picked, combine, p)
    n = 0
    for s in iter_scans(p):
        n += 1
        if scan is None or (isinstance(scan, str) and s.metadata.get("id") == scan):
            return s
        if not isinstance(scan, str) and s.metadata.get("index", n - 1) == scan:
            return s
    what = f"scan id {scan!r} not found" if isinstance(scan, str) else f"scan {scan} out of range"
    raise SpectrumFormatError(f"{p}: {what} (the file holds {n} scans, 0-{n - 1})")


def _resample(s: Spectrum, grid: np.ndarray) -> np.ndarray:
    if len(s) < 2:
        return np.where(np.isin(grid, s.mz), s.intensity[0] if len(s) else 0.0, 0.0)
    y = np.interp(grid, s.mz, s.intensity, left=0.0, right=0.0)
    step = np.diff(s.mz)
    j = np.clip(np.searchsorted(s.mz, grid, side="right"), 1, len(s) - 1)  # interval j-1..j
    width = step[j - 1]
    before = step[np.clip(j - 2, 0, None)]
    after = step[np.clip(j, None, len(step) - 1)]
    gap = width > 4.0 * np.minimum(before, after)
    inside = (grid > s.mz[j - 1]) & (grid < s.mz[j])
    y[gap & inside] = 0.0
    return y


def _combine(spectra: list[Spectrum], how: str, path: Path) -> Spectrum:
    first = spectra[0]
    kinds = {s.centroided for s in spectra}
    if len(kinds) > 1:
        raise SpectrumFormatError(f"{path}: cannot combine profile and centroid scans")
    md = dict(first.metadata)
    md["combined_scans"] = [s.metadata.get("index") for s in spectra]
    times = [s.rt_min for s in spectra if s.rt_min is not None]
    if times:
        md["rt_min"] = float(np.mean(times))
    if len(spectra) == 1:
        return Spectrum(first.mz, first.intensity, md)
    if first.centroided:
        mz = np.concatenate([s.mz for s in spectra])
        y = np.concatenate([s.intensity for s in spectra])
        order = np.argsort(mz, kind="stable")
        mz, y = mz[order], y[order]
        new = np.concatenate([[True], np.diff(mz) > 1e-6 * mz[1:]])
        starts = np.flatnonzero(new)
        tot = np.add.reduceat(y, starts)
        wmz = np.add.reduceat(mz * y, starts)
        cmz = np.where(tot > 0, wmz / np.where(tot > 0, tot, 1.0), mz[starts])
        out_mz, out_y = cmz, tot
    else:
        out_mz = np.unique(np.concatenate([s.mz for s in spectra]))
        out_y = np.sum([_resample(s, out_mz) for s in spectra], axis=0)
    if how == "mean":
        out_y = out_y / len(spectra)
    return Spectrum.from_unsorted(out_mz, out_y, md)


# ---------------------------------------------------------------------------- writers
def write_csv(
    spectrum: Spectrum, path: PathLike, /, *, delimiter: str = ",", header: bool = True
) -> None:
    """Write a spectrum as two columns (m/z, intensity), atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> write_csv(Spectrum([100.0, 101.0], [1.0, 2.5]), p)
    >>> p.read_text().splitlines()
    ['mz,intensity', '100.0,1.0', '101.0,2.5']
    """
    rows = "\n".join(
        f"{x!r}{delimiter}{y!r}"
        for x, y in zip(spectrum.mz.tolist(), spectrum.intensity.tolist(), strict=True)
    )
    text = (f"mz{delimiter}intensity\n" if header else "") + rows + ("\n" if rows else "")
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _cv(acc: str, name: str, value: Any = "", unit: tuple[str, str, str] | None = None) -> str:
    u = ""
    if unit is not None:
        u = f' unitCvRef="{unit[0]}" unitAccession="{unit[1]}" unitName="{unit[2]}"'
    return f'<cvParam cvRef="MS" accession="{acc}" name="{name}" value={quoteattr(str(value))}{u}/>'


def _binary(values: np.ndarray, acc: str, name: str, unit: tuple[str, str, str]) -> str:
    data = base64.b64encode(zlib.compress(values.astype("<f8").tobytes())).decode("ascii")
    return (
        f'<binaryDataArray encodedLength="{len(data)}">'
        + _cv("MS:1000523", "64-bit float")
        + _cv("MS:1000574", "zlib compression")
        + _cv(acc, name, "", unit)
        + f"<binary>{data}</binary></binaryDataArray>"
    )


_MZ_UNIT = ("MS", "MS:1000040", "m/z")
_COUNTS_UNIT = ("MS", "MS:1000131", "number of detector counts")
_MINUTE = ("UO", "UO:0000031", "minute")


def _spectrum_xml(s: Spectrum, index: int, sid: str) -> str:
    md = s.metadata
    level = int(md.get("ms_level") or 1)
    parts = [f'<spectrum index="{index}" id={quoteattr(sid)} defaultArrayLength="{len(s)}">']
    parts.append(_cv("MS:1000511", "ms level", level))
    parts.append(
        _cv("MS:1000579", "MS1 spectrum") if level == 1 else _cv("MS:1000580", "MSn spectrum")
    )
    if md.get("centroided") is True:
        parts.append(_cv("MS:1000127", "centroid spectrum"))
    else:
        parts.append(_cv("MS:1000128", "profile spectrum"))
    pol = md.get("polarity")
    if pol in ("positive", "negative"):
        acc = "MS:1000130" if pol == "positive" else "MS:1000129"
        parts.append(_cv(acc, f"{pol} scan"))
    bp_mz, bp_int = s.base_peak
    parts.append(_cv("MS:1000285", "total ion current", repr(s.tic)))
    if len(s):
        parts.append(_cv("MS:1000504", "base peak m/z", repr(bp_mz), _MZ_UNIT))
        parts.append(_cv("MS:1000505", "base peak intensity", repr(bp_int), _COUNTS_UNIT))
    parts.append('<scanList count="1">' + _cv("MS:1000795", "no combination") + "<scan>")
    if md.get("rt_min") is not None:
        parts.append(_cv("MS:1000016", "scan start time", repr(float(md["rt_min"])), _MINUTE))
    parts.append("</scan></scanList>")
    if md.get("precursor_mz") is not None:
        ion = _cv("MS:1000744", "selected ion m/z", repr(float(md["precursor_mz"])), _MZ_UNIT)
        if md.get("precursor_charge") is not None:
            ion += _cv("MS:1000041", "charge state", int(md["precursor_charge"]))
        parts.append(
            '<precursorList count="1"><precursor><selectedIonList count="1"><selectedIon>'
            + ion
            + "</selectedIon></selectedIonList><activation>"
            + _cv("MS:1000133", "collision-induced dissociation")
            + "</activation></precursor></precursorList>"
        )
    parts.append('<binaryDataArrayList count="2">')
    parts.append(_binary(s.mz, "MS:1000514", "m/z array", _MZ_UNIT))
    parts.append(_binary(s.intensity, "MS:1000515", "intensity array", _COUNTS_UNIT))
    parts.append("</binaryDataArrayList></spectrum>\n")
    return "".join(parts)


def write_mzml(spectra: Iterable[Spectrum], path: PathLike, /) -> None:
    """Write spectra as an indexed mzML 1.1 file, atomically.

    Each spectrum keeps its MS level, profile/centroid flag, polarity, scan
    start time (minutes) and precursor (m/z, charge) from its metadata; arrays
    are stored as 64-bit floats, zlib-compressed. Scans are numbered in order
    (``id="scan=1"``, ...). The file carries an offset index and a SHA-1
    checksum, and reads back with :func:`read`, pyteomics or ProteoWizard.

    Parameters
    ----------
    spectra
        Spectra in acquisition order (e.g. a simulated time course).
    path
        Target file; written via a temporary file and renamed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "one.mzML"
    >>> write_mzml([Spectrum([500.0, 500.5], [3.0, 4.0], {"rt_min": 1.5})], p)
    >>> s = read(p)
    >>> s.intensity.tolist(), s.rt_min, s.ms_level
    ([3.0, 4.0], 1.5, 1)
    """
    items = list(spectra)
    levels = {int(s.metadata.get("ms_level") or 1) for s in items}
    content = _cv("MS:1000579", "MS1 spectrum") if 1 in levels else ""
    content += _cv("MS:1000580", "MSn spectrum") if levels - {1} else ""
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<indexedmzML xmlns="http://psi.hupo.org/ms/mzml" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://psi.hupo.org/ms/mzml '
        'http://psidev.info/files/ms/mzML/xsd/mzML1.1.2_idx.xsd">\n'
        '<mzML xmlns="http://psi.hupo.org/ms/mzml" version="1.1.0">\n'
        '<cvList count="2">'
        '<cv id="MS" fullName="Proteomics Standards Initiative Mass Spectrometry Ontology" '
        'version="4.1.0" URI="https://raw.githubusercontent.com/HUPO-PSI/psi-ms-CV/master/psi-ms.obo"/>'
        '<cv id="UO" fullName="Unit Ontology" version="09:04:2014" '
        'URI="https://raw.githubusercontent.com/bio-ontology-research-group/unit-ontology/master/unit.obo"/>'
        "</cvList>\n"
        f"<fileDescription><fileContent>{content}</fileContent></fileDescription>\n"
        f'<softwareList count="1"><software id="nanoalloy" version="{__version__}">'
        + _cv("MS:1000799", "custom unreleased software tool", "nanoalloy")
        + "</software></softwareList>\n"
        '<instrumentConfigurationList count="1"><instrumentConfiguration id="IC1">'
        + _cv("MS:1000031", "instrument model")
        + "</instrumentConfiguration></instrumentConfigurationList>\n"
        '<dataProcessingList count="1"><dataProcessing id="DP1">'
        '<processingMethod order="1" softwareRef="nanoalloy">'
        + _cv("MS:1000544", "Conversion to mzML")
        + "</processingMethod></dataProcessing></dataProcessingList>\n"
        '<run id="run1" defaultInstrumentConfigurationRef="IC1">\n'
        f'<spectrumList count="{len(items)}" defaultDataProcessingRef="DP1">\n'
    )
    chunks = [head.encode("utf-8")]
    pos = len(chunks[0])
    offsets: list[tuple[str, int]] = []
    for i, s in enumerate(items):
        sid = f"scan={i + 1}"
        b = _spectrum_xml(s, i, sid).encode("utf-8")
        offsets.append((sid, pos))
        chunks.append(b)
        pos += len(b)
    tail = b"</spectrumList>\n</run>\n</mzML>\n"
    chunks.append(tail)
    pos += len(tail)
    index = (
        '<indexList count="1">\n<index name="spectrum">\n'
        + "".join(f"<offset idRef={quoteattr(sid)}>{off}</offset>\n" for sid, off in offsets)
        + "</index>\n</indexList>\n"
    ).encode("utf-8")
    chunks.append(index)
    chunks.append(f"<indexListOffset>{pos}</indexListOffset>\n<fileChecksum>".encode())
    body = b"".join(chunks)
    digest = hashlib.sha1(body, usedforsecurity=False).hexdigest()
    with atomic_file(path) as tmp:
        tmp.write_bytes(body + f"{digest}</fileChecksum>\n</indexedmzML>\n".encode())
