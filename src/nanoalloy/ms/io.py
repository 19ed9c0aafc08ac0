"""Reading and writing spectrum files.

Formats: mzML and mzXML (parsed with pyteomics, streamed scan by scan), and
text exports: two or more numeric columns separated by commas, tabs, semicolons
or spaces, with or without header lines, including Thermo Xcalibur exports
("SPECTRUM - MS", "Scan #: 1", "Mass Intensity" ...; several blocks become
several scans). The format is sniffed from the content; a known extension that
contradicts the content is an error.

Text is parsed by pandas' C parser. The m/z and intensity columns come from
``columns=`` (``--columns``), else from the header names (several languages),
else from the content (a point-index column is ignored; m/z is the strictly
increasing column); still ambiguous is an error naming ``--columns``. Decimal
commas and thousands separators are detected on the data and passed to the
parser. m/z must be positive and at most :data:`MZ_MAX`. Negative intensities
down to :data:`NEGATIVE_CLIP` of the largest (noise around a subtracted
baseline) are set to 0 and counted in the metadata (``clipped_negative``); more
negative ones are refused, in every format. mzML/mzXML files must
be complete (closing tag; for indexed mzML the index offsets and the SHA-1
checksum are verified) before any scan is returned. Every problem is a
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
parse_columns
    Parse a ``--columns MZ,INTENSITY`` value.
check_regular_file
    Refuse folders, named pipes and devices at once.
release_memory
    Collect cycles and return freed heap to the system after large steps.
MZ_MAX
    Largest m/z accepted (1e6).
NEGATIVE_CLIP
    Share of the largest intensity down to which negative values are set to 0 (0.05).
NEGATIVE_SIGMA
    ... or multiple of the noise (6).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import stat
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import quoteattr

import numpy as np

from .._version import __version__
from ..errors import SpectrumFormatError, UsageError
from ..output import atomic_file
from .spectrum import ScanInfo, Spectrum

__all__ = [
    "iter_scans",
    "list_scans",
    "read",
    "read_series",
    "scan_holds_data",
    "write_csv",
    "write_mzml",
]

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
def check_regular_file(path: PathLike, error: type[Exception] = SpectrumFormatError, /) -> None:
    """Refuse, at once, anything but a regular file (a folder, a named pipe, a device).

    Opening a named pipe blocks until a writer appears; a device may never end.
    A missing file raises :class:`FileNotFoundError`.

    Examples
    --------
    >>> import tempfile
    >>> check_regular_file(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    nanoalloy.errors.SpectrumFormatError: ...: is a folder, not a file
    """
    st = os.stat(path)
    if stat.S_ISREG(st.st_mode):
        return
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{path}: is a folder, not a file")
    kind = (
        "a named pipe (FIFO)"
        if stat.S_ISFIFO(st.st_mode)
        else "a device"
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
        else "a socket"
        if stat.S_ISSOCK(st.st_mode)
        else "not a regular file"
    )
    raise error(f"{path}: is {kind}, not a regular file; save the data to a file first")


_PACKED = (
    (b"\x1f\x8b", "gzip-compressed: decompress it first (gunzip FILE, or 7-Zip)"),
    (b"PK\x03\x04", "a ZIP archive: extract the spectrum file from it first"),
    (b"PK\x05\x06", "an empty ZIP archive, not a spectrum file"),
    (b"BZh", "bzip2-compressed: decompress it first (bunzip2 FILE)"),
    (b"\xfd7zXZ\x00", "xz-compressed: decompress it first (unxz FILE)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive: extract the spectrum file from it first"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed: decompress it first (unzstd FILE)"),
    (b"\x01\xa1F\x00i\x00n\x00n\x00i\x00g\x00a\x00n\x00",
     "a Thermo .raw file: convert it to mzML first (msconvert, or ThermoRawFileParser)"),
)  # fmt: skip


def _packed_kind(head: bytes) -> str | None:
    """What a compressed, archived, vendor-binary or UTF-16/32 file is (None: none of these)."""
    for magic, what in _PACKED:
        if head.startswith(magic):
            return what
    utf16 = "UTF-16 text: save it as UTF-8 (or plain ASCII) text, e.g. Notepad's 'Save as' > UTF-8"
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return utf16.replace("UTF-16", "UTF-32")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return utf16
    # UTF-16 without a byte-order mark: text with every other byte zero
    even, odd = head[0::2], head[1::2]
    if len(head) >= 8 and (even.count(0) >= 0.9 * len(even) or odd.count(0) >= 0.9 * len(odd)):
        other = odd if even.count(0) > odd.count(0) else even
        if all(9 <= b < 127 for b in other if b):
            return utf16
    return None


def _sniff(path: Path) -> Format:
    """Decide the format from the content; check it against a known extension."""
    check_regular_file(path, SpectrumFormatError)
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if not head.strip():
        raise SpectrumFormatError(f"{path}: empty file")
    if what := _packed_kind(head):
        if head.startswith(b"PK\x03\x04") and (
            b"xl/" in head or path.suffix.lower() in (".xlsx", ".xlsm")
        ):
            what = (
                "an Excel workbook (.xlsx), not a text table: save the sheet as CSV "
                "(File > Save As > CSV) and read that"
            )
        raise SpectrumFormatError(f"{path}: {what}")
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
        if re.search(r"^\s*BEGIN IONS\s*$", text, re.M):
            raise SpectrumFormatError(
                f"{path}: an MGF peak list (centroided MS/MS), which is not read: export the "
                "profile spectrum as mzML, mzXML or a two-column text table"
            )
    expected = _EXTENSIONS.get(path.suffix.lower())
    if expected is not None and expected != found:
        raise SpectrumFormatError(
            f"{path}: extension {path.suffix!r} says {expected}, but the content is {found}"
        )
    return found


# ---------------------------------------------------------------------------- mzML / mzXML
@contextlib.contextmanager
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


def _scatter(y: np.ndarray) -> float:
    """Robust sd of the noise: the median absolute deviation of point-to-point differences.

    Not :func:`~nanoalloy.ms.peaks.noise_level`: that one reads a validated spectrum and
    skips every point at or below 0, the very points judged here."""
    if y.size < 8:
        return 0.0
    d = np.diff(y)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def _clip_negative(
    inten: np.ndarray, md: dict[str, Any], path: Path, where: Callable[[int], str], fix: str
) -> np.ndarray:
    """``inten`` with baseline noise below zero set to 0 (a new array), counted in ``md``.

    Negative values no lower than :data:`NEGATIVE_CLIP` times the largest intensity,
    or than :data:`NEGATIVE_SIGMA` times the noise (the point-to-point scatter, robust:
    a weak spectrum's read noise of 4 counts under an apex of 200 gave -13.5, 7 % of
    it), are noise around a subtracted baseline; a more negative value is refused with
    one line naming the point and ``fix``.
    """
    neg = inten < 0
    if not neg.any():
        return inten
    r = int(np.argmin(inten))
    top = float(inten.max())
    if top > 0 and (
        inten[r] >= -NEGATIVE_CLIP * top or inten[r] >= -NEGATIVE_SIGMA * _scatter(inten)
    ):
        from .peaks import difference_noise

        md["clipped_negative"] = int(np.count_nonzero(neg))
        clipped = np.where(neg, 0.0, inten)
        # how much the noise of the values as read exceeds its estimate on the clipped ones
        # (about twice; assign's notes compare residuals with the noise so restored). A
        # ratio, not the noise itself: it holds when the intensities are rescaled
        held = difference_noise(clipped)
        if held > 0:
            md["clipped_noise_ratio"] = difference_noise(inten) / held
        return clipped
    share = (
        f"{-inten[r] / top:.0%} of the largest intensity {top:g}"
        if top > 0
        else "and no positive intensity"
    )
    raise SpectrumFormatError(
        f"{path}: {where(r)}: negative intensity {inten[r]:g} ({share}; only baseline noise "
        f"down to -{NEGATIVE_CLIP:.0%} of the largest or -{NEGATIVE_SIGMA:g} times the noise is "
        f"set to 0): {fix}"
    )


def _make(mz: Any, inten: Any, md: dict[str, Any], path: Path) -> Spectrum:
    if isinstance(inten, np.ndarray) and inten.dtype.kind in "fiu" and inten.ndim == 1:
        if np.isfinite(inten).all():  # non-finite values: Spectrum's own message
            inten = _clip_negative(
                inten,
                md,
                path,
                lambda i: f"scan {md.get('index')}, point {i}",
                "is this array an intensity? (a difference or processed spectrum "
                "cannot be assigned; export the raw intensities)",
            )
    if (
        isinstance(mz, np.ndarray)
        and isinstance(inten, np.ndarray)
        and mz.ndim == inten.ndim == 1
        and mz.size == inten.size > 1
        and mz[0] > mz[-1]  # (O(1) for the usual ascending arrays: no diff over 10^7 points)
        and (np.diff(mz) < 0).all()
    ):
        # written from high to low m/z, as text exports are turned round (see _read_block)
        mz, inten = mz[::-1].copy(), inten[::-1].copy()
        md["reversed"] = True
    try:
        if (
            isinstance(mz, np.ndarray)
            and isinstance(inten, np.ndarray)
            and mz.dtype == np.float64
            and inten.dtype == np.float64
            and mz.flags.c_contiguous
            and inten.flags.c_contiguous
            and mz.flags.writeable
            and inten.flags.writeable
            and mz.base is None
            and inten.base is None
        ):
            s = Spectrum._adopt(mz, inten, md)  # fresh arrays of this reader: no copy
        else:
            s = Spectrum(mz, inten, md)
    except SpectrumFormatError as exc:
        raise SpectrumFormatError(f"{path}: scan {md.get('index')}: {exc}") from None
    _check_mz(s.mz, path, lambda i: f"scan {md.get('index')}, point {i}")
    return s


def _iter_xml(path: Path, fmt: Format) -> Iterator[Spectrum]:
    from lxml import etree

    with _quiet_psims():
        from pyteomics import mzml, mzxml
        from pyteomics.auxiliary import PyteomicsError

    _verify_complete(path, fmt)
    if fmt == "mzml":
        _check_numpress(path)
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


_NUMPRESS = re.compile(rb'accession="MS:100231[234]"')


def _check_numpress(path: Path) -> None:
    """Refuse MS-Numpress arrays (MS:1002312-1002314) when no decoder is installed: read as
    plain numbers they are noise ("malformed", or a non-finite value)."""
    with path.open("rb") as fh:
        head = fh.read(4 << 20)
    if _NUMPRESS.search(head) is None:
        return
    try:
        import pynumpress  # noqa: F401
    except ImportError:
        raise SpectrumFormatError(
            f"{path}: its arrays are MS-Numpress compressed, which needs the pynumpress "
            "package (pip install pynumpress); or convert the file without Numpress "
            "(msconvert: leave out --numpressLinear/--numpressPic/--numpressSlof)"
        ) from None


@lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def release_memory() -> None:
    """Collect reference cycles and give freed heap back to the system (glibc ``malloc_trim``).

    Called after reading a large file and by ``nanoalloy assign`` between the
    fit and the output, so that each step's peak does not sit on the heap that
    the previous step freed but glibc kept.

    pyteomics' reader and lxml's parser sit in a reference cycle that holds the
    last scan's decoded buffers (~300 MB for a 10-million-point scan) until
    the cyclic collector runs; glibc then keeps the freed heap. Every later
    step of ``assign`` would otherwise carry both in its resident size.
    """
    import gc

    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _verify_complete(path: Path, fmt: Format) -> None:
    """Refuse an mzML/mzXML file cut short or altered, before any scan is read.

    The file must end with its closing tag. An indexed mzML must have its
    ``indexListOffset`` pointing at ``<indexList``, every spectrum offset
    pointing at a ``<spectrum`` element, and, where a ``fileChecksum`` is
    present, a matching SHA-1 of the bytes up to and including ``<fileChecksum>``
    (mzXML: ``<sha1>``, same rule).
    """
    name = "mzML" if fmt == "mzml" else "mzXML"
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 4096))
        tail = fh.read()
        end = tail.rstrip()
        closing = (b"</mzML>", b"</indexedmzML>") if fmt == "mzml" else (b"</mzXML>",)
        if not end.endswith(closing):
            raise SpectrumFormatError(
                f"{path}: truncated {name}: the file ends before its closing "
                f"{closing[-1].decode()} tag (cut short while copying or writing?)"
            )
        base = size - len(tail)
        if fmt == "mzxml":
            _verify_sha1(fh, path, tail, base, b"sha1", name)
            return
        if not end.endswith(b"</indexedmzML>"):
            return
        m = re.search(rb"<indexListOffset>\s*(\d{1,15})\s*</indexListOffset>", tail)
        if m is not None:
            off = int(m.group(1))
            fh.seek(min(off, size))
            if not fh.read(64).lstrip().startswith(b"<indexList"):
                raise SpectrumFormatError(
                    f"{path}: damaged mzML: indexListOffset {off} does not point at <indexList> "
                    "(the file was altered or cut)"
                )
            fh.seek(off)
            index = fh.read(max(0, base + m.start() - off))
            part = re.search(rb'<index\s+name="spectrum"\s*>(.*?)</index>', index, re.S)
            offsets = rb"<offset\s+idRef=\"([^\"]*)\"[^>]*>\s*(\d{1,15})\s*</offset>"
            for om in re.finditer(offsets, part.group(1) if part else b""):
                fh.seek(int(om.group(2)))
                if not fh.read(64).lstrip().startswith(b"<spectrum"):
                    sid = om.group(1).decode(errors="replace")
                    raise SpectrumFormatError(
                        f"{path}: damaged mzML: the index offset of spectrum {sid!r} does not "
                        "point at a <spectrum> (the file was altered or cut)"
                    )
        _verify_sha1(fh, path, tail, base, b"fileChecksum", name)


def _verify_sha1(fh: Any, path: Path, tail: bytes, base: int, tag: bytes, name: str) -> None:
    """Compare the SHA-1 in ``<tag>`` with that of the bytes up to and including ``<tag>``."""
    c = re.search(rb"<" + tag + rb">\s*([0-9a-fA-F]{40})\s*</" + tag + rb">", tail)
    if c is None:
        return
    upto = base + c.start() + len(tag) + 2
    h = hashlib.sha1(usedforsecurity=False)
    fh.seek(0)
    left = upto
    while left > 0:
        chunk = fh.read(min(left, 1 << 22))
        if not chunk:
            break
        h.update(chunk)
        left -= len(chunk)
    if h.hexdigest().lower() != c.group(1).decode().lower():
        raise SpectrumFormatError(
            f"{path}: damaged {name}: SHA-1 checksum mismatch (the file was altered or "
            "damaged after it was written)"
        )


# ---------------------------------------------------------------------------- text
_BLOCK_START = re.compile(
    rb"^[ \t]*(?:SPECTRUM\b|Scan\s*#|Packet\s*#)", re.IGNORECASE | re.MULTILINE
)
_WORD_LINE = re.compile(rb"\n[ \t]*[A-Za-z]")
_THERMO_FILTER = re.compile(r"\b(?:FTMS|ITMS|TOF MS|MS)\s+([+-])\s+([pc])\b")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:nan|inf)$", re.I)
_WS_DECIMAL_COMMA = re.compile(r"^[+-]?(?:\d+(?:,\d+)?|,\d+)(?:[eE][+-]?\d+)?$")
_TOKEN_SPLIT = re.compile(r"[;\t, ]+")
_HAS_DATA = re.compile(rb"^[ \t]*[+-]?(?:\d|[.,]\d)", re.MULTILINE)
# decimal commas vs thousands separators, judged on the tokens of sample lines
_DEC_COMMA = re.compile(
    r"^[+-]?(?:\d*,\d{1,2}|\d*,\d{4,}|\d{4,},\d+|\d{1,3}(?:\.\d{3})+,\d*|,\d+)"
    r"(?:[eE][+-]?\d+)?$"
)
_DEC_COMMA_AMBIGUOUS = re.compile(r"^[+-]?\d{1,3},\d{3}$")
_THOUSANDS_COMMA = re.compile(
    r"^[+-]?\d{1,3}(?:,\d{3})+\.\d*(?:[eE][+-]?\d+)?$|^[+-]?\d{1,3}(?:,\d{3}){2,}$"
)
_THOUSANDS_DOT = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+,\d*$|^[+-]?\d{1,3}(?:\.\d{3}){2,}$")
_SPACE_GROUPED = re.compile(r"^[+-]?\d{1,3}(?: \d{3})+[.,]\d")
_PLAIN_DOT = re.compile(r"^[+-]?\d*\.\d+(?:[eE][+-]?\d+)?$")
_GROUPED_DOT = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?$")
# in decimal-comma data: every token holding a dot, to check that each is a thousands group
_DOTTED = re.compile(rb"[+-]?[\d,]*\.[\d.,]*")
_GROUPED_DOT_BYTES = re.compile(rb"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?")
_AMBIGUOUS_HINT = (
    "the number format is ambiguous: {a} reads as a decimal comma or a thousands comma, {b} "
    "as a thousands dot or a decimal dot; export with a decimal point and no thousands "
    "separators (or with ';' between the columns for a decimal comma)"
)

MZ_MAX = 1e6
"""Largest m/z the readers accept (anything above is a misread column or a corrupt file)."""

NEGATIVE_CLIP = 0.05
"""Negative intensities down to this share of the largest intensity are set to 0.

Baseline-subtracted exports scatter noise around zero (-0.003 when the maximum is
1); such points are clipped and counted in the metadata (``clipped_negative``).
Anything more negative is not noise (a wrong column, a difference spectrum) and
is refused.
"""

NEGATIVE_SIGMA = 6.0
"""... or down to this many times the noise (robust sd of the point-to-point scatter):
a weak spectrum's baseline noise reaches well beyond 5 % of its apex (read noise of 4
counts under 200), a difference spectrum or a wrong column goes far beyond both."""

# header names (lower case; units in parentheses or brackets are judged separately)
_MZ_WORDS = {
    "m/z",
    "mz",
    "m_z",
    "m z",
    "m/q",
    "x",
    "thompson",
    "thompsons",
    "th",
    "mass",
    "masses",
    "masse",
    "massa",
    "masa",
    "mass/charge",
    "mass-to-charge",
    "mass to charge",
    "masse/ladung",
    "masse/charge",
    "massa/carica",
    "masa/carga",
    "centroid m/z",
}
_INT_WORDS = {
    "intensity",
    "intensities",
    "int",
    "int.",
    "i",
    "y",
    "counts",
    "count",
    "abundance",
    "abundances",
    "signal",
    "height",
    "ion count",
    "ion counts",
    "relative intensity",
    "rel. int.",
    "rel. intensity",
    "relative abundance",
    "rel. abundance",
    "intensität",
    "intensitat",
    "intensitaet",
    "intensité",
    "intensite",
    "intensidad",
    "intensidade",
    "intensità",
    "intensita",
    "intensiteit",
    "intensywność",
    "häufigkeit",
    "haufigkeit",
    "abondance",
    "abundancia",
    "abundância",
    "abbondanza",
    "zählrate",
    "anzahl",
    "coups",
    "cuentas",
    "conteggi",
    "contagens",
}
_INDEX_WORDS = {
    "point",
    "points",
    "pt",
    "pt.",
    "index",
    "idx",
    "#",
    "no",
    "no.",
    "nr",
    "nr.",
    "n",
    "row",
    "punkt",
    "point #",
    "data point",
    "numero",
    "número",
    "num",
    "nummer",
    "id",
}
_MZ_UNITS = {"thompson", "thompsons", "th", "m/z", "da", "u"}
_INT_UNITS = {"counts", "count", "cps", "a.u.", "arb. units", "arbitrary units", "%", "coups"}


def _role(name: str) -> str | None:
    """``mz``, ``intensity``, ``index`` or None for a column header."""
    text = name.strip().strip("\"'").strip().lower()
    unit = ""
    if m := re.match(r"^(.*?)\s*[(\[](.*)[)\]]\s*$", text):
        text, unit = m.group(1).strip(), m.group(2).strip()
    if text in _INDEX_WORDS:
        return "index"
    if text in _MZ_WORDS or unit in _MZ_UNITS or "m/z" in text or "thomps" in text:
        return "mz"
    if (
        text in _INT_WORDS
        or unit in _INT_UNITS
        or any(w in text for w in ("intens", "abund", "count"))
    ):
        return "intensity"
    if text.startswith("mass"):
        return "mz"
    return None


def parse_columns(spec: str | Sequence[int | str] | None, /) -> tuple[int | str, int | str] | None:
    """Parse a ``--columns MZ,INTENSITY`` value: two 1-based numbers or header names.

    Examples
    --------
    >>> parse_columns("2,3"), parse_columns("X(Thompsons), Y(Counts)")
    ((2, 3), ('X(Thompsons)', 'Y(Counts)'))
    """
    if spec is None:
        return None
    parts: list[int | str]
    if isinstance(spec, str):
        raw = [p.strip() for p in spec.split(",")]
        parts = [int(p) if p.isdigit() else p for p in raw]
    else:
        parts = list(spec)
    if len(parts) != 2 or any(p in ("", 0) for p in parts):
        raise UsageError(
            f"--columns takes MZ,INTENSITY: two 1-based column numbers or header names, got {spec!r}"
        )
    for p in parts:
        if isinstance(p, int) and not 1 <= p <= 10_000:
            raise UsageError(f"--columns: column numbers start at 1, got {p}")
    return (parts[0], parts[1])


def _split(line: str) -> list[str]:
    return [p for p in _TOKEN_SPLIT.split(line.strip()) if p]


def _is_data_line(line: str) -> bool:
    tokens = [t.strip("\"'") for t in _split(line)]
    return bool(tokens) and all(_NUMBER.match(t) for t in tokens)


def _header_metadata(lines: list[str]) -> dict[str, Any]:
    md: dict[str, Any] = {}
    for line in lines:
        if m := re.search(r"Scan\s*#\s*:?\s*(\d{1,12})\b", line, re.I):
            md["id"] = m.group(1)
        if m := re.search(r"\bRT\s*:?\s*([0-9]{1,8}(?:\.[0-9]*)?)", line):
            md["rt_min"] = float(m.group(1))
        if m := _THERMO_FILTER.search(line):
            md["polarity"] = "positive" if m.group(1) == "+" else "negative"
            md["centroided"] = m.group(2) == "c"
            md["ms_level"] = int(ms.group(1)) if (ms := re.search(r"\bms(\d)\b", line)) else 1
    return md


def _dialect(path: Path, sample: list[str], first_line: int) -> tuple[str, str, str | None]:
    """(separator, decimal, thousands) of the data lines, judged on a sample of them."""
    if any("\t" in s for s in sample):
        sep = "\t"
    elif any(";" in s for s in sample):
        sep = ";"
    elif any("," in s for s in sample):
        ws = [s.split() for s in sample]
        comma_decimals = all(
            len(t) >= 2 and all(_WS_DECIMAL_COMMA.match(x) for x in t) for t in ws
        ) and any("," in s for s in sample)
        sep = r"\s+" if comma_decimals else ","
    else:
        sep = r"\s+"
    if sep == ",":
        quoted = [t.strip('"') for s in sample for t in re.findall(r'"[^"]*"', s)]
        if any(_THOUSANDS_COMMA.match(t) for t in quoted):
            return sep, ".", ","
        if any(_DEC_COMMA.match(t) for t in quoted):  # "1500,12","5678,9"
            return sep, ",", None
        # "2640.0000","1,252" (US Excel): beside a decimal dot, a quoted comma groups thousands
        if any(_DEC_COMMA_AMBIGUOUS.match(t) for t in quoted) and any(
            "." in t and not _GROUPED_DOT.match(t)
            for s in sample
            for t in _split(s.replace('"', " "))
        ):
            return sep, ".", ","
        return sep, ".", None
    if sep == r"\s+":
        # "1 500,12 5 678,9": thousands grouped by spaces cannot be told from column breaks;
        # such lines start with a short group that stays the same from line to line
        grouped = [s for s in sample if _SPACE_GROUPED.match(s.strip())]
        firsts = {s.split()[0] for s in grouped}
        if len(sample) >= 2 and len(grouped) == len(sample) and len(firsts) <= 2:
            raise SpectrumFormatError(
                f"{path}: line {first_line}: digits grouped by spaces ({sample[0].strip()[:30]!r}) "
                "cannot be told from column breaks; export without thousands separators"
            )
    # (quotes off: Excel in a decimal-comma locale writes "2640,0000";"1251,57")
    tokens = [t.strip().strip('"') for s in sample for t in re.split(sep, s.strip()) if t.strip()]
    dec_comma = [t for t in tokens if _DEC_COMMA.match(t)]
    th_comma = [t for t in tokens if _THOUSANDS_COMMA.match(t)]
    if dec_comma and th_comma:
        raise SpectrumFormatError(
            f"{path}: line {first_line}: mixes decimal commas ({dec_comma[0]!r}) and "
            f"thousands commas ({th_comma[0]!r})"
        )
    if dec_comma:
        dots = any(_THOUSANDS_DOT.match(t) for t in tokens)
        return sep, ",", "." if dots else None
    if th_comma:
        return sep, ".", ","
    if amb := [t for t in tokens if _DEC_COMMA_AMBIGUOUS.match(t)]:
        # '1,234' alone: a decimal comma; beside '1.5' (only a decimal dot) a thousands comma
        dotted = [t for t in tokens if "." in t]
        if any(not _GROUPED_DOT.match(t) for t in dotted):
            return sep, ".", ","
        if dotted:
            # '923,700' beside '1.823': both readings hold together; a ';' between the
            # columns is what a decimal-comma locale writes (Excel, German exports)
            if sep == ";":
                return sep, ",", "."
            raise SpectrumFormatError(
                f"{path}: line {first_line}: "
                + _AMBIGUOUS_HINT.format(a=repr(amb[0]), b=repr(dotted[0]))
            )
        return sep, ",", None
    return sep, ".", None


def _thousands_dots(
    path: Path, data: bytes, first_line: int, sep: str, thousands: str | None
) -> str | None:
    """Decimal-comma data: ``'.'`` when every dot in it groups thousands, else refuse.

    The dialect is judged on a sample of lines; a dot may first appear later
    (``1.005.683`` at line 6738). A dot that cannot be a thousands group (``2.5``)
    beside decimal commas mixes conventions and is refused, never read as 25.
    """
    if sep == "," or b"." not in data:
        return thousands
    for m in _DOTTED.finditer(data):
        if not _GROUPED_DOT_BYTES.fullmatch(m.group()):
            line = first_line + data.count(b"\n", 0, m.start())
            tok = m.group().decode("latin-1")
            raise SpectrumFormatError(
                f"{path}: line {line}: {tok!r} has a decimal dot in a file with decimal "
                "commas: the number format is mixed; export with one decimal mark and no "
                "thousands separators"
            )
    return "."


def _without_footer(data: bytes) -> bytes:
    """``data`` without its trailing "End ..." lines (an export's "End of spectrum" footer;
    any other line of words after the data is refused as the bad row it may be)."""
    end = len(data)
    for _ in range(FOOTER_LINES):
        stripped = data[:end].rstrip()
        if not stripped:
            break
        nl = stripped.rfind(b"\n")
        last = _decode(stripped[nl + 1 :]).strip()
        if not _FOOTER.match(last):
            break
        end = nl + 1
    return data[:end]


FOOTER_LINES = 5
"""Most trailing "End ..." lines dropped from a text export's data as its footer."""
_FOOTER = re.compile(r"^\W*end\b", re.IGNORECASE)  # "End of spectrum", "[END]", "END"


def _holds_data(piece: bytes) -> bool:
    """Whether a chunk of text holds a data line (not only a header line that starts with a
    digit, like a Thermo export's raw file name ``180523_GSH_neg.raw``)."""
    for m in _HAS_DATA.finditer(piece):
        end = piece.find(b"\n", m.start())
        line = _decode(piece[m.start() : len(piece) if end < 0 else end])
        if _is_data_line(line.split("#", 1)[0]):
            return True
    return False


def _text_blocks(text: bytes) -> Iterator[tuple[int, bytes]]:
    """(first line number, text) of each block; a block starts at a Thermo scan header."""
    # block starts are lines that begin with a word: find those first (fast), then match
    starts = [0] + [m.start() + 1 for m in _WORD_LINE.finditer(text)]
    cuts = [c for c in starts if _BLOCK_START.match(text, c)]
    bounds = [0, *[c for c in cuts if c > 0], len(text)]
    chunks = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
    start = 0
    line = 1
    for k, (_, end) in enumerate(chunks):
        piece = text[start:end]
        if k < len(chunks) - 1 and not _holds_data(piece):
            continue  # header-only chunk: joins the next block
        yield line, piece
        line += piece.count(b"\n")
        start = end


def _read_block(
    path: Path,
    block: bytes,
    first_line: int,
    index: int,
    columns: tuple[int | str, int | str] | None,
) -> Spectrum | None:
    import io as _io

    import pandas as pd

    header: list[str] = []
    commented = ""
    pos = 0
    lineno = first_line
    data_start = -1
    while pos < len(block):
        nl = block.find(b"\n", pos)
        end = len(block) if nl < 0 else nl + 1
        line = _decode(block[pos:end]).strip().lstrip("\ufeff")
        if line.startswith("#") and line.lstrip("#").strip():
            commented = line.lstrip("#").strip()  # "#Point,X(Thompsons),Y(Counts)" (Agilent)
        elif line:
            if _is_data_line(line.split("#", 1)[0]):
                data_start = pos
                break
            header.append(line)
        pos = end
        lineno += 1
    if data_start < 0:
        return None
    data = _without_footer(block[data_start:])
    if b"#" in data:  # comments: blank them, keeping one row per line
        data = re.sub(rb"#[^\n]*", b"", data)
    sample = [s for s in _decode(data[:20_000]).splitlines()[:200] if s.strip()]
    tail = [s for s in _decode(data[-2000:]).splitlines()[1:] if s.strip()]
    sep, decimal, thousands = _dialect(path, sample + tail, lineno)
    if decimal == ",":
        thousands = _thousands_dots(path, data, lineno, sep, thousands)
    try:
        df = pd.read_csv(
            _io.BytesIO(data),
            encoding="latin-1",  # numbers are ASCII; anything else is refused below
            sep=sep,
            header=None,
            decimal=decimal,
            thousands=thousands,
            skip_blank_lines=False,
            skipinitialspace=sep != r"\s+",
            engine="c",
            na_filter=True,
            keep_default_na=False,
            na_values=["", "nan", "NaN", "NAN", "NA", "N/A", "null", "-nan"],
            low_memory=False,
        )
    except pd.errors.ParserError as exc:
        msg = str(exc).strip()
        if m := re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg):
            bad = lineno + int(m.group(2)) - 1
            raise SpectrumFormatError(
                f"{path}: line {bad}: {m.group(3)} columns where the first data line has "
                f"{m.group(1)}"
            ) from None
        raise SpectrumFormatError(f"{path}: line {lineno}: unreadable table: {msg}") from None
    except (ValueError, OverflowError) as exc:
        raise SpectrumFormatError(f"{path}: unreadable table: {exc}") from None
    lines_of = _data_lines(data)

    def raw_line(row: int) -> str:
        return lines_of(row)

    empty = [c for c in range(df.shape[1]) if df.iloc[:, c].isna().all()]
    if empty and len(empty) < df.shape[1]:  # a trailing delimiter: "1500.1,5,"
        df = df.drop(columns=df.columns[empty])
    ncols = df.shape[1]
    blank = df.isna().all(axis=1).to_numpy()
    for c in range(ncols):
        col = df.iloc[:, c]
        if not pd.api.types.is_numeric_dtype(col.dtype):
            try:
                num = pd.to_numeric(col, errors="coerce")
            except OverflowError:  # an integer of hundreds of digits, kept as a Python int
                raise SpectrumFormatError(
                    f"{path}: column {c + 1}: a number too large for a float (above 1.8e308)"
                ) from None
            rows = np.flatnonzero((num.isna() & col.notna()).to_numpy())
            if rows.size == 0:  # every value a number in some other convention
                raise SpectrumFormatError(
                    f"{path}: column {c + 1}: numbers written with a decimal mark other than "
                    f"the file's ({decimal!r}); export with one decimal mark and no thousands "
                    "separators"
                )
            badrow = int(rows[0])
            text = raw_line(badrow).strip()
            what = f"expected {'two ' if ncols == 2 else ''}numbers, got {text[:40]!r}"
            raise SpectrumFormatError(f"{path}: line {lineno + badrow}: {what}")
    names: list[str] = []
    for last in ([header[-1]] if header else []) + ([commented] if commented else []):
        cand = [t.strip() for t in (re.split(sep, last.strip()) if sep != "," else last.split(","))]
        if empty and len(cand) == ncols + len(empty):
            cand = [t for c, t in enumerate(cand) if c not in empty]
        if len(cand) == ncols:
            names = cand
            break
    keep = np.flatnonzero(~blank)
    if keep.size == 0:
        return None
    all_rows = keep.size == len(df)
    values = [
        df.iloc[:, c].to_numpy(dtype=np.float64)
        if all_rows
        else df.iloc[:, c].to_numpy(np.float64)[keep]
        for c in range(ncols)
    ]
    del df
    row_line = lineno + keep
    if ncols < 2:
        raise SpectrumFormatError(
            f"{path}: line {int(row_line[0])}: one column only; expected m/z and intensity"
        )
    mz_c, int_c = _choose_columns(path, values, names, columns, int(row_line[0]))
    names_known = len(values) != 2 or any(_role(n) is not None for n in names)
    mz = np.ascontiguousarray(values[mz_c])
    inten = np.ascontiguousarray(values[int_c])
    del values
    for arr in (mz, inten):
        bad = ~np.isfinite(arr)
        if bad.any():
            r = int(np.argmax(bad))
            text = raw_line(int(keep[r])).strip()
            if len(_split(text)) < 2:
                raise SpectrumFormatError(
                    f"{path}: line {int(row_line[r])}: one column only; expected m/z and intensity"
                )
            raise SpectrumFormatError(
                f"{path}: line {int(row_line[r])}: non-finite value {text[:40]!r}"
            )
    md: dict[str, Any] = {"index": index, "id": str(index), "source": str(path)}
    inten = _clip_negative(
        inten,
        md,
        path,
        lambda r: f"line {int(row_line[r])}",
        "is this column the intensity? (choose columns with --columns MZ,INTENSITY; a "
        "difference or processed spectrum cannot be assigned: export the raw intensities)",
    )
    _check_mz(mz, path, lambda r: f"line {int(row_line[r])}")
    step = np.diff(mz)
    if step.size and (step < 0).all() and columns is None and not names_known:
        _refuse_intensity_sorted(path, mz, inten, int(row_line[0]))
    if step.size and (step < 0).all():
        # written from high to low m/z (some exports, a figure traced right to left):
        # nothing is lost by turning it round; anything else unsorted is refused below
        mz, inten, row_line = mz[::-1].copy(), inten[::-1].copy(), row_line[::-1]
        md["reversed"] = True
        step = np.diff(mz)
    if (step <= 0).any():
        k = int(np.argmax(step <= 0)) + 1
        what = "duplicate" if step[k - 1] == 0 else "unsorted"
        raise SpectrumFormatError(
            f"{path}: line {int(row_line[k])}: {what} m/z {mz[k]:.10g} after "
            f"{mz[k - 1]:.10g} (m/z must be strictly increasing)"
        )
    md |= _header_metadata(header)
    return _make(mz, inten, md, path)


def _data_lines(data: bytes) -> Callable[[int], str]:
    """A function: row number -> raw text of that line of ``data`` (computed on demand)."""

    def line(row: int) -> str:
        pos = 0
        for _ in range(row):
            pos = data.find(b"\n", pos) + 1
            if pos == 0:
                return ""
        end = data.find(b"\n", pos)
        return _decode(data[pos : None if end < 0 else end])

    return line


def _decode(raw: bytes) -> str:
    """UTF-8 text, else Latin-1 (exports from older Windows software)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _check_mz(mz: np.ndarray, path: Path, where: Callable[[int], str]) -> None:
    """Refuse m/z <= 0 or above :data:`MZ_MAX` (a misread column or a corrupt file)."""
    if not mz.size:
        return
    lo, hi = int(np.argmin(mz)), int(np.argmax(mz))
    if not mz[lo] > 0:
        raise SpectrumFormatError(
            f"{path}: {where(lo)}: m/z {mz[lo]:.10g} is not positive "
            "(is this column m/z? choose columns with --columns MZ,INTENSITY)"
        )
    if not mz[hi] <= MZ_MAX:
        raise SpectrumFormatError(
            f"{path}: {where(hi)}: m/z {mz[hi]:.6g} is absurd (above {MZ_MAX:g}; "
            "is this column m/z? choose columns with --columns MZ,INTENSITY)"
        )


def _monotone(col: np.ndarray) -> bool:
    """Strictly increasing, or strictly decreasing throughout."""
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: refused later, by line
        step = np.diff(col)
    return bool((step > 0).all() or (step < 0).all())


def _is_index(col: np.ndarray) -> bool:
    if col.size < 3 or col[0] not in (0.0, 1.0):
        return False
    return bool(np.all(np.diff(col) == 1.0))


def _refuse_intensity_sorted(path: Path, mz: np.ndarray, inten: np.ndarray, line: int) -> None:
    """Two unnamed columns, the first falling: m/z written high to low, or a peak list of
    intensity, m/z sorted by intensity (read as m/z, its intensities gave a base peak at
    m/z 88,666)? m/z spans the narrower range of the two: the intensity's spans decades."""
    lo = float(mz.min())
    if not (inten.min() > 0 and inten.max() <= MZ_MAX and np.unique(inten).size == inten.size):
        return  # a zero, a repeat or an absurd value: the second column is no m/z
    if lo > 0 and mz.max() / lo > 4 * float(inten.max() / inten.min()):
        raise SpectrumFormatError(
            f"{path}: line {line}: the first column falls from {mz.max():.6g} to {lo:.6g} and "
            f"the second ({inten.min():.6g}-{inten.max():.6g}) looks more like m/z: a peak list "
            "of intensity, m/z sorted by intensity? write it sorted by m/z (and --columns 2,1 "
            "for intensity first); --columns 1,2 reads m/z written from high to low"
        )


def _choose_columns(
    path: Path,
    values: list[np.ndarray],
    names: list[str],
    columns: tuple[int | str, int | str] | None,
    first_line: int,
) -> tuple[int, int]:
    """Which columns hold m/z and intensity: ``--columns``, header names, then content."""
    ncols = len(values)
    nrows = values[0].size
    shown = ", ".join(names) if names else f"{ncols} unnamed columns"
    fix = "choose them with --columns MZ,INTENSITY (1-based numbers or header names)"
    if columns is not None:
        picked: list[int] = []
        for c in columns:
            if isinstance(c, int):
                if not 1 <= c <= ncols:
                    raise SpectrumFormatError(
                        f"{path}: --columns {c}: the file has {ncols} columns ({shown})"
                    )
                picked.append(c - 1)
            else:
                low = [n.lower() for n in names]
                if c.strip().lower() not in low:
                    raise SpectrumFormatError(
                        f"{path}: --columns {c!r}: no such column header (headers: {shown})"
                    )
                picked.append(low.index(c.strip().lower()))
        if picked[0] == picked[1]:
            raise SpectrumFormatError(f"{path}: --columns names the same column twice")
        return picked[0], picked[1]
    roles = [_role(n) for n in names] if names else [None] * ncols
    cols = list(range(ncols))
    index = {c for c in cols if roles[c] == "index"}
    if ncols > 2:
        index |= {c for c in cols if roles[c] is None and _is_index(values[c])}
    rest = [c for c in cols if c not in index]
    mz_named = [c for c in rest if roles[c] == "mz"]
    int_named = [c for c in rest if roles[c] == "intensity"]
    # (or decreasing throughout: such a file is turned round)
    increasing = {c for c in rest if nrows < 2 or _monotone(values[c])}
    if len(mz_named) > 1 or len(int_named) > 1:
        raise SpectrumFormatError(
            f"{path}: line {first_line}: several columns could be "
            f"{'m/z' if len(mz_named) > 1 else 'intensity'} ({shown}); {fix}"
        )
    if mz_named and int_named:
        return mz_named[0], int_named[0]
    if len(rest) < 2:
        raise SpectrumFormatError(
            f"{path}: line {first_line}: needs an m/z and an intensity column beside the "
            f"point index ({shown}); {fix}"
        )
    if len(rest) == 2:
        if mz_named:
            return mz_named[0], next(c for c in rest if c != mz_named[0])
        if int_named:
            return next(c for c in rest if c != int_named[0]), int_named[0]
        if ncols == 2 and _is_index(values[0]) and 1 in increasing:
            raise SpectrumFormatError(
                f"{path}: line {first_line}: the first column looks like a point index and the "
                f"second like m/z: no intensity column? ({shown}); {fix}"
            )
        first, second = rest
        if (
            nrows >= 8
            and second in increasing
            and first not in increasing
            and values[second].min() > 0
            and values[second].max() <= MZ_MAX
        ):
            # intensity first, m/z second: m/z is the strictly increasing column
            return second, first
        return first, second
    if mz_named:
        mz_c = mz_named[0]
    else:
        cand = [c for c in rest if c in increasing and c not in int_named]
        if len(cand) != 1:
            raise SpectrumFormatError(
                f"{path}: line {first_line}: cannot tell which column is m/z ({shown}); {fix}"
            )
        mz_c = cand[0]
    if int_named:
        return mz_c, int_named[0]
    others = [c for c in rest if c != mz_c and np.ptp(values[c]) > 0]
    if len(others) != 1:
        raise SpectrumFormatError(
            f"{path}: line {first_line}: cannot tell which column is the intensity ({shown}); {fix}"
        )
    return mz_c, others[0]


def _iter_text(
    path: Path, columns: tuple[int | str, int | str] | None = None
) -> Iterator[Spectrum]:
    """Blocks of numeric rows read by pandas' C parser; header lines become metadata."""
    text = path.read_bytes()
    if text.startswith(b"\xef\xbb\xbf"):
        text = text[3:]
    if b"\r" in text:
        text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    index = 0
    for first_line, block in _text_blocks(text):
        s = _read_block(path, block, first_line, index, columns)
        if s is None:
            continue
        yield s
        index += 1
    if index == 0:
        raise SpectrumFormatError(f"{path}: no numeric m/z-intensity rows found")


# ---------------------------------------------------------------------------- public readers
Columns = str | Sequence[int | str] | None


def scan_holds_data(spectrum: Spectrum, ms_level: int = 1, /) -> bool:
    """Whether a scan is one of level ``ms_level`` (MS1 when unrecorded) holding data: a
    point above zero (not empty, nor a blank of zeros before the spray settled).

    >>> blank, kept = Spectrum([1.0, 2.0], [0.0, 0.0]), Spectrum([1.0, 2.0], [0.0, 3.0])
    >>> scan_holds_data(blank), scan_holds_data(kept)
    (False, True)
    """
    return (spectrum.ms_level or 1) == ms_level and bool(np.any(spectrum.intensity > 0))


def iter_scans(path: PathLike, /, *, columns: Columns = None) -> Iterator[Spectrum]:
    """Yield the scans of a file one at a time, in file order.

    mzML and mzXML are parsed incrementally (pyteomics over lxml iterparse),
    so memory stays bounded by one scan. Text files yield one spectrum per
    block (one for a plain two-column file).

    Parameters
    ----------
    path
        mzML, mzXML or text file.
    columns
        Text files only: the m/z and intensity columns, as ``"MZ,INTENSITY"``
        (1-based numbers or header names) or a pair. Default: inferred from
        the header names (m/z, X, Thompsons, Mass, Intensity, Counts, Y,
        Abundance, ... in English, German, French, Spanish, Italian,
        Portuguese, Dutch), then from the content (a point-index column is
        ignored; the m/z column is the strictly increasing one); refused
        when still ambiguous. A file written from high to low m/z (strictly
        decreasing throughout) is turned round (metadata ``reversed``); any
        other unsorted or repeated m/z is refused.

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
    cols = parse_columns(columns)
    fmt = _sniff(p)
    if fmt == "text":
        yield from _iter_text(p, cols)
    else:
        yield from _iter_xml(p, fmt)


def list_scans(path: PathLike, /, *, columns: Columns = None) -> list[ScanInfo]:
    """Summarise every scan of a file (streams through it once).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.txt"
    >>> _ = p.write_text("100 1\\n101 2\\n")
    >>> list_scans(p)[0].base_peak_mz
    101.0
    """
    return [ScanInfo.from_spectrum(s) for s in iter_scans(path, columns=columns)]


def read_series(path: PathLike, /, *, ms_level: int = 1, columns: Columns = None) -> list[Spectrum]:
    """Every scan of one MS level (default MS1) with its time: a time course.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.mzML"
    >>> write_mzml([Spectrum([1.0, 2.0], [1.0, 0.0], {"rt_min": t}) for t in (0.5, 1.0)], p)
    >>> [s.rt_min for s in read_series(p)]
    [0.5, 1.0]
    """
    return [s for s in iter_scans(path, columns=columns) if (s.ms_level or 1) == ms_level]


def read(
    path: PathLike,
    /,
    *,
    scan: int | str | None = None,
    time: float | None = None,
    scans: tuple[int, int] | None = None,
    combine: Literal["sum", "mean"] = "sum",
    ms_level: int = 1,
    columns: Columns = None,
) -> Spectrum:
    """Read one spectrum from a file.

    Parameters
    ----------
    path
        mzML, mzXML or text file (format sniffed from the content).
    scan
        0-based scan index (int) or native id (str). Default: the first ``ms_level`` scan
        holding data (else the first scan).
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
    columns
        Text files: m/z and intensity columns (see :func:`iter_scans`).

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
    try:
        return _read(
            path, scan=scan, time=time, scans=scans, combine=combine, ms_level=ms_level,
            columns=columns,
        )  # fmt: skip
    finally:
        with contextlib.suppress(OSError, ValueError):
            if os.path.getsize(path) > 8 << 20 and _sniff(Path(path)) != "text":
                release_memory()


def _read(
    path: PathLike,
    /,
    *,
    scan: int | str | None = None,
    time: float | None = None,
    scans: tuple[int, int] | None = None,
    combine: Literal["sum", "mean"] = "sum",
    ms_level: int = 1,
    columns: Columns = None,
) -> Spectrum:
    """:func:`read` without the memory release (same parameters)."""
    p = Path(path)
    given = sum(x is not None for x in (scan, time, scans))
    if given > 1:
        raise ValueError("give at most one of scan=, time= and scans=")
    if combine not in ("sum", "mean"):
        raise ValueError(f"combine must be 'sum' or 'mean', got {combine!r}")
    if time is not None:
        best: Spectrum | None = None
        for s in iter_scans(p, columns=columns):
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
        for s in iter_scans(p, columns=columns):
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
    first: Spectrum | None = None
    for s in iter_scans(p, columns=columns):
        n += 1
        if scan is None:
            # the first MS1 scan holding data, not an MS2 or empty scan that happens to lead
            # (a DDA run can start with either; --scan picks any); a scan of zeros (a
            # blank before the spray settled) holds none
            first = s if first is None else first
            if scan_holds_data(s, ms_level):
                return s
            continue
        if isinstance(scan, str) and s.metadata.get("id") == scan:
            return s
        if not isinstance(scan, str) and s.metadata.get("index", n - 1) == scan:
            return s
    if n == 0:  # "scan None out of range (the file holds 0 scans, 0--1)"
        raise SpectrumFormatError(f"{p}: the file holds no spectrum (0 scans)")
    if scan is None and first is not None:
        return first  # no MS1 scan with data: the first scan, refused downstream with its reason
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
    clipped = sum(int(s.metadata.get("clipped_negative", 0)) for s in spectra)
    if clipped:
        md["clipped_negative"] = clipped
    if len(spectra) > 1:  # (the noise of a sum or mean is not the first scan's)
        md.pop("clipped_noise_ratio", None)
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
