"""Tests of nanoalloy.ms.spectrum and nanoalloy.ms.io: readers, writers, bad input, the info CLI."""

from __future__ import annotations

import base64
import inspect
import json
import types
import zlib
from pathlib import Path

import numpy as np
import pytest

import nanoalloy.ms.io as nio
import nanoalloy.ms.spectrum as nspec
from nanoalloy.cli import main
from nanoalloy.errors import SpectrumFormatError
from nanoalloy.ms.peaks import noise_level
from nanoalloy.ms.spectrum import ScanInfo, Spectrum


def _profile(rng: np.random.Generator, n: int = 400) -> Spectrum:
    mz = np.sort(rng.uniform(1000, 1010, n))
    mz = np.unique(mz)
    return Spectrum(mz, rng.uniform(0, 1e4, mz.size))


# ----------------------------------------------------------------------------- Spectrum
def test_all_lists_sorted_and_true() -> None:
    for mod in (nio, nspec):
        assert list(mod.__all__) == sorted(mod.__all__)
        for name in mod.__all__:
            assert hasattr(mod, name), name


def test_spectrum_is_immutable_and_coerced() -> None:
    s = Spectrum([1, 2, 3], np.array([1, 2, 3], dtype=np.float32), {"ms_level": 1})
    assert s.mz.dtype == np.float64 and s.intensity.dtype == np.float64
    with pytest.raises(ValueError):
        s.mz[0] = 5.0
    with pytest.raises(AttributeError):
        s.mz = np.zeros(3)  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.metadata["ms_level"] = 2  # type: ignore[index]
    src = np.array([1.0, 2.0])
    s2 = Spectrum(src, [0.0, 1.0])
    src[0] = 99.0
    assert s2.mz[0] == 1.0


def test_spectrum_transforms_return_new_objects() -> None:
    s = Spectrum([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], {"rt_min": 2.0})
    assert s.crop(1.5, 3.0).mz.tolist() == [2.0, 3.0]
    assert s.scaled(0.5).intensity.tolist() == [0.5, 1.0, 2.0]
    assert s.with_mz([1.1, 2.1, 3.1]).rt_min == 2.0
    assert s.normalized().intensity.max() == 1.0
    assert s.with_metadata(ms_level=2).ms_level == 2 and s.ms_level is None
    assert s.base_peak == (3.0, 4.0) and s.tic == 7.0
    u = Spectrum.from_unsorted([3.0, 1.0, 3.0, 2.0], [1.0, 1.0, 2.0, 1.0])
    assert u.mz.tolist() == [1.0, 2.0, 3.0] and u.intensity.tolist() == [1.0, 1.0, 3.0]
    with pytest.raises(SpectrumFormatError, match="duplicate"):
        Spectrum.from_unsorted([1.0, 1.0], [1.0, 1.0], duplicates="error")


@pytest.mark.parametrize(
    ("mz", "inten", "message"),
    [
        ([1.0, 2.0], [1.0], "differ in length"),
        ([[1.0, 2.0]], [[1.0, 2.0]], "1-D"),
        ([1.0, np.nan], [1.0, 1.0], "non-finite"),
        ([1.0, 2.0], [1.0, np.inf], "non-finite"),
        ([1.0, 2.0], [1.0, -3.0], "negative intensity -3"),
        ([2.0, 1.0], [1.0, 1.0], "unsorted m/z at point 1"),
        ([1.0, 1.0], [1.0, 1.0], "duplicate m/z at point 1"),
        (["a", "b"], [1.0, 1.0], "not numbers"),
    ],
)
def test_spectrum_validation(mz: object, inten: object, message: str) -> None:
    with pytest.raises(SpectrumFormatError, match=message):
        Spectrum(mz, inten)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- real mzML
def test_real_file_lists_all_scans(real_file: Path) -> None:
    scans = nio.list_scans(real_file)
    assert len(scans) == 10
    assert [s.ms_level for s in scans] == [1, 1, 2, 1, 2, 2, 2, 1, 2, 2]
    assert [s.index for s in scans] == list(range(10))
    assert scans[0].id == "controllerType=0 controllerNumber=1 scan=559"
    assert scans[0].rt_min == pytest.approx(251.24056235202 / 60)
    assert scans[9].rt_min == pytest.approx(255.42667224 / 60)
    rts = [s.rt_min for s in scans]
    assert rts == sorted(rts)
    assert all(s.polarity == "positive" for s in scans)
    assert [s.centroided for s in scans if s.ms_level == 1] == [False] * 4
    assert [s.centroided for s in scans if s.ms_level == 2] == [True] * 6
    ms2 = [s for s in scans if s.ms_level == 2]
    assert [round(s.precursor_mz or 0, 2) for s in ms2] == [
        1225.61,
        1248.89,
        1521.26,
        1378.79,
        1369.04,
        1711.54,
    ]
    assert [s.precursor_charge for s in ms2] == [12, 12, 9, 8, 10, 8]
    assert scans[0].n_points == 10818 and scans[2].n_points == 25
    assert all(s.precursor_mz is None for s in scans if s.ms_level == 1)


def test_real_file_read_by_scan_time_and_range(real_file: Path) -> None:
    s = nio.read(real_file, scan=2)
    assert s.ms_level == 2 and len(s) == 25 and s.metadata["precursor_charge"] == 12
    by_id = nio.read(real_file, scan="controllerType=0 controllerNumber=1 scan=566")
    assert by_id.metadata["index"] == 7
    near = nio.read(real_file, time=4.21)
    assert near.metadata["index"] == 3  # nearest MS1 scan
    series = nio.read_series(real_file)
    assert [x.metadata["index"] for x in series] == [0, 1, 3, 7]
    summed = nio.read(real_file, scans=(0, 9))
    assert summed.metadata["combined_scans"] == [0, 1, 3, 7]
    # profile sum conserves the signal: the integral equals the sum of integrals
    total = sum(np.trapezoid(x.intensity, x.mz) for x in series)
    assert np.trapezoid(summed.intensity, summed.mz) == pytest.approx(total, rel=0.02)
    mean = nio.read(real_file, scans=(0, 9), combine="mean")
    np.testing.assert_allclose(mean.intensity * 4, summed.intensity)


def test_iter_scans_streams(real_file: Path, tmp_path: Path) -> None:
    it = nio.iter_scans(real_file)
    assert isinstance(it, types.GeneratorType)
    first = next(it)
    assert first.metadata["index"] == 0
    it.close()
    # a generated 60-scan time course: scans come one by one and the generator
    # does not keep references to the scans it has handed out
    import gc
    import weakref

    path = tmp_path / "course.mzML"
    rng = np.random.default_rng(1)
    nio.write_mzml(
        (_profile(rng).with_metadata(rt_min=0.5 * k) for k in range(60)),
        path,
    )
    refs = []
    gen = nio.iter_scans(path)
    assert inspect.isgenerator(gen)
    for k, s in enumerate(gen):
        assert s.rt_min == pytest.approx(0.5 * k)
        refs.append(weakref.ref(s.mz))
        del s
    gc.collect()
    assert sum(r() is not None for r in refs) == 0
    assert len(refs) == 60


# ----------------------------------------------------------------------------- round trips
def test_write_mzml_round_trip_multi_scan(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    spectra = []
    for k in range(5):
        base = _profile(rng)
        md = {"rt_min": 1.25 * k, "ms_level": 1, "polarity": "negative", "centroided": k == 4}
        if k == 3:
            md |= {"ms_level": 2, "precursor_mz": 2335.5, "precursor_charge": 4}
        spectra.append(Spectrum(base.mz, base.intensity, md))
    spectra.append(Spectrum([], [], {"rt_min": 9.0}))
    path = tmp_path / "out.mzML"
    nio.write_mzml(spectra, path)
    back = list(nio.iter_scans(path))
    assert len(back) == len(spectra)
    for a, b in zip(spectra, back, strict=True):
        np.testing.assert_array_equal(a.mz, b.mz)
        np.testing.assert_array_equal(a.intensity, b.intensity)
        assert b.rt_min == pytest.approx(a.rt_min)
    assert back[0].metadata["polarity"] == "negative" and back[0].centroided is False
    assert back[4].centroided is True
    assert back[3].ms_level == 2 and back[3].metadata["precursor_mz"] == 2335.5
    assert back[3].metadata["precursor_charge"] == 4
    # indexed, with a correct checksum and offsets (pyteomics reads it by index too)
    import hashlib

    from pyteomics import mzml

    raw = path.read_bytes()
    cut = raw.index(b"<fileChecksum>") + len(b"<fileChecksum>")
    assert hashlib.sha1(raw[:cut]).hexdigest().encode() == raw[cut : cut + 40]
    with mzml.MzML(str(path), cv=nio._psi_ms_cv()) as reader:
        assert reader.get_by_id("scan=3")["index"] == 2
        assert len(reader) == 6
    assert not list(tmp_path.glob(".*part"))


@pytest.mark.parametrize(
    ("text", "suffix"),
    [
        ("mz,intensity\n100.5,10\n101.0,20\n101.5,5\n", ".csv"),
        ("100.5\t10\n101.0\t20\n101.5\t5\n", ".tsv"),
        ("# exported\nm/z intensity\n100.5   10\n101.0   20\n101.5   5\n", ".txt"),
        ("Mass;Intensity\n100,5;10\n101,0;20\n101,5;5\n", ".csv"),
        ("100.5;10\n101.0;20\n101.5;5\n", ".dat"),
        ("100.5, 10, 1\n101.0, 20, 1\n101.5, 5, 1\n", ".csv"),
        ("100.5 1e1\n1.01e2 2.0E1\n101.5 5\n", ".xy"),
        ("mz,intensity\r\n100.5,10\r\n101.0,20\r\n101.5,5\r\n", ".csv"),
        ("100.5,10\n101.0,20\n101.5,5\n", ""),
        ("100.5,10\n101.0,20\n101.5,5\n", ".spectrum"),
    ],
)
def test_text_variants(tmp_path: Path, text: str, suffix: str) -> None:
    path = tmp_path / f"s{suffix}"
    path.write_bytes(text.encode())
    s = nio.read(path)
    assert s.mz.tolist() == [100.5, 101.0, 101.5]
    assert s.intensity.tolist() == [10.0, 20.0, 5.0]


def test_write_csv_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    s = _profile(rng)
    for name, delim in (("a.csv", ","), ("b.tsv", "\t"), ("c.txt", " ")):
        nio.write_csv(s, tmp_path / name, delimiter=delim)
        back = nio.read(tmp_path / name)
        np.testing.assert_array_equal(back.mz, s.mz)
        np.testing.assert_array_equal(back.intensity, s.intensity)
    nio.write_csv(s, tmp_path / "n.csv", header=False)
    assert (tmp_path / "n.csv").read_text().splitlines()[0].startswith("1")


def thermo_export(blocks: list[tuple[int, float, np.ndarray, np.ndarray]], polarity: str) -> str:
    """A Thermo Xcalibur spectrum export (text) with one block per scan."""
    out = []
    for scan, rt, mz, inten in blocks:
        out += [
            "SPECTRUM - MS",
            "GSM_AuAg44_R1-3.raw",
            f"FTMS {polarity} p ESI Full ms [1000.0000-4000.0000]",
            f"Scan #: {scan}",
            f"RT: {rt:.2f}",
            f"Data points: {mz.size}",
            "Mass\tIntensity",
        ]
        out += [f"{x:.6f}\t{y:.1f}" for x, y in zip(mz, inten, strict=True)]
        out.append("")
    return "\n".join(out)


def test_thermo_text_export(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    mz = np.round(np.sort(rng.uniform(2300, 2400, 200)), 6)
    mz = np.unique(mz)
    inten = np.round(rng.uniform(0, 1e5, mz.size), 1)
    path = tmp_path / "export.txt"
    path.write_text(thermo_export([(17, 0.52, mz, inten), (18, 0.55, mz + 0.001, inten)], "-"))
    scans = nio.list_scans(path)
    assert [(s.id, s.rt_min, s.polarity, s.centroided, s.ms_level) for s in scans] == [
        ("17", 0.52, "negative", False, 1),
        ("18", 0.55, "negative", False, 1),
    ]
    s = nio.read(path)
    np.testing.assert_allclose(s.mz, mz)
    np.testing.assert_allclose(s.intensity, inten)
    assert nio.read(path, scan=1).metadata["id"] == "18"
    assert nio.read(path, scan="18").rt_min == 0.55


def _mzxml(scans: list[dict[str, object]]) -> str:
    """A small mzXML 3.2 document with network-order 32-bit interleaved peaks."""
    body = []
    for sc in scans:
        mz = np.asarray(sc["mz"], dtype=">f4")
        it = np.asarray(sc["intensity"], dtype=">f4")
        pairs = np.empty(mz.size * 2, dtype=">f4")
        pairs[0::2], pairs[1::2] = mz, it
        raw = pairs.tobytes()
        compressed = bool(sc.get("zlib"))
        data = base64.b64encode(zlib.compress(raw) if compressed else raw).decode()
        prec = ""
        if sc["level"] == 2:
            prec = (
                f'<precursorMz precursorIntensity="1000" precursorCharge="{sc["charge"]}">'
                f"{sc['prec']}</precursorMz>"
            )
        comp = 'compressionType="zlib" ' if compressed else 'compressionType="none" '
        body.append(
            f'<scan num="{sc["num"]}" msLevel="{sc["level"]}" peaksCount="{mz.size}" '
            f'polarity="{sc["pol"]}" retentionTime="PT{sc["rt_s"]}S" centroided="{sc["cen"]}">'
            f'{prec}<peaks precision="32" byteOrder="network" contentType="m/z-int" '
            f'{comp}compressedLen="0">{data}</peaks></scan>'
        )
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        '<mzXML xmlns="http://sashimi.sourceforge.net/schema_revision/mzXML_3.2">\n'
        f'<msRun scanCount="{len(scans)}">\n' + "\n".join(body) + "\n</msRun>\n</mzXML>\n"
    )


def test_mzxml_reader(tmp_path: Path) -> None:
    mz1 = [2335.0, 2335.25, 2335.5, 2335.75]
    in1 = [10.0, 400.0, 800.0, 300.0]
    mz2 = [500.0, 700.5]
    in2 = [5.0, 7.0]
    doc = _mzxml(
        [
            dict(num=1, level=1, mz=mz1, intensity=in1, pol="-", rt_s=30.0, cen=0),
            dict(
                num=2, level=2, mz=mz2, intensity=in2, pol="-", rt_s=33.0, cen=1, zlib=True,
                prec=2335.5, charge=4,
            ),
        ]
    )  # fmt: skip
    path = tmp_path / "two.mzXML"
    path.write_text(doc)
    a, b = nio.iter_scans(path)
    assert a.mz.tolist() == mz1 and a.intensity.tolist() == in1
    assert b.mz.tolist() == mz2 and b.intensity.tolist() == in2
    assert (a.ms_level, a.rt_min, a.polarity, a.centroided) == (1, 0.5, "negative", False)
    assert (b.ms_level, b.rt_min, b.centroided) == (2, 0.55, True)
    assert b.metadata["precursor_mz"] == 2335.5 and b.metadata["precursor_charge"] == 4
    assert a.metadata["id"] == "1"
    assert [s.index for s in nio.list_scans(path)] == [0, 1]


# ----------------------------------------------------------------------------- bad input
def _write(tmp_path: Path, name: str, content: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(content)
    return p


BAD_CASES = [
    ("empty.csv", b"", "empty file"),
    ("blank.txt", b"\n  \n\t\n", "empty file"),
    ("garbage.mzML", bytes(range(256)) * 8, "binary content"),
    ("garbage.bin", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20, "binary content"),
    ("s.csv.gz", __import__("gzip").compress(b"100.1,5\n100.2,6\n"), "gzip-compressed: decompress"),
    ("s.zip", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(40), "a ZIP archive: extract"),
    (
        "utf16.txt",
        "mz\tintensity\r\n100.1\t5\r\n".encode("utf-16"),
        "UTF-16 text: save it as UTF-8",
    ),
    ("utf16be.csv", "mz,intensity\n100.1,5\n".encode("utf-16-be"), "UTF-16 text"),
    ("one.csv", b"mz\n100.1\n100.2\n", "line 2: one column only"),
    ("nan.csv", b"100.1,5\n100.2,nan\n", "line 2: non-finite value"),
    ("inf.txt", b"100.1 5\n100.2 inf\n", "line 2: non-finite value"),
    ("neg.csv", b"100.1,5\n100.2,-1\n", "line 2: negative intensity -1"),
    (
        "unsorted.csv",
        b"mz,i\n100.3,5\n100.2,1\n100.4,2\n",
        "line 3: unsorted m/z 100.2 after 100.3",
    ),
    ("dup.tsv", b"100.2\t5\n100.2\t1\n", "line 2: duplicate m/z 100.2"),
    ("words.csv", b"mz,i\n100.1,5\n100.2,abc\n", "line 3: expected two numbers"),
    ("trail.csv", b"100.1,5\nfoo bar\n", "line 2: expected two numbers"),
    ("header_only.csv", b"mz,intensity\n", "no numeric m/z-intensity rows"),
    ("x.mzML", b"100.1,5\n100.2,6\n", "extension '.mzML' says mzml, but the content is text"),
    ("x.csv", b'<?xml version="1.0"?><mzML></mzML>', "says text, but the content is mzml"),
    ("other.xml", b'<?xml version="1.0"?><html></html>', "neither mzML nor mzXML"),
    ("bad.mzML", b'<?xml version="1.0"?>\n<mzML><run><spectrumList><spectrum', "truncated mzML"),
]


def _baseline_subtracted(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A peak of height 1 on noise of sd 0.001 around a subtracted baseline (negatives ~ -0.003)."""
    mz = np.linspace(1000.0, 1010.0, 500)
    y = np.exp(-0.5 * ((mz - 1005.0) / 0.05) ** 2) + rng.normal(0.0, 1e-3, mz.size)
    return mz, y


def test_text_written_high_to_low_is_turned_round(tmp_path: Path) -> None:
    """A file whose m/z decrease throughout (an export or a figure traced from the right) is
    read the other way round, every point kept with its own intensity; a file that goes
    back on itself anywhere else is still refused."""
    mz = np.linspace(2000.0, 2010.0, 50)
    y = np.exp(-0.5 * ((mz - 2003.0) / 0.5) ** 2)
    path = tmp_path / "desc.csv"
    path.write_text("".join(f"{a:.4f},{b:.6f}\n" for a, b in zip(mz[::-1], y[::-1], strict=True)))
    s = nio.read(path)
    assert s.metadata["reversed"] is True
    assert np.allclose(s.mz, mz, atol=1e-4) and np.allclose(s.intensity, y, atol=1e-6)
    assert float(s.mz[np.argmax(s.intensity)]) == pytest.approx(2003.0, abs=0.2)
    path.write_text("mz,i\n100.4,5\n100.3,1\n100.3,2\n")
    with pytest.raises(SpectrumFormatError, match="line 3: unsorted m/z 100.3 after 100.4"):
        nio.read(path)


def test_text_reader_clips_baseline_noise_below_zero(tmp_path: Path) -> None:
    mz, y = _baseline_subtracted(np.random.default_rng(7))
    assert (y < 0).sum() > 10 and y.min() > -0.05 * y.max()
    path = tmp_path / "sub.csv"
    path.write_text(
        "mz,intensity\n" + "".join(f"{a:.5f},{b:.6f}\n" for a, b in zip(mz, y, strict=True))
    )
    s = nio.read(path)
    written = np.array([float(f"{b:.6f}") for b in y])
    assert s.metadata["clipped_negative"] == int((written < 0).sum())
    assert s.intensity.min() == 0.0
    # the positive points are untouched; only the negative ones became 0
    assert np.array_equal(s.intensity, np.where(written < 0, 0.0, written))
    # a clean file records nothing
    path.write_text("mz,intensity\n100.1,5\n100.2,0\n")
    assert "clipped_negative" not in nio.read(path).metadata


def test_a_weak_spectrums_noise_below_zero_is_clipped_not_refused(tmp_path: Path) -> None:
    """Read noise of 4 counts under an apex of 200 reaches -16, 8 % of the apex (a stranger's
    low-count Au25 ladder was refused as "is this column the intensity?"): within six times
    the noise it is baseline noise; a difference spectrum's negative peak is not."""
    rng = np.random.default_rng(3)
    mz = np.linspace(1000.0, 1100.0, 5000)
    peak = 200.0 * np.exp(-0.5 * ((mz - 1050.0) / 0.05) ** 2)
    noise = rng.normal(0.0, 4.0, mz.size)
    path = tmp_path / "weak.csv"
    y = peak + noise
    assert y.min() < -0.05 * y.max()
    path.write_text(
        "mz,intensity\n" + "".join(f"{a:.5f},{b:.3f}\n" for a, b in zip(mz, y, strict=True))
    )
    s = nio.read(path)
    assert s.metadata["clipped_negative"] == int((np.round(y, 3) < 0).sum())
    # how much the noise as read exceeds its estimate on the clipped values is recorded
    assert noise_level(s) < 0.7 * 4.0
    assert noise_level(s) * s.metadata["clipped_noise_ratio"] == pytest.approx(4.0, rel=0.1)
    diff = peak - 200.0 * np.exp(-0.5 * ((mz - 1060.0) / 0.05) ** 2) + noise
    path.write_text(
        "mz,intensity\n" + "".join(f"{a:.5f},{b:.3f}\n" for a, b in zip(mz, diff, strict=True))
    )
    with pytest.raises(SpectrumFormatError, match="negative intensity -2"):
        nio.read(path)


def test_mzml_reader_clips_baseline_noise_below_zero(tmp_path: Path) -> None:
    # Spectrum refuses negatives, so the file is written from an unvalidated stand-in
    def raw(y: list[float]) -> Spectrum:
        s = object.__new__(Spectrum)
        object.__setattr__(s, "mz", np.array([100.0, 100.1, 100.2, 100.3]))
        object.__setattr__(s, "intensity", np.array(y))
        object.__setattr__(s, "metadata", types.MappingProxyType({}))
        return s

    path = tmp_path / "sub.mzML"
    nio.write_mzml([raw([1.0, -0.01, 2.0, 3.0])], path)
    s = nio.read(path)
    assert s.intensity.tolist() == [1.0, 0.0, 2.0, 3.0] and s.metadata["clipped_negative"] == 1
    nio.write_mzml([raw([1.0, -1.0, 2.0, 3.0])], path)
    with pytest.raises(SpectrumFormatError, match=r"scan 0, point 1: negative intensity -1 \(33%"):
        nio.read(path)


@pytest.mark.parametrize(
    ("text", "mz", "intensity"),
    [
        # decimal commas, thousands dots in the intensities (German exports)
        ("m/z;Intensity\n7000,0000;2.103\n7000,0583;2.497\n7000,1167;950\n",
         [7000.0, 7000.0583, 7000.1167], [2103.0, 2497.0, 950.0]),
        # m/z below 1000 with 3 decimals: '923,700' beside '1.823' in a ';' file
        ("m/z;Intensit\u00e4t\n923,700;50\n923,702;1.823\n923,704;250.050\n",
         [923.7, 923.702, 923.704], [50.0, 1823.0, 250050.0]),
        # m/z of 1000 or more with 3 decimals, integer counts
        ("m/z;Intensity\n7000,000;11034\n7000,058;14972\n", [7000.0, 7000.058], [11034.0, 14972.0]),
        # the only thousands dot far from the lines the dialect is judged on (head and tail)
        ("m/z;Intensity\n" + "".join(f"{1000 + k},5;{1_005_683 if k == 300 else k + 1:_}\n"
                                      for k in range(600)).replace("_", "."), None, None),
    ],
    ids=["dot-thousands", "3-decimal-mz-below-1000", "3-decimal-mz", "late-dot"],
)  # fmt: skip
def test_decimal_comma_with_thousands_dots_is_read_right(
    tmp_path: Path, text: str, mz: list[float] | None, intensity: list[float] | None
) -> None:
    s = nio.read(_write(tmp_path, "de.csv", text.encode("utf-8")))
    if mz is None:
        want = [1_005_683.0 if k == 300 else float(k + 1) for k in range(600)]
        assert len(s) == 600 and s.mz[300] == 1300.5 and s.intensity.tolist() == want
        return
    assert s.mz.tolist() == pytest.approx(mz, abs=1e-9)
    assert s.intensity.tolist() == intensity


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # a tab file: '923,700' and '1.823' read either way
        ("923,700\t50\n923,702\t1.823\n923,704\t2.050\n", "number format is ambiguous"),
        # a decimal dot beside decimal commas: never read '2.5' as 25
        ("m/z;Intensity\n7000,0000;2.103\n7000,0583;2.5\n", r"line 3: '2.5' .*mixed"),
    ],
    ids=["tab-ambiguous", "mixed-marks"],
)
def test_decimal_marks_that_cannot_be_told_apart_are_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, "de.csv", text.encode())
    with pytest.raises(SpectrumFormatError, match=message) as info:
        nio.read(path)
    assert "\n" not in str(info.value) and "export" in str(info.value)


@pytest.mark.parametrize(
    "content",
    [
        b"100.1,5\n100.2,-0.3\n100.3,2\n",  # -6 % of the largest: not baseline noise
        b"100.1,-5\n100.2,-1\n100.3,-2\n",  # nothing positive at all
    ],
)
def test_text_reader_refuses_large_negative_intensities(tmp_path: Path, content: bytes) -> None:
    path = _write(tmp_path, "neg.csv", content)
    with pytest.raises(SpectrumFormatError, match="negative intensity") as info:
        nio.read(path)
    text = str(info.value)
    assert "\n" not in text and "--columns" in text and "5%" in text


@pytest.mark.parametrize(("name", "content", "message"), BAD_CASES)
def test_bad_input(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = _write(tmp_path, name, content)
    with pytest.raises(SpectrumFormatError, match=message) as info:
        nio.read(path)
    text = str(info.value)
    assert "\n" not in text and str(path) in text


def test_truncated_real_mzml(real_file: Path, tmp_path: Path) -> None:
    raw = real_file.read_bytes()
    path = _write(tmp_path, "cut.mzML", raw[: len(raw) // 3])
    # truncated anywhere means truncated for every reader, even for the complete first scan
    for call in (lambda: nio.read(path, scan=0), lambda: nio.list_scans(path)):
        with pytest.raises(SpectrumFormatError, match=r"cut\.mzML: truncated mzML"):
            call()


def test_truncated_written_mzml_and_corrupt_binary(tmp_path: Path) -> None:
    path = tmp_path / "w.mzML"
    nio.write_mzml([Spectrum([1.0, 2.0], [1.0, 2.0])] * 3, path)
    raw = path.read_bytes()
    cut = _write(tmp_path, "cut2.mzML", raw[: raw.index(b"<binary>") + 20])
    with pytest.raises(SpectrumFormatError, match="truncated mzML"):
        nio.read(cut)
    start = raw.index(b"<binary>") + len(b"<binary>")
    bad = _write(tmp_path, "bad64.mzML", raw[:start] + b"AAAA" + raw[start + 4 :])
    with pytest.raises(SpectrumFormatError, match="bad64.mzML"):
        nio.read(bad)


def test_invalid_arrays_in_mzml(tmp_path: Path) -> None:
    good = tmp_path / "g.mzML"
    nio.write_mzml([Spectrum([1.0, 2.0], [1.0, 2.0]), Spectrum([1.0, 2.0], [1.0, 2.0])], good)
    raw = good.read_text()
    # swap the binary of scan 2's m/z array for one with a repeated m/z (a descending one is
    # turned round: test_an_mzml_written_high_to_low_is_turned_round)
    desc = base64.b64encode(zlib.compress(np.array([1.0, 1.0], "<f8").tobytes())).decode()
    i = raw.rindex("<binary>")
    j = raw.rindex("<binary>", 0, i)
    k = raw.index("</binary>", j)
    changed = raw[: j + 8] + desc + raw[k:]
    # without the index and checksum (which would flag the change first)
    plain = (
        changed[: changed.index("<indexedmzML")]
        + changed[changed.index("<mzML") : changed.index("</mzML>") + 7]
    )
    bad = _write(tmp_path, "desc.mzML", plain.encode())
    with pytest.raises(SpectrumFormatError, match=r"desc\.mzML: scan 1: duplicate m/z"):
        nio.list_scans(bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scan": 10}, r"scan 10 out of range \(the file holds 10 scans, 0-9\)"),
        ({"scan": "scan=999"}, "scan id 'scan=999' not found"),
        ({"scans": (20, 30)}, "scan range 20-30 out of range"),
        ({"scans": (2, 2)}, "no MS1 scan in range 2-2"),
    ],
)
def test_scan_selection_errors(real_file: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SpectrumFormatError, match=message):
        nio.read(real_file, **kwargs)  # type: ignore[arg-type]


def test_read_argument_errors(real_file: Path) -> None:
    with pytest.raises(ValueError, match="at most one"):
        nio.read(real_file, scan=1, time=2.0)
    with pytest.raises(ValueError, match="combine"):
        nio.read(real_file, scans=(0, 1), combine="max")  # type: ignore[arg-type]


def test_combine_centroid_and_mixed(tmp_path: Path) -> None:
    a = Spectrum([100.0, 200.0], [1.0, 2.0], {"centroided": True})
    b = Spectrum([100.00001, 300.0], [3.0, 4.0], {"centroided": True})
    p = tmp_path / "c.mzML"
    nio.write_mzml([a, b], p)
    s = nio.read(p, scans=(0, 1))
    assert s.intensity.tolist() == [4.0, 2.0, 4.0]
    assert s.mz[0] == pytest.approx(100.0000075)
    nio.write_mzml([a, Spectrum([1.0, 2.0], [1.0, 1.0])], p)
    with pytest.raises(SpectrumFormatError, match="profile and centroid"):
        nio.read(p, scans=(0, 1))


def test_combine_profile_respects_gaps(tmp_path: Path) -> None:
    x1 = np.array([100.0, 100.1, 100.2, 100.3, 105.0, 105.1, 105.2])
    y1 = np.array([0.0, 5.0, 5.0, 0.0, 0.0, 5.0, 0.0])
    x2 = np.array([100.05, 100.15, 100.25, 102.0, 102.1, 102.2])
    y2 = np.array([1.0, 1.0, 1.0, 8.0, 9.0, 8.0])
    p = tmp_path / "p.mzML"
    nio.write_mzml([Spectrum(x1, y1), Spectrum(x2, y2)], p)
    s = nio.read(p, scans=(0, 1))
    # scan 1 has a gap between 100.3 and 105.0: it adds nothing at 102.x
    assert s.intensity_at([102.1])[0] == pytest.approx(9.0)
    assert s.intensity_at([100.15])[0] == pytest.approx(6.0)


# ----------------------------------------------------------------------------- info CLI
def test_info_cli_table_and_json(real_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(real_file)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["index", "MS", "RT(min)"]
    assert len(out) == 11
    assert "1225.6116" in out[3] and " 12 " in out[3] and "centroid" in out[3]
    assert main(["info", str(real_file), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 10 and rows[2]["precursor_charge"] == 12
    assert set(rows[0]) == set(ScanInfo.__slots__)


def test_info_cli_shows_what_the_reader_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A high-to-low file with a small negative: `info` (table and `--json`) did not show the
    `reversed` and `clipped_negative` the README says the reader records."""
    path = tmp_path / "rev.csv"
    path.write_text("m/z,intensity\n2002,1\n2001,-0.001\n2000,5\n")
    assert main(["info", str(path)]) == 0
    assert "scan 0: m/z axis read high to low, turned round; 1 small negative" in (
        capsys.readouterr().out
    )
    assert main(["info", str(path), "--json"]) == 0
    (scan,) = json.loads(capsys.readouterr().out)
    assert scan["read"] == {"reversed": True, "clipped_negative": 1}
    path.write_text("m/z,intensity\n2000,5\n2001,0\n2002,1\n")  # read as it stands
    assert main(["info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["read"] is None
    assert main(["info", str(path)]) == 0
    assert "scan 0:" not in capsys.readouterr().out


@pytest.mark.parametrize(("name", "content", "message"), BAD_CASES[:6])
def test_info_cli_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, message: str
) -> None:
    path = _write(tmp_path, name, content)
    assert main(["info", str(path)]) == 1
    cap = capsys.readouterr()
    assert cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nanoalloy info: error: ")
    assert message in lines[0]


def test_info_cli_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(tmp_path / "nope.mzML")]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_spectrum_pickles_for_dask() -> None:
    import pickle

    s = Spectrum([100.0, 101.0], [1.0, 2.0], {"ms_level": 1, "rt_min": 2.5})
    t = pickle.loads(pickle.dumps(s))
    assert np.array_equal(t.mz, s.mz) and np.array_equal(t.intensity, s.intensity)
    assert dict(t.metadata) == dict(s.metadata)
    assert not t.mz.flags.writeable


def test_mzml_with_a_huge_scan_round_trips(tmp_path: Path) -> None:
    # 1.2 M profile points: each binary array is a text node above libxml2's 10 MB limit
    mz = np.linspace(1500.0, 4000.0, 1_200_000)
    y = np.abs(np.sin(mz)) + 1.0
    path = tmp_path / "big.mzML"
    nio.write_mzml([Spectrum(mz, y)], path)
    back = nio.read(path)
    assert len(back) == mz.size
    np.testing.assert_allclose(back.mz, mz, rtol=0, atol=1e-9)
    np.testing.assert_allclose(back.intensity, y, rtol=1e-6)
    mode = path.stat().st_mode & 0o777
    assert mode & 0o044 == 0o044  # readable by group and others, like any result file


def test_assign_says_which_scan_a_far_time_took(
    real_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--time`` picks the nearest scan however far away; 99 min in a run of 4.2-4.3 min took
    one without a word."""
    argv = ["assign", str(real_file), "--out", str(tmp_path / "a"), "--no-plot", "--no-report"]
    assert main([*argv, "--time", "99"]) == 0
    err = capsys.readouterr().err
    assert "no scan at 99 min; assigned the nearest, at 4.2" in err
    assert main([*argv, "--time", "4.22", "--overwrite"]) == 0
    assert "no scan at" not in capsys.readouterr().err


def test_headerless_intensity_then_mz_is_read_right_or_refused(tmp_path: Path) -> None:
    """Two unnamed columns, intensity first: the increasing second column is m/z (it was
    refused as "unsorted m/z 105 after 112"); a peak list of intensity, m/z sorted by
    intensity (first column falling) was turned round as m/z written high to low: its
    base peak at m/z 88,666 with intensity 2,981. Now refused in one line."""
    rng = np.random.default_rng(1)
    mz = np.linspace(2000.0, 2010.0, 200)
    inten = 100 + 1e4 * np.exp(-0.5 * ((mz - 2005) / 0.3) ** 2) + rng.uniform(0, 20, mz.size)
    swapped = tmp_path / "swapped.csv"
    swapped.write_text("".join(f"{i:.4f},{m:.5f}\n" for i, m in zip(inten, mz, strict=True)))
    s = nio.read(swapped)
    np.testing.assert_allclose(s.mz, mz, atol=1e-5)
    np.testing.assert_allclose(s.intensity, inten, atol=1e-4)
    # a peak list sorted by intensity, intensity first
    pmz = np.sort(rng.uniform(2000, 3000, 40))
    pin = rng.uniform(1e3, 1e5, 40)
    order = np.argsort(-pin)
    peaks = tmp_path / "peaks.csv"
    rows = zip(pin[order], pmz[order], strict=True)
    peaks.write_text("".join(f"{i:.4f},{m:.4f}\n" for i, m in rows))
    with pytest.raises(SpectrumFormatError, match="looks more like m/z: a peak list"):
        nio.read(peaks)
    # m/z written high to low (a centroid list) is still turned round
    rev = tmp_path / "rev.csv"
    rev.write_text("".join(f"{m:.4f},{i:.4f}\n" for m, i in zip(pmz[::-1], pin[::-1], strict=True)))
    r = nio.read(rev)
    np.testing.assert_allclose(r.mz, pmz, atol=1e-4)
    assert r.metadata.get("reversed") is True


def test_an_mzml_without_spectra_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An mzML holding no spectrum: "scan None out of range (the file holds 0 scans, 0--1)"."""
    path = tmp_path / "none.mzML"
    path.write_text(
        '<?xml version="1.0"?>\n<mzML xmlns="http://psi.hupo.org/ms/mzml" version="1.1.0">'
        '<run id="r"><spectrumList count="0"></spectrumList></run></mzML>\n'
    )
    for scan in (None, 3):
        with pytest.raises(SpectrumFormatError, match=r"holds no spectrum \(0 scans\)$"):
            nio.read(path, scan=scan)
    assert main(["assign", str(path), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no spectrum" in err and "None" not in err


def test_a_folder_given_as_a_uvvis_or_time_course_file_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """uvvis said "[Errno 21] Is a directory", fit-kinetics "time course file ... not found"."""
    folder = tmp_path / "data"
    folder.mkdir()
    for command in ("uvvis", "fit-kinetics"):
        assert main([command, str(folder), "--out", str(tmp_path / "o")]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is a folder, not a file" in err, err


def test_a_missing_side_file_is_named_in_plain_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing --params file read "[Errno 2] No such file or directory: 'x'"."""
    series = tmp_path / "series.csv"
    series.write_text("time_min,family,fraction\n0,M44S26,1\n")
    missing = tmp_path / "nope.toml"
    argv = ["fit-kinetics", str(series), "--params", str(missing), "--out", str(tmp_path / "o")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{missing}: no such file" in err and "Errno" not in err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------ a stranger's instrument exports (2026-12-07)
def test_without_scan_the_first_ms1_scan_holding_data_is_read(tmp_path: Path) -> None:
    """A DDA file can start with an MS2 or an empty scan: ``read`` without ``scan`` took scan 0
    and ``assign`` then refused a file holding a good MS1 scan ("only 4 points")."""
    rng = np.random.default_rng(5)
    ms1 = _profile(rng)
    ms2 = Spectrum([500.0, 600.0, 700.0, 800.0], [1.0, 2.0, 3.0, 4.0], {"ms_level": 2})
    path = tmp_path / "dda.mzML"
    nio.write_mzml([ms2, Spectrum([], [], {}), ms1], path)
    got = nio.read(path)
    assert got.ms_level == 1 and len(got) == len(ms1)
    np.testing.assert_array_equal(got.intensity, ms1.intensity)
    assert len(nio.read(path, scan=0)) == 4  # a scan asked for is the one given
    # a blank MS1 scan of zeros (the spray not yet settled) holds no data either: a
    # nineteenth stranger's time course stopped at "the spectrum holds no signal"
    blank = Spectrum(ms1.mz, np.zeros(len(ms1)), {"ms_level": 1})
    nio.write_mzml([blank, ms1], path)
    got = nio.read(path)
    np.testing.assert_array_equal(got.intensity, ms1.intensity)
    assert not nio.read(path, scan=0).intensity.any()


def _tiny_mzml(mz: np.ndarray, y: np.ndarray, compression: str = "MS:1000576") -> str:
    """A minimal unindexed mzML of one profile scan (arrays as given, 64-bit, uncompressed)."""

    def arr(a: np.ndarray, acc: str, name: str) -> str:
        data = base64.b64encode(np.asarray(a, "<f8").tobytes()).decode()
        return (
            f'<binaryDataArray encodedLength="{len(data)}">'
            '<cvParam cvRef="MS" accession="MS:1000523" name="64-bit float" value=""/>'
            f'<cvParam cvRef="MS" accession="{compression}" name="compression" value=""/>'
            f'<cvParam cvRef="MS" accession="{acc}" name="{name}" value=""/>'
            f"<binary>{data}</binary></binaryDataArray>"
        )

    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<mzML xmlns="http://psi.hupo.org/ms/mzml" '
        'version="1.1.0"><cvList count="1"><cv id="MS" fullName="PSI-MS" URI="x"/></cvList>'
        '<run id="r"><spectrumList count="1">'
        f'<spectrum index="0" id="scan=1" defaultArrayLength="{len(mz)}">'
        '<cvParam cvRef="MS" accession="MS:1000511" name="ms level" value="1"/>'
        '<cvParam cvRef="MS" accession="MS:1000128" name="profile spectrum" value=""/>'
        '<binaryDataArrayList count="2">'
        + arr(mz, "MS:1000514", "m/z array")
        + arr(y, "MS:1000515", "intensity array")
        + "</binaryDataArrayList></spectrum></spectrumList></run></mzML>\n"
    )


def test_an_mzml_written_high_to_low_is_turned_round(tmp_path: Path) -> None:
    """Text exports from high to low m/z were turned round, mzML arrays refused (with advice
    for Python users given to a command-line user)."""
    mz = np.array([1000.0, 1000.1, 1000.2, 1000.3, 1000.4])
    y = np.array([1.0, 5.0, 9.0, 4.0, 2.0])
    path = tmp_path / "desc.mzML"
    path.write_text(_tiny_mzml(mz[::-1], y[::-1]))
    back = nio.read(path)
    np.testing.assert_array_equal(back.mz, mz)
    np.testing.assert_array_equal(back.intensity, y)
    assert back.metadata.get("reversed") is True
    # still refused: an order that is neither
    path.write_text(_tiny_mzml(mz[[0, 2, 1, 3, 4]], y))
    with pytest.raises(SpectrumFormatError, match="unsorted m/z"):
        nio.read(path)


@pytest.mark.parametrize(
    ("text", "expect_polarity"),
    [
        ("SPECTRUM - MS\n180523_GSH_neg.raw\nFTMS - p ESI Full ms [1000.00-1010.00]\n"
         "Scan #: 42\nRT: 1.00\nData points: 3\nMass\tIntensity\n", "negative"),
    ],
)  # fmt: skip
def test_a_thermo_export_whose_raw_file_name_starts_with_a_digit_keeps_its_header(
    tmp_path: Path, text: str, expect_polarity: str
) -> None:
    """The raw file's line ``180523_GSH_neg.raw`` was taken for data: the header with the
    ``FTMS - p ESI`` filter went, and the polarity with it."""
    path = tmp_path / "thermo.txt"
    path.write_text(text.replace("FTMS - p", "FTMS - p") + "1000.0\t5\n1000.1\t6\n1000.2\t7\n")
    s = nio.read(path)
    assert s.metadata["polarity"] == expect_polarity and s.metadata["id"] == "42"
    assert len(s) == 3


@pytest.mark.parametrize(
    ("text", "intensity"),
    [
        ('\ufeff"m/z";"Intensität"\n"2640,0000";"1251,57"\n"2640,0220";"1461,96"\n',
         [1251.57, 1461.96]),
        ('"m/z","Intensity"\n"2640.0000","1,252"\n"2640.0220","742"\n', [1252.0, 742.0]),
        ("   m/z          Intensity\n     2640.0000   1251.57\n     2640.0220   1461.96\n"
         "End of spectrum\n", [1251.57, 1461.96]),
    ],
)  # fmt: skip
def test_quoted_numbers_and_a_footer_are_read(
    tmp_path: Path, text: str, intensity: list[float]
) -> None:
    """Excel in a decimal-comma locale quotes "2640,0000"; US Excel quotes "1,252" beside
    "2640.0000"; a fixed-width export ends in a line of words. All three were refused."""
    path = tmp_path / "x.csv"
    path.write_bytes(text.encode("utf-8"))
    s = nio.read(path)
    np.testing.assert_allclose(s.mz, [2640.0, 2640.022])
    np.testing.assert_allclose(s.intensity, intensity)


def test_excel_mgf_and_numpress_files_are_refused_for_what_they_are(tmp_path: Path) -> None:
    import zipfile

    xlsx = tmp_path / "s.xlsx"
    with zipfile.ZipFile(xlsx, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(SpectrumFormatError, match="Excel workbook"):
        nio.read(xlsx)
    mgf = tmp_path / "p.mgf"
    mgf.write_text("BEGIN IONS\nPEPMASS=500\n100.0 5\nEND IONS\n")
    with pytest.raises(SpectrumFormatError, match="MGF peak list"):
        nio.read(mgf)
    npz = tmp_path / "n.mzML"
    npz.write_text(_tiny_mzml(np.array([1.0, 2.0, 3.0]), np.ones(3), "MS:1002312"))
    try:
        import pynumpress  # noqa: F401
    except ImportError:
        with pytest.raises(SpectrumFormatError, match="MS-Numpress"):
            nio.read(npz)


def test_assign_takes_the_first_ms1_scan_holding_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``nanoalloy assign`` without ``--scan`` on a file led by an MS2 scan: it took that scan
    ("only 4 points; nothing to fit"); now the MS1 scan, and stderr says which and why."""
    import pandas as pd

    from nanoalloy.ms.synth import synthesize

    pops = pd.DataFrame({"family": ["M44S30"] * 2, "au": [11, 12], "fraction": [0.4, 0.6]})
    ms1 = synthesize(pops, mz_range=(2300, 2360), resolution=20_000, seed=3).spectrum
    ms2 = Spectrum([500.0, 600.0, 700.0, 800.0], [1.0, 2.0, 3.0, 4.0], {"ms_level": 2})
    path = tmp_path / "dda.mzML"
    nio.write_mzml([ms2, ms1], path)
    code = main(["assign", str(path), "--out", str(tmp_path / "out"), "--resolution", "20000"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "assigned scan 1" in err and "the first MS1 scan holding data" in err
    assert (tmp_path / "out" / "species.csv").exists()
    # led by a blank MS1 scan of zeros (a nineteenth stranger's time course: "the spectrum
    # holds no signal", exit 1), the scan with data is taken too
    blank = Spectrum(ms1.mz, np.zeros(len(ms1)), {"ms_level": 1})
    nio.write_mzml([blank, ms1], path)
    code = main(["assign", str(path), "--out", str(tmp_path / "out2"), "--resolution", "20000"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "assigned scan 1" in err and "the first MS1 scan holding data" in err


def test_assign_says_which_scan_it_took_and_that_an_ms2_scan_is_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--json`` records the scan assigned (index, id, time, MS level), and an MS2 scan asked
    for with ``--scan`` is assigned as it is, with a line saying what it is (a nineteenth
    stranger's MS2 profile scan was assigned as MS1 without a word)."""
    import json

    import pandas as pd

    from nanoalloy.ms.synth import synthesize

    pops = pd.DataFrame({"family": ["M44S30"] * 2, "au": [11, 12], "fraction": [0.4, 0.6]})
    ms1 = synthesize(pops, mz_range=(2580, 2640), resolution=20_000, seed=3).spectrum
    ms2 = Spectrum(ms1.mz, ms1.intensity, {"ms_level": 2, "rt_min": 1.5})
    path = tmp_path / "two.mzML"
    nio.write_mzml([ms1, ms2], path)
    out = tmp_path / "out"
    code = main(["assign", str(path), "--scan", "1", "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "scan 1 is an MS2 scan" in captured.err
    scan = json.loads(captured.out)["scan"]
    assert scan["index"] == 1 and scan["ms_level"] == 2 and scan["rt_min"] == pytest.approx(1.5)
