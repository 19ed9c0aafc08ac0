"""Write the fuzz corpus of tests/data/bad (run from the repository root:
``PYTHONPATH=src python tests/data/bad/_make.py``).

Every file is either refused by every command with one line and exit 1 (its
expected message fragment is in ``EXPECTED.json`` under ``"error"``), or read
correctly (``"points"``, first and last m/z, TIC, computed here from the values
written, not from nanoalloy's reader). Named pipes are made by the test itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "src"))

from nanoalloy.ms.io import write_mzml  # noqa: E402
from nanoalloy.ms.spectrum import Spectrum  # noqa: E402

expected: dict[str, dict[str, object]] = {}


def good(name: str, content: bytes | str, mz: list[float], inten: list[float]) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    (HERE / name).write_bytes(data)
    expected[name] = {
        "points": len(mz),
        "mz": [mz[0], mz[-1]],
        "tic": float(np.sum(inten)),
    }


def bad(name: str, content: bytes | str, error: str) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    (HERE / name).write_bytes(data)
    expected[name] = {"error": error}


MZ = [1500.1234, 1500.2234, 1500.3234, 1500.4234, 1500.5234]
INT = [5678.9, 6789.5, 7000.25, 6000.5, 5000.0]

# --- column inference by header names (several languages) and by content -----------------
good(
    "point_x_y.csv",
    "Point,X(Thompsons),Y(Counts)\n"
    + "".join(f"{i + 1},{m},{y}\n" for i, (m, y) in enumerate(zip(MZ, INT, strict=True))),
    MZ,
    INT,
)
good(
    "agilent_commented_header.csv",
    "#Agilent MassHunter export\n#Point,Y(Counts),X(Thompsons)\n"
    + "".join(f"{i},{y},{m}\n" for i, (m, y) in enumerate(zip(MZ, INT, strict=True))),
    MZ,
    INT,
)
good(
    "point_x_y_no_header.csv",
    "".join(f"{i + 1},{m},{y}\n" for i, (m, y) in enumerate(zip(MZ, INT, strict=True))),
    MZ,
    INT,
)
good(
    "index_from_zero.tsv",
    "Index\tm/z\tIntensity\n"
    + "".join(f"{i}\t{m}\t{y}\n" for i, (m, y) in enumerate(zip(MZ, INT, strict=True))),
    MZ,
    INT,
)
good(
    "intensity_first.csv",
    "Intensity,m/z\n" + "".join(f"{y},{m}\n" for m, y in zip(MZ, INT, strict=True)),
    MZ,
    INT,
)
good(
    "german.csv",
    "Masse/Ladung;Häufigkeit\n"
    + "".join(
        f"{str(m).replace('.', ',')};{str(y).replace('.', ',')}\n"
        for m, y in zip(MZ, INT, strict=True)
    ),
    MZ,
    INT,
)
good(
    "french.csv",
    "m/z;Intensité\n"
    + "".join(
        f"{str(m).replace('.', ',')};{str(y).replace('.', ',')}\n"
        for m, y in zip(MZ, INT, strict=True)
    ),
    MZ,
    INT,
)
good(
    "spanish_latin1.csv",
    (
        "Masa;Intensidad (cuentas)\n"
        + "".join(
            f"{str(m).replace('.', ',')};{str(y).replace('.', ',')}\n"
            for m, y in zip(MZ, INT, strict=True)
        )
    ).encode("latin-1"),
    MZ,
    INT,
)
good(
    "german_latin1_umlaut.txt",
    ("Masse\tIntensität\n" + "".join(f"{m}\t{y}\n" for m, y in zip(MZ, INT, strict=True))).encode(
        "latin-1"
    ),
    MZ,
    INT,
)
good(
    "mass_abundance_extra_columns.csv",
    "Mass,Abundance,Resolution,Charge\n"
    + "".join(f"{m},{y},{40000 + i},1\n" for i, (m, y) in enumerate(zip(MZ, INT, strict=True))),
    MZ,
    INT,
)
good(
    "constant_third_column.csv",
    "".join(f"{m}, {y}, 1\n" for m, y in zip(MZ, INT, strict=True)),
    MZ,
    INT,
)
# --- decimal commas and thousands separators ----------------------------------------------
good(
    "decimal_comma_spaces.txt",
    "".join(
        f"{str(m).replace('.', ',')} {str(y).replace('.', ',')}\n"
        for m, y in zip(MZ, INT, strict=True)
    ),
    MZ,
    INT,
)
good(
    "thousands_dot_decimal_comma.csv",
    "Masse;Intensität\n"
    + "".join(
        f"1.{str(m)[1:].replace('.', ',')};{int(y) // 1000}.{str(y)[1:].replace('.', ',')}\n"
        for m, y in zip(MZ, INT, strict=True)
    ),
    MZ,
    INT,
)
good(
    "thousands_comma.tsv",
    "m/z\tIntensity\n"
    + "".join(
        f"1,{str(m)[1:]}\t{int(y) // 1000},{str(y)[1:]}\n" for m, y in zip(MZ, INT, strict=True)
    ),
    MZ,
    INT,
)
good(
    "quoted_thousands.csv",
    "m/z,Intensity\n"
    + "".join(f'{m},"{int(y) // 1000},{str(y)[1:]}"\n' for m, y in zip(MZ, INT, strict=True)),
    MZ,
    INT,
)
good(
    "quoted_decimal_comma.csv",
    '"m/z","Intensity"\n'
    + "".join(
        f'"{str(m).replace(".", ",")}","{str(y).replace(".", ",")}"\n'
        for m, y in zip(MZ, INT, strict=True)
    ),
    MZ,
    INT,
)
good(
    "trailing_delimiter.csv",
    "Mass,Intensity,\n" + "".join(f"{m},{y},\n" for m, y in zip(MZ, INT, strict=True)),
    MZ,
    INT,
)
good(
    "index_space_separated.txt",
    "".join(f"{i + 1} {m} {y}\n" for i, (m, y) in enumerate(zip(MZ, INT, strict=True))),
    MZ,
    INT,
)
bad(
    "space_grouped_thousands.txt",
    "".join(
        f"1 {str(m)[1:].replace('.', ',')} {int(y) // 1000} {str(y)[1:].replace('.', ',')}\n"
        for m, y in zip(MZ, INT, strict=True)
    ),
    "digits grouped by spaces",
)
# --- line endings, comments, Thermo blocks -------------------------------------------------
good(
    "crlf.csv",
    "mz,intensity\r\n" + "".join(f"{m},{y}\r\n" for m, y in zip(MZ, INT, strict=True)),
    MZ,
    INT,
)
good(
    "old_mac_cr.csv",
    "mz,intensity\r" + "".join(f"{m},{y}\r" for m, y in zip(MZ, INT, strict=True)),
    MZ,
    INT,
)
good(
    "comments_and_blank_lines.txt",
    "# exported by hand\n\nm/z intensity\n"
    + "".join(f"{m} {y}  # point\n\n" for m, y in zip(MZ, INT, strict=True)),
    MZ,
    INT,
)
good(
    "thermo_export.txt",
    "SPECTRUM - MS\nrun.raw\nFTMS - p ESI Full ms [1000.0000-4000.0000]\n"
    "Scan #: 17\nRT: 0.52\nData points: 5\nMass\tIntensity\n"
    + "".join(f"{m}\t{y}\n" for m, y in zip(MZ, INT, strict=True)),
    MZ,
    INT,
)

# --- silent misreads that must be refused --------------------------------------------------
bad("negative_mz.csv", "m/z,intensity\n-1499,5\n100,6\n101,7\n", "is not positive")
bad("zero_mz.csv", "0,5\n100,6\n101,7\n", "is not positive")
bad("absurd_mz.csv", "100,5\n5e302,6\n", "is absurd")
bad(
    "index_and_mz_no_intensity.csv",
    "1,1500.1\n2,1500.2\n3,1500.3\n4,1500.4\n",
    "no intensity column",
)
bad(
    "ambiguous_four_columns.csv",
    "a,b,c,d\n100.1,5,7,9\n100.2,6,9,1\n100.3,6,1,4\n",
    "--columns MZ,INTENSITY",
)
bad(
    "two_mz_columns.csv",
    "m/z,Mass,Intensity\n100.1,100.1,5\n100.2,100.2,6\n100.3,100.3,2\n",
    "several columns could be m/z",
)
bad("mixed_decimal_marks.tsv", "1500,25\t1,234.5\n1500,26\t2,234.5\n", "mixes decimal commas")
bad("huge_digit_count.csv", "100.1,5\n100.2," + "9" * 5000 + "\n", "line 2: expected two numbers")
# --- malformed text ----------------------------------------------------------------------------
bad("empty.csv", b"", "empty file")
bad("blank.txt", b"\n  \n\t\n", "empty file")
bad("binary.csv", bytes(range(256)) * 8, "binary content")
bad("utf16.csv", "mz,intensity\n100.1,5\n".encode("utf-16"), "UTF-16 text")
bad("header_only.csv", "mz,intensity\n", "no numeric m/z-intensity rows")
bad("one_column.csv", "mz\n100.1\n100.2\n", "one column only")
bad("nan.csv", "100.1,5\n100.2,nan\n", "non-finite value")
bad("inf.txt", "100.1 5\n100.2 inf\n", "non-finite value")
bad("negative_intensity.csv", "100.1,5\n100.2,-1\n", "negative intensity")
bad("unsorted.csv", "mz,i\n100.3,5\n100.2,1\n100.4,2\n", "unsorted m/z")
# written from high to low m/z throughout (an export, a figure traced from the right): turned round
good("descending.csv", "mz,i\n100.3,5\n100.2,1\n100.1,2\n", [100.1, 100.2, 100.3], [2.0, 1.0, 5.0])
bad("duplicate.tsv", "100.2\t5\n100.2\t1\n", "duplicate m/z")
bad("words.csv", "mz,i\n100.1,5\n100.2,abc\n", "line 3: expected two numbers")
bad("trailing_garbage.csv", "100.1,5\nfoo bar\n", "line 2: expected two numbers")
bad("ragged.csv", "100.1,5\n100.2,6,7,8\n", "line 2: 4 columns")
bad("missing_value.csv", "100.1,5\n100.2,\n100.3,4\n", "line 2")
bad("not_ms.xml", '<?xml version="1.0"?><html></html>', "neither mzML nor mzXML")
bad("text_as.mzML", "100.1,5\n100.2,6\n", "says mzml, but the content is text")
bad("mzml_as.csv", '<?xml version="1.0"?><mzML></mzML>', "says text, but the content is mzml")

# --- mzML: truncated, altered, bad values ---------------------------------------------------
rng = np.random.default_rng(13)
scans = [
    Spectrum(np.linspace(1000.0, 1010.0, 200) + k, rng.uniform(0, 1e4, 200), {"rt_min": 0.5 * k})
    for k in range(3)
]
tmp = HERE / "_tmp.mzML"
write_mzml(scans, tmp)
raw = tmp.read_bytes()
tmp.unlink()
good("good.mzML", raw, scans[0].mz.tolist(), scans[0].intensity.tolist())
end_first = raw.index(b"</spectrum>") + len(b"</spectrum>")
bad("truncated_after_spectrum.mzML", raw[:end_first], "truncated mzML")
bad("truncated_mid_binary.mzML", raw[: raw.index(b"<binary>") + 100], "truncated mzML")
bad("truncated_in_index.mzML", raw[: raw.index(b"<indexList") + 30], "truncated mzML")
i = raw.index(b"<binary>") + 20
flipped = raw[:i] + (b"A" if raw[i : i + 1] != b"A" else b"B") + raw[i + 1 :]
bad("checksum_mismatch.mzML", flipped, "SHA-1 checksum mismatch")
m = re.search(rb"<indexListOffset>(\d+)</indexListOffset>", raw)
assert m is not None
wrong = raw[: m.start(1)] + str(int(m.group(1)) - 7).encode() + raw[m.end(1) :]
bad("index_offset_wrong.mzML", wrong, "indexListOffset")
inner = raw[raw.index(b"<mzML") : raw.index(b"</mzML>") + len(b"</mzML>")]
plain = b'<?xml version="1.0" encoding="utf-8"?>\n' + inner + b"\n"
good("unindexed.mzML", plain, scans[0].mz.tolist(), scans[0].intensity.tolist())
neg = base64.b64encode(zlib.compress(np.linspace(-5.0, 5.0, 200).astype("<f8").tobytes()))
j = plain.index(b"<binary>") + len(b"<binary>")
k = plain.index(b"</binary>", j)
bad("negative_mz_array.mzML", plain[:j] + neg + plain[k:], "is not positive")
bad("unindexed_truncated.mzML", plain[: plain.index(b"</spectrumList>")], "truncated mzML")
# a valid checksum over an altered index: offsets are checked one by one
spec2 = raw.index(b'<offset idRef="scan=2">') + len(b'<offset idRef="scan=2">')
end2 = raw.index(b"</offset>", spec2)
moved = raw[:spec2] + str(int(raw[spec2:end2]) + 3).encode() + raw[end2:]
cut = moved.index(b"<fileChecksum>") + len(b"<fileChecksum>")
digest = hashlib.sha1(moved[:cut], usedforsecurity=False).hexdigest().encode()
moved = moved[:cut] + digest + moved[cut + 40 :]
bad("spectrum_offset_wrong.mzML", moved, "does not point at a <spectrum>")
peaks = np.empty(400, dtype=">f4")
peaks[0::2] = np.linspace(1000.0, 1010.0, 200)
peaks[1::2] = np.linspace(1.0, 200.0, 200)
body = (
    '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
    '<mzXML xmlns="http://sashimi.sourceforge.net/schema_revision/mzXML_3.2">\n'
    '<msRun scanCount="1">\n<scan num="1" msLevel="1" peaksCount="200" polarity="+" '
    'retentionTime="PT30S" centroided="0"><peaks precision="32" byteOrder="network" '
    'contentType="m/z-int" compressionType="none" compressedLen="0">'
    + base64.b64encode(peaks.tobytes()).decode()
    + "</peaks></scan>\n</msRun>\n<sha1>"
).encode()
sealed = (
    body + hashlib.sha1(body, usedforsecurity=False).hexdigest().encode() + b"</sha1>\n</mzXML>\n"
)
good(
    "sha1_sealed.mzXML",
    sealed,
    peaks[0::2].astype(float).tolist(),
    peaks[1::2].astype(float).tolist(),
)
k = sealed.index(b"<peaks") + 200
bad("sha1_mismatch.mzXML", sealed[:k] + b"x" + sealed[k + 1 :], "SHA-1 checksum mismatch")
bad(
    "mzxml_truncated.mzXML", '<?xml version="1.0"?>\n<mzXML><msRun><scan num="1"', "truncated mzXML"
)

(HERE / "EXPECTED.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
print(f"{len(expected)} files")
