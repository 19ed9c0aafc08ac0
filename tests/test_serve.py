"""The web app (``nanoalloy serve``): pages, jobs, safety, persistence, and a real browser.

The first part drives the Flask app with its test client (jobs run on the real worker
pool); the second starts ``nanoalloy serve`` as a process and drives headless Chromium
(Debian ``chromium`` + ``chromium-driver``, Selenium) through upload, assign, ion
patterns, a bad file, a series, a simulation, a comparison and a restart, saving a
screenshot of each page into the test's tmp folder (and into ``$NANOALLOY_SCREENSHOTS``
when set, which is how ``docs/screenshots`` is made).
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("flask")
pytest.importorskip("waitress")

from werkzeug.test import EnvironBuilder  # noqa: E402

import nanoalloy as na  # noqa: E402
from _serve_helpers import (  # noqa: E402
    PRESET,
    SERIES,
    LiveServer,
    browser_missing_reason,
    chromium_driver,
    http_upload,
    make_spectra,
)
from nanoalloy import cli  # noqa: E402
from nanoalloy.app import create_app  # noqa: E402
from nanoalloy.app.store import Store  # noqa: E402
from nanoalloy.ms.io import write_mzml  # noqa: E402

TIMEOUT = 120.0


@pytest.fixture(scope="module")
def spectra(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_spectra(tmp_path_factory.mktemp("spectra"))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    a = create_app(tmp_path_factory.mktemp("ws"), workers=2, max_upload_mb=5)
    yield a
    a.extensions["nanoalloy"]["queue"].shutdown()


def _client(app: Any) -> Any:
    return app.test_client()


def _post(client: Any, url: str, data: dict[str, Any]) -> Any:
    """A multipart POST whose spooled request body is closed afterwards (the test client's is not)."""
    builder = EnvironBuilder(path=url, method="POST", data=data)
    environ = builder.get_environ()
    builder.close()
    try:
        return client.open(environ)
    finally:
        environ["wsgi.input"].close()


def _upload(client: Any, path: Path, *, name: str | None = None, **form: str) -> Any:
    data: dict[str, Any] = {"preset": PRESET, "assign": "1", **form}
    data["spectra"] = (io.BytesIO(path.read_bytes()), name or path.name)
    return _post(client, "/upload", data)


def _wait(client: Any, jid: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{jid}").get_json()
        if job["state"] not in ("queued", "running"):
            return dict(job)
        time.sleep(0.3)
    raise AssertionError(f"job {jid} did not finish")


def _job_id(resp: Any) -> str:
    assert resp.status_code == 303, resp.data[-2000:]
    return str(resp.headers["Location"].rsplit("/", 1)[1])


def _messages(resp: Any) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<li class="error">(.*?)</li>', resp.text)]


@pytest.fixture(scope="module")
def assigned(app: Any, spectra: dict[str, Path]) -> tuple[Any, str]:
    client = _client(app)
    jid = _job_id(_upload(client, spectra["main"]))
    job = _wait(client, jid)
    assert job["state"] == "done", job["message"]
    return client, jid


# ----------------------------------------------------------------------------- the app


def test_assign_job_result_page_and_tables(assigned: tuple[Any, str]) -> None:
    client, jid = assigned
    page = client.get(f"/jobs/{jid}")
    assert page.status_code == 200
    fam_html = page.text.split('id="families"', 1)[1].split("</table>", 1)[0]
    assert "M44S30" in fam_html and "M44S26" in fam_html
    fig = json.loads(
        re.search(r'id="fig-spectrum">(.*?)</script>', page.text, re.S).group(1)  # type: ignore[union-attr]
    )
    names = [t.get("name") for t in fig["data"]]
    assert names[:3] == ["measured", "model", "residual"]
    assert any(str(n).startswith("ions M44S30") for n in names)
    assert all(t.get("visible", True) is True for t in fig["data"][:3])  # residual shown
    job = client.get(f"/api/jobs/{jid}").get_json()
    assert job["progress"] == 1.0 and job["stage"] == "done"


def test_ion_pattern_overlay_matches_the_fitted_ion(app: Any, assigned: tuple[Any, str]) -> None:
    client, jid = assigned
    folder = app.extensions["nanoalloy"]["store"].job_dir(jid)
    ions = pd.read_csv(folder / "ions.csv")
    row = ions.iloc[0]
    d = client.get(f"/api/jobs/{jid}/ion", query_string={"ion": row["ion"]}).get_json()
    assert d["ion"] == row["ion"] and d["species"] == row["species"]
    assert d["ppm_error"] == pytest.approx(row["ppm_error"])
    x, y = np.array(d["pattern"]["mz"]), np.array(d["pattern"]["y"])
    # drawn at the observed position, with the fitted area (the pattern covers ~all probability)
    mean = float(np.sum(x * y) / np.sum(y))
    assert mean == pytest.approx(row["mz_observed"], abs=0.01)
    assert float(np.trapezoid(y, x)) == pytest.approx(row["intensity"], rel=0.02)
    assert 0.0 <= d["ambiguity_share"] <= 1.0
    # the zoom the page applies holds the envelope and the tallest point around it
    assert d["view"]["x"][0] < x.min() and d["view"]["x"][1] > x.max()
    assert d["view"]["y"][1] >= 1.1 * y.max() - 1e-12
    # the fitted model is at least as tall as this one ion's pattern near its apex
    fit = pd.read_csv(folder / "fit.csv")
    near = fit[(fit["mz"] > x.min()) & (fit["mz"] < x.max())]
    assert near["model"].max() >= 0.9 * y.max()
    bad = client.get(f"/api/jobs/{jid}/ion", query_string={"ion": "[Au44(p-MBA)26]2-"})
    assert bad.status_code == 404 and "not one of this job's ions" in bad.get_json()["error"]


def test_near_isobar_share_counts_partner_signal(app: Any, assigned: tuple[Any, str]) -> None:
    client, jid = assigned
    ions = pd.read_csv(app.extensions["nanoalloy"]["store"].job_dir(jid) / "ions.csv")
    with_partner = ions[ions["near_isobar"].fillna("").astype(str) != ""]
    if with_partner.empty:
        pytest.skip("no near-isobaric ion pair in this spectrum")
    row = with_partner.iloc[0]
    d = client.get(f"/api/jobs/{jid}/ion", query_string={"ion": row["ion"]}).get_json()
    partners = str(row["near_isobar"]).split(";")
    assert [p["ion"] for p in d["partners"]] == partners
    other = sum(float(ions.loc[ions["ion"] == p, "intensity"].sum()) for p in partners)
    assert d["ambiguity_share"] == pytest.approx(other / (other + row["intensity"]))


def test_downloads(assigned: tuple[Any, str]) -> None:
    client, jid = assigned
    z = client.get(f"/jobs/{jid}/results.zip")
    assert z.status_code == 200 and z.mimetype == "application/zip"
    names = {n.rsplit("/", 1)[1] for n in zipfile.ZipFile(io.BytesIO(z.data)).namelist()}
    assert {"species.csv", "ions.csv", "families.csv", "fit.csv", "report.html"} <= names
    with client.get(f"/jobs/{jid}/files/families.csv") as fams:
        assert fams.status_code == 200
        assert set(pd.read_csv(io.BytesIO(fams.data))["family"]) == {"M44S30", "M44S26"}
    with client.get(f"/jobs/{jid}/files/report.html") as rep:
        assert rep.status_code == 200 and "<script" in rep.text
        assert not re.search(r"<script[^>]*\bsrc=", rep.text)  # self-contained
    for bad in ("..%2Fnanoalloy.sqlite", "nanoalloy.sqlite", "%2Fetc%2Fpasswd"):
        assert client.get(f"/jobs/{jid}/files/{bad}").status_code == 404


def test_two_browsers_do_not_see_each_others_jobs(app: Any, assigned: tuple[Any, str]) -> None:
    client, jid = assigned
    other = _client(app)
    assert other.get(f"/jobs/{jid}").status_code == 404
    assert other.get(f"/api/jobs/{jid}").status_code == 404
    assert other.get(f"/jobs/{jid}/results.zip").status_code == 404
    assert other.post(f"/jobs/{jid}/rerun").status_code == 404
    assert other.get("/api/jobs").get_json() == []
    assert jid not in other.get("/jobs").text
    assert jid in {j["id"] for j in client.get("/api/jobs").get_json()}


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("garbage.mzML", bytes(range(256)) * 16, "binary content"),
        ("empty.csv", b"", "empty"),
        ("one column.txt", b"1000.0\n1001.0\n1002.0\n" * 10, ""),
        ("cut.mzML", b'<?xml version="1.0"?>\n<mzML xmlns="http://psi.hupo.org/ms/mzml"><run>', ""),
        ("nan.csv", b"1000.0,1.0\n1000.1,nan\n1000.2,3.0\n" * 10, ""),
        # the readers' advice names --columns, which the upload form does not have
        (
            "mz.csv",
            b"m/z,intensity\n" + b"".join(b"%d,%d\n" % (k - 5, 10 + k) for k in range(40)),
            "save the file with its m/z and intensity columns first",
        ),
    ],
)
def test_bad_files_give_a_readable_message(
    app: Any, name: str, content: bytes, expected: str
) -> None:
    client = _client(app)
    before = set((app.extensions["nanoalloy"]["store"].root / "uploads").iterdir())
    resp = client.post(
        "/upload",
        data={"spectra": (io.BytesIO(content), name), "assign": "1", "preset": PRESET},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400
    msgs = _messages(resp)
    assert len(msgs) == 1 and msgs[0].startswith(f"{name}:"), msgs
    assert expected in msgs[0]
    assert "Traceback" not in resp.text and "/uploads/" not in msgs[0]
    assert set((app.extensions["nanoalloy"]["store"].root / "uploads").iterdir()) == before
    assert client.get("/api/jobs").get_json() == []


def test_filenames_are_never_paths(app: Any, spectra: dict[str, Path]) -> None:
    client = _client(app)
    root = app.extensions["nanoalloy"]["store"].root
    resp = _upload(client, spectra["1to3"], name="../../../evil name.csv", assign="0")
    assert resp.status_code == 200
    assert not (root.parent / "evil name.csv").exists()
    up = app.extensions["nanoalloy"]["store"].uploads(
        __import__("hashlib")
        .sha256(client.get_cookie("nanoalloy_session").value.encode())
        .hexdigest()
    )[0]
    assert up["name"] == "evil name.csv"
    assert re.fullmatch(r"[0-9a-f]{12}\.csv", up["stored"])
    assert (root / "uploads" / up["stored"]).exists()
    assert "evil name.csv" in client.get("/").text


def test_names_and_labels_are_escaped(app: Any, spectra: dict[str, Path]) -> None:
    client = _client(app)
    evil = "<img src=x onerror=alert(1)>.csv"
    resp = _upload(client, spectra["1to3"], name=evil, assign="0")
    assert resp.status_code == 200
    assert "<img src=x" not in resp.text and "&lt;img src=x onerror=alert(1)&gt;.csv" in resp.text
    bad = _post(client, "/upload", {"spectra": (io.BytesIO(b"\x00\x01" * 100), "<i>bad.mzML")})
    assert "<i>bad" not in bad.text and "&lt;i&gt;bad.mzML: binary content" in bad.text


def test_upload_limit_and_request_guards(tmp_path: Path, spectra: dict[str, Path]) -> None:
    small = create_app(tmp_path / "ws", workers=1, max_upload_mb=0.05)
    try:
        client = small.test_client()
        resp = _upload(client, spectra["main"])
        assert resp.status_code == 413
        assert "larger than the limit of 0.05 MB" in html.unescape(resp.text)
        assert client.get("/", headers={"Host": "evil.example:8050"}).status_code == 400
        assert client.get("/", headers={"Host": "localhost:8050"}).status_code == 200
        cross = client.post(
            "/simulate", data={"au44": "1"}, headers={"Origin": "http://evil.example"}
        )
        assert cross.status_code == 403
        assert (
            small.extensions["nanoalloy"]["store"].jobs(
                __import__("hashlib")
                .sha256(client.get_cookie("nanoalloy_session").value.encode())
                .hexdigest()
            )
            == []
        )
    finally:
        small.extensions["nanoalloy"]["queue"].shutdown()


def test_multi_scan_file_scan_and_time_picker(
    app: Any, spectra: dict[str, Path], tmp_path: Path
) -> None:
    a = na.read(spectra["1to10"]).with_metadata(rt_min=2.0)
    b = na.read(spectra["1to3"]).with_metadata(rt_min=30.0)
    path = tmp_path / "course.mzML"
    write_mzml([a, b], path)
    client = _client(app)
    resp = _upload(client, path)
    assert resp.status_code == 200 and "holds 2 scans" in resp.text
    assert client.get("/api/jobs").get_json() == []  # nothing assigned without a choice
    uid = re.search(r'href="/uploads/([0-9a-f]{12})"', resp.text).group(1)  # type: ignore[union-attr]
    page = client.get(f"/uploads/{uid}")
    assert page.text.count("<option value=") >= 2 and "30 min" in page.text
    bad = client.post(f"/uploads/{uid}/assign", data={"pick": "scan", "scan": "7"})
    assert bad.status_code == 400 and "Pick one of the listed scans" in html.unescape(bad.text)
    jid = _job_id(
        client.post(f"/uploads/{uid}/assign", data={"pick": "time", "time": "29", "preset": PRESET})
    )
    job = _wait(client, jid)
    assert job["state"] == "done", job["message"]
    store = app.extensions["nanoalloy"]["store"]
    summary = json.loads((store.job_dir(jid) / "summary.json").read_text())
    assert summary["scan"] == 1 and summary["rt_min"] == pytest.approx(30.0)
    fams = pd.read_csv(store.job_dir(jid) / "families.csv").set_index("family")
    assert fams.loc["M44S30", "mean_x"] > 11  # the 30 min scan (x 11-12), not the first (6-8)


def test_interrupted_jobs_are_marked_and_rerun(tmp_path: Path, spectra: dict[str, Path]) -> None:
    ws = tmp_path / "ws"
    first = create_app(ws, workers=1)
    client = first.test_client()
    store: Store = first.extensions["nanoalloy"]["store"]
    resp = _upload(client, spectra["1to3"], assign="0")
    assert resp.status_code == 200
    owner = (
        __import__("hashlib")
        .sha256(client.get_cookie("nanoalloy_session").value.encode())
        .hexdigest()
    )
    up = store.uploads(owner)[0]
    # a job the server was running when it stopped
    jid = store.add_job(
        owner,
        "assign",
        "assign 1to3.csv",
        {"stored": up["stored"], "name": up["name"], "preset": PRESET},
    )
    store.update_job(jid, state="running", progress=0.4, stage="assigning")
    first.extensions["nanoalloy"]["queue"].shutdown()
    second = create_app(ws, workers=1)
    try:
        c2 = second.test_client()
        c2.set_cookie("nanoalloy_session", client.get_cookie("nanoalloy_session").value)
        job = c2.get(f"/api/jobs/{jid}").get_json()
        assert job["state"] == "interrupted" and "server stopped" in job["message"]
        assert "re-run" in c2.get("/jobs").text
        assert c2.post(f"/jobs/{jid}/rerun").status_code == 303
        assert _wait(c2, jid)["state"] == "done"
    finally:
        second.extensions["nanoalloy"]["queue"].shutdown()


def test_failed_job_records_a_readable_line(app: Any, spectra: dict[str, Path]) -> None:
    client = _client(app)
    resp = _upload(client, spectra["1to3"], resolution="50")
    assert resp.status_code == 200
    assert "resolving power must be between 100 and 1e7" in html.unescape(resp.text)
    # a preset TOML that does not load
    data = {
        "spectra": (io.BytesIO(spectra["1to3"].read_bytes()), "x.csv"),
        "preset_file": (io.BytesIO(b"[families\nnot toml"), "mine.toml"),
        "assign": "1",
    }
    resp = _post(client, "/upload", data)
    msgs = _messages(resp)
    assert any(m.startswith("mine.toml: not a usable preset") for m in msgs), msgs


def test_series_simulate_and_compare(app: Any, spectra: dict[str, Path]) -> None:
    client = _client(app)
    uids = []
    for label in SERIES:
        resp = _upload(client, spectra[label], assign="0")
        uids.append(re.findall(r'href="/uploads/([0-9a-f]{12})"', resp.text)[0])
    form: dict[str, Any] = {"upload": uids, "preset": PRESET}
    for uid, label in zip(uids, ["1:10", "1:4", "1:3"], strict=True):
        form[f"label-{uid}"] = label
    one = client.post("/series", data={"upload": uids[:1], "preset": PRESET})
    assert one.status_code == 400 and "at least two uploads" in one.text
    jid = _job_id(client.post("/series", data=form))
    job = _wait(client, jid)
    assert job["state"] == "done", job["message"]
    page = client.get(f"/jobs/{jid}").text
    fig = json.loads(re.search(r'id="fig-fractions">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    m30 = next(t for t in fig["data"] if t["name"] == "M44S30")
    assert len(m30["x"]) == 3 and sorted(m30["text"]) == ["1:10", "1:3", "1:4"]
    assert 'id="fig-heatmap"' in page
    # simulate with a dosing step, then compare with an assignment
    bad = client.post("/simulate", data={"au44": "0", "ag44": "0"})
    assert bad.status_code == 400 and "the feed is empty" in html.unescape(bad.text)
    bad = client.post("/simulate", data={"au44": "1", "ag44": "3", "add_t0": "50", "add_eq0": "1"})
    assert bad.status_code == 400 and "dosing row 1" in bad.text
    sim = _job_id(
        client.post(
            "/simulate",
            data={
                "au44": "1",
                "ag44": "3",
                "hours": "20",
                "add_t0": "10",
                "add_sp0": "Ag44",
                "add_eq0": "0.5",
            },
        )
    )
    job = _wait(client, sim)
    assert job["state"] == "done", job["message"]
    page = client.get(f"/jobs/{sim}").text
    assert 'id="fig-timecourse"' in page and 'id="fig-final"' in page
    summary = json.loads(
        (app.extensions["nanoalloy"]["store"].job_dir(sim) / "summary.json").read_text()
    )
    assert summary["additions"] == [{"time_h": 10.0, "species": "Ag44", "amount": 0.5}]
    fit = _job_id(_upload(client, spectra["1to3"]))
    assert _wait(client, fit)["state"] == "done"
    comp = client.get("/compare", query_string={"sim": sim, "assign": fit})
    assert comp.status_code == 200
    table = comp.text.split('id="compare"', 1)[1]
    assert "M44S30" in table
    assert client.get("/compare", query_string={"sim": fit, "assign": sim}).status_code == 404


# ----------------------------------------------------------------------------- command line


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["serve", "--port", "70000"])
    assert exc.value.code == 2
    assert "port must be 0-65535" in capsys.readouterr().err
    assert cli.main(["serve", "--workers", "0"]) == 2  # an option out of range, as --port
    assert (
        capsys.readouterr().err.strip() == "nanoalloy serve: error: --workers must be 1-64, got 0"
    )


def test_cli_workspace_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ws").write_text("not a folder")
    assert cli.main(["serve", "--workspace", str(tmp_path / "ws")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists and is not a folder" in err


def test_cli_warns_off_loopback_and_stops_cleanly(tmp_path: Path) -> None:
    srv = LiveServer(tmp_path / "ws", extra=("--host", "0.0.0.0"))
    try:
        assert any("warning: listening on 0.0.0.0" in line for line in srv.stderr)
    finally:
        code = srv.stop()
    assert code == 0
    assert (tmp_path / "ws" / "nanoalloy.sqlite").exists()


def test_cli_port_in_use_is_one_line(tmp_path: Path) -> None:
    srv = LiveServer(tmp_path / "ws")
    try:
        port = srv.url.rsplit(":", 1)[1].strip("/")
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "nanoalloy.cli",
                "serve",
                "--port",
                port,
                "--workspace",
                str(tmp_path / "w2"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(Path(na.__file__).resolve().parents[1])},
        )
    finally:
        srv.stop()
    assert res.returncode == 1
    assert res.stderr.count("\n") <= 2 and "Traceback" not in res.stderr
    assert "nanoalloy serve: error:" in res.stderr


def test_ctrl_c_marks_running_jobs_interrupted(tmp_path: Path, spectra: dict[str, Path]) -> None:
    """Ctrl-C reaches the server and its workers: no job is left running, none is 'failed'."""
    ws = tmp_path / "ws"
    srv = LiveServer(ws, new_session=True)
    cookie = ""
    try:
        for _ in range(4):
            status, _, set_cookie = http_upload(
                srv.url, spectra["main"], cookie, preset=PRESET, assign="1"
            )
            assert status == 303
            cookie = cookie or set_cookie.split(";", 1)[0]
        store = Store(ws)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with store.connect() as con:
                states = [r[0] for r in con.execute("SELECT state FROM jobs")]
            if "running" in states:
                break
            time.sleep(0.1)
        assert "running" in states, states
    finally:
        os.killpg(srv.proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        srv.proc.wait(timeout=120)
        srv.stop()
    with store.connect() as con:
        rows = con.execute("SELECT state, message FROM jobs").fetchall()
    assert len(rows) == 4
    assert {r["state"] for r in rows} <= {"done", "interrupted"}, [tuple(r) for r in rows]
    assert all("server stopped" in r["message"] for r in rows if r["state"] == "interrupted")
    assert any(r["state"] == "interrupted" for r in rows)


# ----------------------------------------------------------------------------- real browser


def _shot(driver: Any, folder: Path, name: str, *, top: bool = True) -> None:
    if top:
        driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(folder / f"{name}.png"))
    extra = os.environ.get("NANOALLOY_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / f"{name}.png", Path(extra) / f"{name}.png")


def _js_ok(driver: Any) -> None:
    from selenium.common.exceptions import JavascriptException
    from selenium.webdriver.support.ui import WebDriverWait

    # (a page may still be replacing the previous one: retry until its status element is there)
    WebDriverWait(driver, 30, ignored_exceptions=(JavascriptException,)).until(
        lambda d: (
            d.execute_script(
                "var s=document.getElementById('js-status');return s&&s.getAttribute('data-done')"
            )
            == "1"
        )
    )
    errs = driver.execute_script("return window.__nanoalloyErrors")
    assert errs == [], errs


def _wait_done(driver: Any) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    def state(d: Any) -> Any:
        s = d.execute_script(
            "var j=document.getElementById('job');return j&&j.getAttribute('data-state')"
        )
        return s if s in ("done", "failed", "interrupted") else False

    from selenium.common.exceptions import JavascriptException

    wait = WebDriverWait(
        driver, TIMEOUT, poll_frequency=0.5, ignored_exceptions=(JavascriptException,)
    )
    return str(wait.until(state))


def _dump_failure(driver: Any, srv: LiveServer, shots: Path) -> None:
    """On a failure: screenshot, page source, browser console and server log (shown by pytest)."""
    try:
        driver.save_screenshot(str(shots / "failure.png"))
        (shots / "failure.html").write_text(driver.page_source)
        print("page:", driver.current_url)
        print("script errors:", driver.execute_script("return window.__nanoalloyErrors"))
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        print("could not capture the page:", exc)
    print("server log:\n" + "".join(srv.stderr[-50:]))


def test_in_headless_chromium(spectra: dict[str, Path], tmp_path: Path) -> None:
    reason = browser_missing_reason()
    if reason:
        pytest.skip(reason)
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    shots = tmp_path / "screenshots"
    shots.mkdir()
    ws = tmp_path / "ws"
    srv = LiveServer(ws)
    driver = chromium_driver(tmp_path / "downloads")
    assert driver is not None
    try:
        base = srv.url
        # 1. upload a synthetic spectrum -> job completes -> families -> click an ion
        driver.get(base)
        _js_ok(driver)
        _shot(driver, shots, "1-upload")
        Select(driver.find_element(By.ID, "preset")).select_by_value(PRESET)
        driver.find_element(By.ID, "spectra").send_keys(str(spectra["main"]))
        driver.find_element(By.ID, "upload-button").click()
        assert _wait_done(driver) == "done"
        WebDriverWait(driver, 30).until(
            lambda d: (
                d.execute_script(
                    "var j=document.getElementById('job');return j&&j.getAttribute('data-ready')"
                )
                == "1"
            )
        )
        _js_ok(driver)
        families = driver.find_element(By.ID, "families").text
        assert "M44S30" in families and "M44S26" in families
        # tables sort on a header click and filter as one types
        head = next(
            th
            for th in driver.find_elements(By.CSS_SELECTOR, "#species thead th")
            if th.text.strip() == "abundance"
        )
        driver.execute_script("arguments[0].scrollIntoView()", head)
        head.click()
        head.click()  # descending
        col = driver.execute_script(
            "var t=document.getElementById('species'),i=-1;"
            "t.querySelectorAll('thead th').forEach(function(h,k){"
            "if(h.textContent.trim()==='abundance'){i=k;}});"
            "return Array.prototype.map.call(t.tBodies[0].rows,"
            "function(r){return parseFloat(r.cells[i].getAttribute('data-v'));});"
        )
        assert len(col) >= 6 and col == sorted(col, reverse=True)
        box = driver.find_element(By.CSS_SELECTOR, "input.filter[data-table=species]")
        box.send_keys("M44S26")
        shown = [
            r.text
            for r in driver.find_elements(By.CSS_SELECTOR, "#species tbody tr")
            if r.is_displayed()
        ]
        assert shown and all("M44S26" in t for t in shown)
        box.clear()
        box.send_keys(" ")
        box.send_keys("\b")
        _shot(driver, shots, "2-result")
        first_ion = driver.find_element(By.CSS_SELECTOR, "#ions tbody tr td").text
        driver.find_element(By.CSS_SELECTOR, "#ions tbody tr").click()
        WebDriverWait(driver, 30).until(
            lambda d: d.find_element(By.ID, "ion-name").text == first_ion
        )
        traces = driver.execute_script(
            "return document.getElementById('spectrum').data.map(function(t){return t.name;})"
        )
        assert f"pattern {first_ion}" in traces
        assert driver.find_element(By.ID, "ion-ppm").text != ""
        assert "%" in driver.find_element(By.ID, "ion-share").text
        assert "selected" in driver.find_element(By.CSS_SELECTOR, "#ions tbody tr").get_attribute(
            "class"
        )
        # a click on an ion marker in the plot (after a reset of the zoom)
        driver.execute_script(
            "Plotly.relayout('spectrum', {'xaxis.autorange': true, 'yaxis.autorange': true})"
        )
        marker = driver.execute_script(
            "var d=document.getElementById('spectrum');"
            "var i=d.data.findIndex(function(t){return String(t.name).indexOf('ions M44S26')===0;});"
            "var pts=d.querySelectorAll('.scatterlayer .trace')[i].querySelectorAll('.points path');"
            "return pts[0];"
        )
        ActionChains(driver).move_to_element(marker).pause(0.3).click().perform()
        WebDriverWait(driver, 30).until(
            lambda d: "M44S26" in d.find_element(By.ID, "ion-species").text
        )
        # a species row picks its strongest ion
        driver.find_element(By.CSS_SELECTOR, "#species tbody tr").click()
        sp = driver.find_element(By.CSS_SELECTOR, "#species tbody tr td").text
        WebDriverWait(driver, 30).until(lambda d: sp in d.find_element(By.ID, "ion-species").text)
        plots = driver.execute_script("return document.querySelectorAll('.main-svg').length")
        assert plots >= 1
        driver.execute_script("document.getElementById('spectrum').scrollIntoView()")
        _shot(driver, shots, "2b-ion-pattern", top=False)
        job_url = driver.current_url

        # 2. garbage -> readable error in the page
        driver.get(base)
        driver.find_element(By.ID, "spectra").send_keys(str(spectra["garbage"]))
        driver.find_element(By.ID, "upload-button").click()
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "messages"))
        msg = driver.find_element(By.CSS_SELECTOR, "#messages li.error").text
        assert msg.startswith("garbage.mzML:") and "not a spectrum file" in msg
        assert "Traceback" not in driver.page_source
        _js_ok(driver)
        _shot(driver, shots, "3-bad-file")

        # 3. a series of three labelled uploads -> three points in the fraction plot
        driver.get(base)
        driver.find_element(By.CSS_SELECTOR, "input[name=assign]").click()  # upload only
        driver.find_element(By.ID, "spectra").send_keys(
            "\n".join(str(spectra[label]) for label in SERIES)
        )
        driver.find_element(By.ID, "upload-button").click()
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "messages"))
        oks = driver.find_elements(By.CSS_SELECTOR, "#messages li.ok")
        assert len(oks) == 3, driver.find_element(By.ID, "messages").text
        driver.get(base + "series")
        rows = driver.find_elements(By.CSS_SELECTOR, "#series-uploads tbody tr")
        labels = {"1to10": "1:10", "1to4": "1:4", "1to3": "1:3"}
        for row in rows:
            name = row.find_elements(By.TAG_NAME, "td")[1].text
            stem = name.rsplit(".", 1)[0]
            if stem in labels:
                row.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
                box = row.find_element(By.CSS_SELECTOR, "input[type=text]")
                box.clear()
                box.send_keys(labels[stem])
        Select(driver.find_element(By.ID, "preset")).select_by_value(PRESET)
        _shot(driver, shots, "4-series-form")
        driver.find_element(By.ID, "series-button").click()
        assert _wait_done(driver) == "done"
        _js_ok(driver)
        npts = driver.execute_script(
            "var d=document.getElementById('fractions').data;"
            "return d.filter(function(t){return t.name==='M44S30';})[0].x.length"
        )
        assert npts == 3
        _shot(driver, shots, "5-series")

        # 4. simulate, then compare with the assignment
        driver.get(base + "simulate")
        _shot(driver, shots, "6-simulate-form")
        driver.find_element(By.ID, "au44").clear()
        driver.find_element(By.ID, "au44").send_keys("1")
        driver.find_element(By.ID, "ag44").clear()
        driver.find_element(By.ID, "ag44").send_keys("3")
        driver.find_element(By.ID, "simulate-button").click()
        assert _wait_done(driver) == "done"
        _js_ok(driver)
        assert (
            driver.execute_script("return document.getElementById('timecourse').data.length") >= 1
        )
        _shot(driver, shots, "7-simulation")
        driver.get(base + "compare")
        _js_ok(driver)
        assert "M44S30" in driver.find_element(By.ID, "compare").text
        _shot(driver, shots, "8-compare")
        driver.get(base + "jobs")
        _js_ok(driver)
        before = {
            r.get_attribute("data-job"): r.get_attribute("data-state")
            for r in driver.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")
        }
        assert len(before) == 3 and set(before.values()) == {"done"}
        _shot(driver, shots, "9-history")
    except Exception:
        _dump_failure(driver, srv, shots)
        raise
    finally:
        srv.stop()

    # 5. restart the server on the same workspace: the history is still there
    srv = LiveServer(ws)
    try:
        driver.get(srv.url + "jobs")
        _js_ok(driver)
        after = {
            r.get_attribute("data-job"): r.get_attribute("data-state")
            for r in driver.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")
        }
        assert after == before
        _shot(driver, shots, "10-history-after-restart")
        driver.get(srv.url + job_url.split("/", 3)[3])
        _js_ok(driver)
        assert "M44S30" in driver.find_element(By.ID, "families").text
    except Exception:
        _dump_failure(driver, srv, shots)
        raise
    finally:
        driver.quit()
        srv.stop()
    assert len(list(shots.glob("*.png"))) == 11


def test_a_port_in_use_leaves_no_workspace_behind(tmp_path: Path) -> None:
    """`serve --port N` with N taken said "Address already in use" and left a new, empty
    workspace (database, jobs, uploads): a half-made output. It is removed again; a
    workspace that was there before is left as it was. (In a process of its own: waitress
    leaves the failed listener's socket to the garbage collector.)"""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = str(s.getsockname()[1])
        old = tmp_path / "old"
        old.mkdir()
        (old / "keep.txt").write_text("x")
        for ws in (tmp_path / "ws", old):
            run = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "nanoalloy",
                    "serve",
                    "--port",
                    port,
                    "--workspace",
                    str(ws),
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert run.returncode == 1, run.stderr
            assert run.stderr.count("\n") == 1 and "in use" in run.stderr, run.stderr
    assert not (tmp_path / "ws").exists()
    assert (old / "keep.txt").read_text() == "x"
