"""``nanoalloy serve``: a local web app over a workspace folder.

Upload spectra (drag and drop), assign them as background jobs on a pool of
worker processes, explore the result (spectrum, model and residual, labelled ions,
isotope patterns of any ion, sortable tables), assign a series, simulate the
reaction and compare simulation with assignment; every upload and job is indexed
in an SQLite database in the workspace, so the history survives restarts.

The framework is Flask (routing, templates, uploads) served by waitress (a
pure-Python multi-threaded WSGI server); plotly.js is served from the installed
plotly package, so nothing is fetched from the network at run time.

Contents
--------
create_app
    The Flask application over a workspace (:mod:`nanoalloy.app.web`).
serve
    Run it on a host and port until interrupted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["create_app", "serve"]


def create_app(workspace: str | Path, **kwargs: Any) -> Any:
    """The Flask app over ``workspace``; see :func:`nanoalloy.app.web.create_app`."""
    from .web import create_app as _create

    return _create(workspace, **kwargs)


def serve(
    workspace: str | Path,
    /,
    *,
    host: str = "127.0.0.1",
    port: int = 8050,
    workers: int = 2,
    threads: int = 8,
    max_upload_mb: float = 200.0,
    open_browser: bool = False,
    ready: Any = None,
) -> None:
    """Serve the app until interrupted (Ctrl-C or SIGTERM); jobs still queued are marked.

    ``ready`` (optional) is called with the URL once the socket listens.
    """
    import ipaddress
    import signal

    from waitress.server import create_server

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # SIGTERM stops the server like Ctrl-C (installed first: a client may stop us as soon as the
    # URL is printed)
    previous = signal.signal(signal.SIGTERM, stop)
    # Ctrl-C stops the server even when it was started with SIGINT ignored (a background
    # job of a non-interactive shell inherits SIG_IGN, and Python then installs no
    # KeyboardInterrupt handler): the three CI runs started that way never stopped
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    # a workspace this call creates goes again when the server cannot start (a port in
    # use left an empty workspace behind: a half-made output)
    fresh = not Path(workspace).exists()
    try:
        app = create_app(workspace, workers=workers, max_upload_mb=max_upload_mb, loopback=loopback)
    except BaseException:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        raise
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="nanoalloy")
    except BaseException:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        app.extensions["nanoalloy"]["queue"].shutdown()
        if fresh:
            import shutil

            shutil.rmtree(workspace, ignore_errors=True)
        raise
    try:
        real_port = getattr(server, "effective_port", port)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        url = f"http://{shown}:{real_port}/"
        if not loopback:
            print(
                f"nanoalloy serve: warning: listening on {host}, reachable from other machines; "
                "the app has no login - anyone who can reach this port can upload and see results",
                file=sys.stderr,
            )
        print(f"nanoalloy serve: {url} (workspace {Path(workspace).resolve()})", file=sys.stderr)
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        if ready is not None:
            ready(url)
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        server.close()
        app.extensions["nanoalloy"]["queue"].shutdown()
