"""Load check of ``nanoalloy serve``: 4 concurrent browsers, 20 uploads and assign jobs.

Starts ``nanoalloy serve`` on 127.0.0.1 (any free port, a fresh workspace, 2 worker
processes), then 4 client threads, each with its own session cookie, upload 5
synthetic spectra each with "assign right away" (20 jobs) and, until all their jobs
end, keep loading pages (upload page, history, job pages, job status, series and
simulate pages) like a browser would. Prints: jobs done / lost / failed, wall time,
the page response times (count, median, p95, max) measured while jobs were running,
and, as its last line, ``ratio: N`` = p95 / 300 ms budget (< 1 passes).

    python benchmarks/serve.py [--clients 4] [--uploads 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

import nanoalloy as na
from nanoalloy.ms.io import write_csv

PRESET = "auag44-pmba-windows"
BUDGET_MS = 300.0
DISTS = [
    {"M44S30": {6: 0.3, 7: 0.5, 8: 0.2}},
    {"M44S30": {9: 0.3, 10: 0.4, 11: 0.3}},
    {"M44S30": {11: 0.4, 12: 0.6}},
    {"M44S30": {10: 0.1, 11: 0.2, 12: 0.15}, "M44S26": {41: 0.1, 42: 0.15, 43: 0.1}},
    {"M44S30": {2: 0.2, 3: 0.5, 4: 0.3}},
]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


OPENER = urllib.request.build_opener(NoRedirect)


class Client:
    """One browser: a session cookie, timed requests."""

    def __init__(self, base: str, times: list[tuple[str, float]], running: threading.Event) -> None:
        self.base = base
        self.cookie = ""
        self.times = times
        self.running = running

    def request(
        self, path: str, data: bytes | None = None, ctype: str = ""
    ) -> tuple[int, str, dict]:
        req = urllib.request.Request(self.base + path.lstrip("/"), data=data)
        if ctype:
            req.add_header("Content-Type", ctype)
        if self.cookie:
            req.add_header("Cookie", self.cookie)
        t0 = time.perf_counter()
        try:
            resp = OPENER.open(req, timeout=120)
            status, body, headers = resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            status, body, headers = exc.code, exc.read(), dict(exc.headers)
        dt = time.perf_counter() - t0
        if data is None and self.running.is_set():
            kind = re.sub(r"[0-9a-f]{12}", "ID", path)
            self.times.append((kind, dt))
        m = re.search(r"nanoalloy_session=([^;]+)", headers.get("Set-Cookie", ""))
        if m:
            self.cookie = f"nanoalloy_session={m.group(1)}"
        return status, body.decode("utf-8", "replace"), headers

    def upload(self, path: Path) -> str:
        boundary = uuid.uuid4().hex
        parts = []
        for k, v in (("preset", PRESET), ("assign", "1")):
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            )
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="spectra"; filename="{path.name}"\r\n'
            "Content-Type: text/csv\r\n\r\n".encode()
            + path.read_bytes()
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        status, body, headers = self.request(
            "/upload", b"".join(parts), f"multipart/form-data; boundary={boundary}"
        )
        if status != 303:
            raise RuntimeError(f"upload failed ({status}): {body[-500:]}")
        return str(headers["Location"]).rsplit("/", 1)[1]


def run_client(client: Client, files: list[Path], out: queue.Queue) -> None:
    client.request("/")  # gets the session cookie
    jobs = [client.upload(f) for f in files]
    pages = ["/", "/jobs", "/series", "/simulate"]
    k = 0
    while True:
        states = {}
        for jid in jobs:
            status, body, _ = client.request(f"/api/jobs/{jid}")
            states[jid] = re.search(r'"state":\s*"(\w+)"', body).group(1)  # type: ignore[union-attr]
        if all(s not in ("queued", "running") for s in states.values()):
            break
        client.request(pages[k % len(pages)])
        done = [j for j, s in states.items() if s == "done"]
        if done:
            client.request(f"/jobs/{done[k % len(done)]}")
        k += 1
        time.sleep(0.2)
    _, body, _ = client.request("/api/jobs")
    listed = re.findall(r'"id":\s*"(\w+)"', body)
    out.put((jobs, states, listed))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--uploads", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nanoalloy-serve-bench-"))
    files = []
    for i, dist in enumerate(DISTS):
        pops = pd.DataFrame(
            [{"family": f, "au": x, "fraction": w} for f, d in dist.items() for x, w in d.items()]
        )
        syn = na.synthesize(
            pops, mz_range=(2050.0, 2700.0), resolution=20_000, seed=i, preset=PRESET
        )
        files.append(tmp / f"spectrum-{i}.csv")
        write_csv(syn.spectrum, files[-1])
    size_kb = np.mean([f.stat().st_size for f in files]) / 1024
    env = dict(os.environ)
    env["PYTHONPATH"] = (
        str(Path(na.__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nanoalloy.cli",
            "serve",
            "--port",
            "0",
            "--workspace",
            str(tmp / "ws"),
            "--workers",
            str(args.workers),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    base = ""
    for line in proc.stderr:
        m = re.search(r"(http://\S+/)", line)
        if m:
            base = m.group(1)
            break
    if not base:
        print("server did not start", file=sys.stderr)
        return 1
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
    times: list[tuple[str, float]] = []
    running = threading.Event()
    running.set()
    out: queue.Queue = queue.Queue()
    t0 = time.perf_counter()
    threads = []
    for c in range(args.clients):
        mine = [files[(c + i) % len(files)] for i in range(args.uploads)]
        th = threading.Thread(target=run_client, args=(Client(base, times, running), mine, out))
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    running.clear()
    wall = time.perf_counter() - t0
    proc.terminate()
    proc.wait(timeout=60)
    results = [out.get() for _ in threads]
    submitted = sum(len(j) for j, _, _ in results)
    done = sum(sum(s == "done" for s in st.values()) for _, st, _ in results)
    failed = sum(sum(s == "failed" for s in st.values()) for _, st, _ in results)
    lost = sum(len(set(j) - set(listed)) for j, _, listed in results)
    leaked = sum(len(set(listed) - set(j)) for j, _, listed in results)
    ms = np.array([t for _, t in times]) * 1000
    p95 = float(np.percentile(ms, 95))
    print(
        f"clients {args.clients}, uploads {submitted} ({size_kb:.0f} kB CSV each), workers {args.workers}"
    )
    print(f"jobs: {done} done, {failed} failed, {lost} lost, {leaked} seen by another session")
    print(f"wall time {wall:.1f} s ({submitted / wall * 60:.0f} assign jobs per minute)")
    print(
        f"page responses while jobs ran: {ms.size}, median {np.median(ms):.0f} ms, "
        f"p95 {p95:.0f} ms, max {ms.max():.0f} ms (budget p95 < {BUDGET_MS:.0f} ms)"
    )
    for kind in sorted({k for k, _ in times}):
        mk = np.array([t for k, t in times if k == kind]) * 1000
        print(
            f"  {kind:<16} {mk.size:5d} requests, median {np.median(mk):5.0f} ms, "
            f"p95 {np.percentile(mk, 95):5.0f} ms"
        )
    ok = done == submitted and lost == 0 and leaked == 0 and p95 < BUDGET_MS
    print("PASS" if ok else "FAIL")
    print(f"ratio: {p95 / BUDGET_MS:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
