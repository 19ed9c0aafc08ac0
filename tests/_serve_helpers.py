"""Helpers for the web app tests: synthetic spectra, a live server process, headless Chromium."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

import nanoalloy as na
from nanoalloy.ms.io import write_csv

PRESET = "auag44-pmba-windows"
# two families in a small window: M44S30 4- ions and M44S26 6- ions (2050-2700 m/z)
MAIN = {"M44S30": {10: 0.1, 11: 0.2, 12: 0.15}, "M44S26": {41: 0.1, 42: 0.15, 43: 0.1}}
# a little series (labels are feed ratios): M44S30 only, x rising
SERIES = {
    "1to10": {"M44S30": {6: 0.3, 7: 0.5, 8: 0.2}},
    "1to4": {"M44S30": {9: 0.3, 10: 0.4, 11: 0.3}},
    "1to3": {"M44S30": {11: 0.4, 12: 0.6}},
}

CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
]


def populations(dist: dict[str, dict[int, float]]) -> pd.DataFrame:
    rows = [{"family": f, "au": x, "fraction": w} for f, d in dist.items() for x, w in d.items()]
    return pd.DataFrame(rows)


def write_spectrum(
    path: Path, dist: dict[str, dict[int, float]], *, seed: int, mz: tuple[float, float]
) -> Path:
    syn = na.synthesize(populations(dist), mz_range=mz, resolution=20_000, seed=seed, preset=PRESET)
    write_csv(syn.spectrum, path)
    return path


def make_spectra(folder: Path) -> dict[str, Path]:
    """The main two-family spectrum, three series spectra and some bad files."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {"main": write_spectrum(folder / "au-ag mix.csv", MAIN, seed=3, mz=(2050.0, 2700.0))}
    for i, (label, dist) in enumerate(SERIES.items()):
        out[label] = write_spectrum(folder / f"{label}.csv", dist, seed=20 + i, mz=(2200.0, 2700.0))
    out["garbage"] = folder / "garbage.mzML"
    out["garbage"].write_bytes(bytes(range(256)) * 16)
    return out


# ----------------------------------------------------------------------------- live server


class LiveServer:
    """``python -m nanoalloy.cli serve`` in a subprocess, on a free port."""

    def __init__(
        self,
        workspace: Path,
        *,
        extra: tuple[str, ...] = (),
        env: dict | None = None,
        new_session: bool = False,
    ):
        src = str(Path(na.__file__).resolve().parents[1])
        environ = dict(os.environ)
        environ["PYTHONPATH"] = src + os.pathsep + environ.get("PYTHONPATH", "")
        environ.update(env or {})
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nanoalloy.cli",
                "serve",
                "--port",
                "0",
                "--workspace",
                str(workspace),
                "--workers",
                "2",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environ,
            start_new_session=new_session,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        self.url = ""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1.0)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            m = re.search(r"(http://\S+/)", line)
            if m:
                self.url = m.group(1)
                break
        if not self.url:
            self.stop()
            raise RuntimeError("server did not start: " + "".join(self.stderr))

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            self.lines.put(line)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return int(self.proc.returncode)


def http_upload(base: str, path: Path, cookie: str, **form: str) -> tuple[int, str, str]:
    """POST one spectrum to ``/upload`` (multipart); returns status, Location and Set-Cookie."""
    import urllib.error
    import urllib.request
    import uuid

    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in form.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="spectra"; '
        f'filename="{path.name}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
        + path.read_bytes()
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    req = urllib.request.Request(base + "upload", data=b"".join(parts))
    req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    if cookie:
        req.add_header("Cookie", cookie)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    try:
        resp = urllib.request.build_opener(NoRedirect).open(req, timeout=60)
        status, headers = resp.status, resp.headers
        resp.close()
    except urllib.error.HTTPError as exc:
        status, headers = exc.code, exc.headers
        exc.close()
    return status, headers.get("Location", ""), headers.get("Set-Cookie", "")


# ----------------------------------------------------------------------------- browser


def chromium_driver(download_dir: Path) -> Any:
    """A headless Chromium WebDriver (Debian chromium + chromium-driver), or None."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    exe = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None)
    drv = shutil.which("chromedriver")
    if exe is None or drv is None:
        return None
    opts = webdriver.ChromeOptions()
    opts.binary_location = exe
    for flag in CHROME_FLAGS:
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"download.default_directory": str(download_dir)})
    return webdriver.Chrome(service=Service(executable_path=drv), options=opts)


def browser_missing_reason() -> str:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium not installed (pip install 'nanoalloy[test]')"
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        return "headless Chromium not installed (Debian: apt-get install chromium chromium-driver)"
    if not shutil.which("chromedriver"):
        return "chromedriver not installed (Debian: apt-get install chromium-driver)"
    return ""
