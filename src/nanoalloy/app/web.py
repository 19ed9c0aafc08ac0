"""The Flask application: routes, per-browser sessions, uploads and safety checks.

Safety, in the order a request meets it:

* Host check: a server bound to a loopback address answers only to ``127.0.0.1``,
  ``localhost`` and ``[::1]`` in the Host header (a web page elsewhere cannot reach
  it through DNS rebinding);
* POST requests whose ``Origin`` is another site are refused (cross-site forms);
* a per-browser session cookie (random, HttpOnly, SameSite=Lax) owns every upload
  and job; the database stores only its SHA-256, and another browser's ids give 404;
* uploads larger than ``max_upload_mb`` are refused with a readable page (413);
  uploaded bytes are stored under random ids with a whitelisted extension, the
  sent name is only ever displayed (escaped) or put into messages;
* a spectrum is read once at upload time: a bad file is refused there with one
  readable line, and a job that fails records one readable line (no traceback
  reaches a page).

Contents
--------
create_app
    Build the Flask app for a workspace.
"""

from __future__ import annotations

import hashlib
import io
import math
import secrets
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.exceptions import HTTPException

from .jobs import JobQueue, readable
from .store import Store, new_id

__all__ = ["create_app"]

COOKIE = "nanoalloy_session"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
SPECTRUM_EXT = {".mzml", ".mzxml", ".csv", ".tsv", ".txt", ".xy", ".dat", ".asc"}
# files of a results folder that may be downloaded (figures/ PNG and SVG too)
DOWNLOADS = {
    "species.csv",
    "ions.csv",
    "families.csv",
    "fit.csv",
    "report.html",
    "spectrum.png",
    "summary.json",
    "series.csv",
    "summary.csv",
    "final.csv",
    "populations.csv",
    "run.json",
}
MIME = {".csv": "text/csv", ".html": "text/html", ".png": "image/png", ".json": "application/json"}
MIME[".svg"] = "image/svg+xml"


def _now() -> float:
    return time.time()


def create_app(
    workspace: str | Path,
    *,
    workers: int = 2,
    max_upload_mb: float = 200.0,
    loopback: bool = True,
) -> Flask:
    """The web app over ``workspace`` (created if needed).

    Jobs left queued or running by a previous server are marked ``interrupted``
    (they can be re-run from the history). ``app.extensions["nanoalloy"]`` holds the
    :class:`~nanoalloy.app.store.Store` and the :class:`~nanoalloy.app.jobs.JobQueue`;
    call ``app.extensions["nanoalloy"]["queue"].shutdown()`` when stopping.
    """
    here = Path(__file__).parent
    app = Flask(
        "nanoalloy.app",
        root_path=str(here),
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    app.config["MAX_CONTENT_LENGTH"] = int(max_upload_mb * 1024 * 1024)
    app.config["MAX_FORM_MEMORY_SIZE"] = 1024 * 1024
    store = Store(workspace)
    interrupted = store.mark_interrupted()
    queue = JobQueue(store, workers=workers)
    app.extensions["nanoalloy"] = {
        "store": store,
        "queue": queue,
        "interrupted_at_start": interrupted,
        "max_upload_mb": max_upload_mb,
    }
    _plotly: list[str] = []

    @app.template_filter("ts")
    def _ts(v: float | None) -> str:
        return "" if not v else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(v))

    @app.context_processor
    def _context() -> dict[str, Any]:
        from nanoalloy.results.report import TABLE_JS

        return {"table_js": TABLE_JS, "messages": []}

    # ------------------------------------------------------------------ request guards
    @app.before_request
    def _guards() -> Response | None:
        if loopback:
            host = (urlsplit(f"//{request.host}").hostname or "").lower()
            if host not in LOOPBACK:
                return Response(
                    "nanoalloy serve answers only to 127.0.0.1 and localhost",
                    400,
                    mimetype="text/plain",
                )
        if request.method == "POST":
            origin = request.headers.get("Origin")
            if origin and origin != "null" and urlsplit(origin).netloc != request.host:
                return Response("cross-site request refused", 403, mimetype="text/plain")
        token = request.cookies.get(COOKIE, "")
        if not (20 <= len(token) <= 100 and token.replace("-", "").replace("_", "").isalnum()):
            token = secrets.token_urlsafe(32)
            g.new_token = token
        g.owner = hashlib.sha256(token.encode()).hexdigest()
        return None

    @app.after_request
    def _cookie(resp: Response) -> Response:
        token = g.get("new_token")
        if token:
            resp.set_cookie(
                COOKIE, token, max_age=400 * 24 * 3600, httponly=True, samesite="Lax", path="/"
            )
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        return resp

    # ------------------------------------------------------------------ errors
    def page_error(status: int, title: str, message: str) -> tuple[str, int]:
        return render_template("error.html", title=title, message=message), status

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        code = exc.code or 500
        if code == 413:
            mb = app.extensions["nanoalloy"]["max_upload_mb"]
            msg = f"The upload is larger than the limit of {mb:g} MB (nanoalloy serve --max-upload-mb)."
            if request.path.startswith("/api/"):
                return jsonify(error=msg), 413
            return page_error(413, "Upload too large", msg)
        if request.path.startswith("/api/"):
            return jsonify(error=exc.description or exc.name), code
        return page_error(code, exc.name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        app.logger.exception("unexpected error on %s", request.path)
        msg = f"Something went wrong on our side: {readable(exc, {str(store.root): 'workspace'})}"
        if request.path.startswith("/api/"):
            return jsonify(error=msg), 500
        return page_error(500, "Internal error", msg)

    # ------------------------------------------------------------------ helpers
    def owner() -> str:
        return str(g.owner)

    def my_job(jid: str) -> dict[str, Any]:
        job = store.job(owner(), jid)
        if job is None:
            abort(404, description="No such job in this browser's workspace.")
        return job

    def presets() -> list[str]:
        from nanoalloy.ms.library import list_presets

        return list(list_presets())

    def save_preset(file: Any) -> tuple[dict[str, Any], str | None]:
        """An uploaded preset TOML: stored, checked by loading it."""
        from nanoalloy.ms.library import load_preset

        data = file.read()
        name = file.filename or "preset.toml"
        stored = f"{new_id()}.toml"
        path = store.root / "presets" / stored
        path.write_bytes(data)
        try:
            load_preset(path)
        except Exception as exc:  # noqa: BLE001 - any failure is a readable message
            path.unlink(missing_ok=True)
            text = readable(exc, {str(path): name})
            text = text[len(name) + 1 :].strip() if text.startswith(f"{name}:") else text
            return {}, f"{name}: not a usable preset: {text}"
        store.add_upload(owner(), name, stored, len(data), [], kind="preset")
        return {"preset_file": stored, "preset_name": name}, None

    def preset_params(form: Any) -> tuple[dict[str, Any], str | None]:
        file = request.files.get("preset_file")
        if file is not None and file.filename:
            return save_preset(file)
        name = form.get("preset") or "auag44-pmba"
        if name not in presets():
            return {}, f"unknown preset {name!r}; choose one of {', '.join(presets())}"
        return {"preset": name}, None

    def save_spectrum(file: Any) -> tuple[dict[str, Any] | None, str | None]:
        """Store one uploaded spectrum under a random id and list its scans."""
        from nanoalloy.ms.io import list_scans

        name = (file.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1][:200] or "upload"
        ext = Path(name).suffix.lower()
        ext = ext if ext in SPECTRUM_EXT else ""
        uid = new_id()
        stored = f"{uid}{ext}"
        path = store.root / "uploads" / stored
        file.save(path)
        size = path.stat().st_size
        try:
            if size == 0:
                raise ValueError("the file is empty")
            scans = [s.to_dict() for s in list_scans(path)]
            if not scans:
                raise ValueError("the file holds no scans")
            if all(s.get("n_points", 0) < 10 for s in scans):
                raise ValueError("too few points to be a profile spectrum")
        except Exception as exc:  # noqa: BLE001 - any failure is a readable message
            path.unlink(missing_ok=True)
            text = readable(exc, {str(path): name, stored: name})
            return None, text if text.startswith(f"{name}:") else f"{name}: {text}"
        keep = [
            {k: _finite(s.get(k)) for k in ("index", "id", "ms_level", "rt_min", "n_points", "tic")}
            for s in scans
        ]
        store.add_upload(owner(), name, stored, size, keep, kind="spectrum")
        return store.upload(owner(), uid), None

    def assign_job(up: dict[str, Any], pparams: dict[str, Any], **kw: Any) -> str:
        params = {"upload": up["id"], "stored": up["stored"], "name": up["name"], **pparams, **kw}
        where = ""
        if kw.get("scan") is not None:
            where = f" scan {kw['scan']}"
        elif kw.get("time") is not None:
            where = f" at {kw['time']:g} min"
        jid = store.add_job(owner(), "assign", f"assign {up['name']}{where}", params)
        queue.submit(jid)
        return jid

    def render(tpl: str, **kw: Any) -> str:
        return render_template(tpl, presets=presets(), **kw)

    # ------------------------------------------------------------------ pages
    @app.get("/")
    def index() -> str:
        return render("upload.html", uploads=store.uploads(owner()), messages=[], jobs=[])

    @app.post("/upload")
    def upload() -> Any:
        files = [f for f in request.files.getlist("spectra") if f and f.filename]
        messages: list[tuple[str, str]] = []
        if not files:
            messages.append(("error", "Choose or drop at least one spectrum file."))
            return render(
                "upload.html", uploads=store.uploads(owner()), messages=messages, jobs=[]
            ), 400
        pparams, perr = preset_params(request.form)
        do_assign = request.form.get("assign") == "1"
        if perr and do_assign:
            messages.append(("error", perr))
            do_assign = False
        res, rerr = _resolution(request.form.get("resolution", ""))
        if rerr and do_assign:
            messages.append(("error", rerr))
            do_assign = False
        jobs: list[str] = []
        for f in files:
            up, err = save_spectrum(f)
            if up is None:
                messages.append(("error", err or "unreadable file"))
                continue
            ms1 = [s for s in up["scans"] if (s.get("ms_level") or 1) == 1]
            if do_assign and len(ms1) == 1:
                jobs.append(assign_job(up, pparams, scan=ms1[0]["index"], resolution=res))
                messages.append(("ok", f"{up['name']}: uploaded, assign job queued."))
            elif do_assign:
                messages.append(
                    (
                        "ok",
                        f"{up['name']}: uploaded; it holds {len(up['scans'])} scans - "
                        "pick a scan or a time on its page to assign it.",
                    )
                )
            else:
                messages.append(("ok", f"{up['name']}: uploaded."))
        if len(jobs) == 1 and len(files) == 1:
            return redirect(url_for("job_page", jid=jobs[0]), 303)
        status = 200 if any(k == "ok" for k, _ in messages) else 400
        return render(
            "upload.html", uploads=store.uploads(owner()), messages=messages, jobs=jobs
        ), status

    @app.get("/uploads/<uid>")
    def upload_page(uid: str) -> str:
        up = store.upload(owner(), uid)
        if up is None:
            abort(404, description="No such upload in this browser's workspace.")
        return render("upload_detail.html", up=up, messages=[])

    @app.post("/uploads/<uid>/assign")
    def upload_assign(uid: str) -> Any:
        up = store.upload(owner(), uid)
        if up is None:
            abort(404, description="No such upload in this browser's workspace.")
        messages = []
        pparams, perr = preset_params(request.form)
        res, rerr = _resolution(request.form.get("resolution", ""))
        scan: int | None = None
        tmin: float | None = None
        pick = request.form.get("pick", "scan")
        try:
            if pick == "time":
                tmin = float(request.form.get("time", ""))
                if not math.isfinite(tmin) or tmin < 0:
                    raise ValueError
            else:
                scan = int(request.form.get("scan", "0"))
                if scan not in {int(s["index"]) for s in up["scans"]}:
                    raise ValueError
        except ValueError:
            messages.append(("error", "Pick one of the listed scans or a time >= 0 in minutes."))
        for err in (perr, rerr):
            if err:
                messages.append(("error", err))
        if messages:
            return render("upload_detail.html", up=up, messages=messages), 400
        jid = assign_job(up, pparams, scan=scan, time=tmin, resolution=res)
        return redirect(url_for("job_page", jid=jid), 303)

    @app.get("/jobs")
    def jobs_page() -> str:
        return render(
            "jobs.html", jobs=store.jobs(owner()), uploads=store.uploads(owner()), now=_now()
        )

    @app.get("/jobs/<jid>")
    def job_page(jid: str) -> str:
        from . import views

        job = my_job(jid)
        view: dict[str, Any] = {}
        files: list[str] = []
        folder = store.job_dir(jid)
        if job["state"] == "done" and folder.is_dir():
            view = views.job_view(job["kind"], folder)
            files = sorted(p.name for p in folder.iterdir() if p.name in DOWNLOADS)
        return render("job.html", job=job, view=view, files=files)

    @app.post("/jobs/<jid>/rerun")
    def job_rerun(jid: str) -> Any:
        job = my_job(jid)
        if job["state"] in ("failed", "interrupted", "done"):
            store.requeue(jid)
            queue.submit(jid)
        return redirect(url_for("job_page", jid=jid), 303)

    @app.get("/jobs/<jid>/files/<name>")
    def job_file(jid: str, name: str) -> Any:
        my_job(jid)
        folder = store.job_dir(jid)
        if name not in DOWNLOADS or not (folder / name).is_file():
            abort(404, description="No such result file.")
        return _send(folder / name, as_attachment=name.endswith((".csv", ".json")))

    @app.get("/jobs/<jid>/figures/<name>")
    def job_figure(jid: str, name: str) -> Any:
        my_job(jid)
        figs = store.job_dir(jid) / "figures"
        known = {p.name: p for p in figs.glob("*")} if figs.is_dir() else {}
        if name not in known or known[name].suffix not in (".png", ".svg"):
            abort(404, description="No such figure.")
        return _send(known[name], as_attachment=False)

    @app.get("/jobs/<jid>/results.zip")
    def job_zip(jid: str) -> Any:
        job = my_job(jid)
        folder = store.job_dir(jid)
        if job["state"] != "done" or not folder.is_dir():
            abort(404, description="This job has no results yet.")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(folder.rglob("*")):
                if p.is_file() and p.name != "view.json":
                    zf.write(p, f"{job['kind']}-{jid}/{p.relative_to(folder).as_posix()}")
        buf.seek(0)
        return send_file(
            buf,
            mimetype="application/zip",
            as_attachment=True,
            download_name=f"nanoalloy-{job['kind']}-{jid}.zip",
        )

    @app.get("/series")
    def series_page() -> str:
        return render("series.html", uploads=store.uploads(owner()), messages=[])

    @app.post("/series")
    def series_submit() -> Any:
        chosen = request.form.getlist("upload")
        messages: list[tuple[str, str]] = []
        items = []
        for uid in chosen:
            up = store.upload(owner(), uid)
            if up is None:
                messages.append(("error", "One of the chosen uploads is not in this workspace."))
                continue
            label = " ".join(request.form.get(f"label-{uid}", "").replace(",", " ").split())
            items.append(
                {
                    "upload": uid,
                    "stored": up["stored"],
                    "name": up["name"],
                    "label": label or Path(up["name"]).stem,
                }
            )
        if len(items) < 2 and not (
            len(items) == 1 and len(store.upload(owner(), items[0]["upload"])["scans"]) > 1  # type: ignore[index]
        ):
            messages.append(
                ("error", "Choose at least two uploads (or one multi-scan file: a time course).")
            )
        labels = [it["label"] for it in items]
        if len(set(labels)) != len(labels):
            messages.append(("error", "Give every spectrum of the series its own label."))
        pparams, perr = preset_params(request.form)
        if perr:
            messages.append(("error", perr))
        if messages:
            return render("series.html", uploads=store.uploads(owner()), messages=messages), 400
        title = f"series of {len(items)}: " + ", ".join(labels)
        jid = store.add_job(owner(), "series", title[:200], {"items": items, **pparams})
        queue.submit(jid)
        return redirect(url_for("job_page", jid=jid), 303)

    @app.get("/simulate")
    def simulate_page() -> str:
        return render("simulate.html", messages=[], form={})

    @app.post("/simulate")
    def simulate_submit() -> Any:
        form = request.form
        messages: list[tuple[str, str]] = []
        feed: dict[str, float] = {}
        adds: list[tuple[float, str, float]] = []
        hours = 20.0
        try:
            feed = {"Au44": _number(form, "au44", 0.0), "Ag44": _number(form, "ag44", 0.0)}
            if sum(feed.values()) <= 0:
                raise ValueError("the feed is empty: give Au44 or Ag44 a positive amount")
            hours = _number(form, "hours", 20.0)
            if not 0 < hours <= 1000:
                raise ValueError("the duration must be between 0 and 1000 h")
            for i in range(4):
                t_txt = form.get(f"add_t{i}", "").strip()
                a_txt = form.get(f"add_eq{i}", "").strip()
                if not t_txt and not a_txt:
                    continue
                t = _number(form, f"add_t{i}", math.nan)
                eq = _number(form, f"add_eq{i}", math.nan)
                sp = form.get(f"add_sp{i}", "")
                if sp not in ("Au44", "Ag44"):
                    raise ValueError(f"dosing row {i + 1}: choose Au44 or Ag44")
                if not (0 <= t < hours) or not eq > 0:
                    raise ValueError(
                        f"dosing row {i + 1}: the time must be within the run (0-{hours:g} h) "
                        "and the amount > 0"
                    )
                adds.append((t, sp, eq))
        except ValueError as exc:
            messages.append(("error", str(exc)))
        if messages:
            return render("simulate.html", messages=messages, form=form), 400
        feed_txt = f"Au44:Ag44 = {feed['Au44']:g}:{feed['Ag44']:g}"
        dosing = "".join(f", +{eq:g} {sp} at {t:g} h" for t, sp, eq in adds)
        title = f"{feed_txt}, {hours:g} h{dosing}"
        params = {"feed": feed, "hours": hours, "additions": adds, "title": title}
        jid = store.add_job(owner(), "simulate", title, params)
        queue.submit(jid)
        return redirect(url_for("job_page", jid=jid), 303)

    @app.get("/compare")
    def compare_page() -> Any:
        from . import views

        sims = [j for j in store.jobs(owner(), "simulate") if j["state"] == "done"]
        fits = [j for j in store.jobs(owner(), "assign") if j["state"] == "done"]
        sim_id = request.args.get("sim") or (sims[0]["id"] if sims else "")
        fit_id = request.args.get("assign") or (fits[0]["id"] if fits else "")
        view: dict[str, Any] = {}
        if sim_id and fit_id:
            sj, fj = my_job(sim_id), my_job(fit_id)
            if sj["kind"] != "simulate" or fj["kind"] != "assign":
                abort(404, description="Pick a finished simulation and a finished assignment.")
            view = views.compare_view(store.job_dir(sim_id), store.job_dir(fit_id))
        return render("compare.html", sims=sims, fits=fits, sim_id=sim_id, fit_id=fit_id, view=view)

    # ------------------------------------------------------------------ JSON
    @app.get("/api/jobs")
    def api_jobs() -> Any:
        return jsonify([_job_json(j) for j in store.jobs(owner())])

    @app.get("/api/jobs/<jid>")
    def api_job(jid: str) -> Any:
        return jsonify(_job_json(my_job(jid)))

    @app.get("/api/jobs/<jid>/ion")
    def api_ion(jid: str) -> Any:
        from . import views

        job = my_job(jid)
        if job["kind"] != "assign" or job["state"] != "done":
            abort(404, description="This job has no assigned ions.")
        ion = request.args.get("ion", "")
        try:
            data = views.ion_details(
                store.job_dir(jid), ion, float(job["summary"].get("resolution") or math.nan)
            )
        except KeyError:
            abort(404, description=f"{ion!r} is not one of this job's ions.")
        except Exception as exc:  # noqa: BLE001 - a readable message instead of a 500
            return jsonify(error=f"cannot draw the pattern of {ion}: {readable(exc)}"), 422
        return jsonify(data)

    @app.get("/static/plotly.min.js")
    def plotly_js() -> Response:
        if not _plotly:
            import plotly.offline

            _plotly.append(plotly.offline.get_plotlyjs())
        resp = Response(_plotly[0], mimetype="application/javascript")
        resp.headers["Cache-Control"] = "public, max-age=86400"
        return resp

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(ok=True, pending=queue.pending())

    return app


def _send(path: Path, *, as_attachment: bool) -> Response:
    return send_file(
        path,
        mimetype=MIME.get(path.suffix, "application/octet-stream"),
        as_attachment=as_attachment,
        download_name=path.name,
    )


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _number(form: Any, key: str, default: float) -> float:
    text = str(form.get(key, "")).strip()
    if not text:
        return default
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"{key}: {text!r} is not a number") from None
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{key}: {text!r} must be a finite number >= 0")
    return v


def _resolution(text: str) -> tuple[float | None, str | None]:
    text = text.strip()
    if not text:
        return None, None
    try:
        r = float(text)
    except ValueError:
        return None, f"resolving power {text!r} is not a number"
    if not (math.isfinite(r) and 100 <= r <= 1e7):
        return None, f"resolving power must be between 100 and 1e7, got {text}"
    return r, None


def _job_json(job: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "kind", "title", "state", "progress", "stage", "message", "created")
    out = {k: job[k] for k in keys}
    out["started"], out["finished"] = job["started"], job["finished"]
    return out
