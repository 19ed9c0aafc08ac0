"""``nanoalloy serve [--host 127.0.0.1] [--port 8050] [--workspace DIR] [--open]``.

Starts the local web app (:mod:`nanoalloy.app`) over a workspace folder: upload
and assign spectra, series, simulations, comparisons; the history lives in the
workspace's SQLite database. Binds to 127.0.0.1 unless told otherwise (and then
warns). Stops on Ctrl-C; jobs that had not finished are marked interrupted and can
be re-run from the history.
"""

from __future__ import annotations

import argparse

from ..errors import InputError, UsageError

NAME = "serve"
HELP = "Start the local web app: upload, assign, explore, compare (history kept in a workspace)."


def _port(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {v}")
    return v


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8050, help="port (default 8050; 0: any free)")
    parser.add_argument(
        "--workspace",
        default="nanoalloy-workspace",
        metavar="DIR",
        help="folder for uploads, results and the history database",
    )
    parser.add_argument("--open", action="store_true", help="open the app in a web browser")
    parser.add_argument(
        "--workers", type=int, default=2, help="worker processes for jobs (default 2)"
    )
    parser.add_argument(
        "--max-upload-mb", type=float, default=200.0, help="upload size limit in MB (default 200)"
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    try:
        import flask  # noqa: F401
        import waitress  # noqa: F401
    except ImportError:
        raise InputError(
            "the web app needs Flask and waitress: pip install 'nanoalloy[serve]'"
        ) from None
    from ..app import serve

    if args.workers < 1 or args.workers > 64:
        raise UsageError(f"--workers must be 1-64, got {args.workers}")
    if not args.max_upload_mb > 0:
        raise UsageError(f"--max-upload-mb must be > 0, got {args.max_upload_mb}")
    try:
        serve(
            args.workspace,
            host=args.host,
            port=args.port,
            workers=args.workers,
            max_upload_mb=args.max_upload_mb,
            open_browser=args.open,
        )
    except KeyboardInterrupt:
        print("nanoalloy serve: stopped")
    return 0
