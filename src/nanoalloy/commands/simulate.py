"""``nanoalloy simulate``: run the Au44 + Ag44 kinetic model for a feed and dosing schedule.

Writes ``final.csv``, ``populations.csv``, ``summary.json`` and ``timecourse.png`` into
``--out DIR`` atomically (nothing is written on bad input), then the interactive
``report.html`` (unless ``--no-report``).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from ..errors import NanoalloyError, UsageError

NAME = "simulate"
HELP = "Simulate the Au44 + Ag44 alloying reaction (feed ratio, dosing) with the kinetic model."

_PARENTS = {"au44": "Au44", "ag44": "Ag44"}
MAX_EQ = 1e6
"""Largest amount of a parent (equivalents) in a feed, ratio or addition."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``simulate``."""
    feed = parser.add_mutually_exclusive_group(required=True)
    feed.add_argument("--ratio", metavar="AU:AG", help="feed ratio n(Au44):n(Ag44), e.g. 3:1")
    feed.add_argument(
        "--feed", metavar="NAME=EQ", action="append", help="feed amount, e.g. Au44=3 (repeat)"
    )
    parser.add_argument("--hours", type=float, default=20.0, help="total time from the start (h)")
    parser.add_argument(
        "--add",
        metavar="TIME:NAME=EQ",
        action="append",
        default=[],
        help="dosing event, e.g. 20h:Ag44=1 or 90min:Au44=0.5 (repeat)",
    )
    parser.add_argument("--params", metavar="FILE", help="parameter TOML (default: calibrated)")
    parser.add_argument("--out", metavar="DIR", required=True, help="output folder")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the output folder as a whole if it already holds files",
    )
    parser.add_argument(
        "--no-report", action="store_true", help="do not write the interactive report.html"
    )


def parse_ratio(text: str) -> dict[str, float]:
    """``"3:1"`` -> ``{"Au44": 3.0, "Ag44": 1.0}``."""
    parts = text.split(":")
    if len(parts) != 2:
        raise UsageError(f"bad ratio {text!r}; expected AU:AG such as 3:1 or 1:40")
    try:
        au, ag = (float(p) for p in parts)
    except ValueError:
        raise UsageError(f"bad ratio {text!r}; expected two numbers AU:AG such as 3:1") from None
    if not (math.isfinite(au) and math.isfinite(ag) and au >= 0 and ag >= 0 and au + ag > 0):
        raise UsageError(f"bad ratio {text!r}; amounts must be finite, >= 0 and not both 0")
    if max(au, ag) > MAX_EQ:  # 1e308:1e-308 overflowed the solver, with numpy's warnings
        raise UsageError(f"bad ratio {text!r}; amounts are equivalents, at most {MAX_EQ:g}")
    return {"Au44": au, "Ag44": ag}


def parse_amount(text: str, *, what: str = "feed") -> tuple[str, float]:
    """``"Au44=3"`` -> ``("Au44", 3.0)``; only the parents Au44 and Ag44 are accepted."""
    name, sep, val = text.partition("=")
    key = _PARENTS.get(name.strip().lower())
    if not sep or key is None:
        raise UsageError(f"bad {what} {text!r}; expected NAME=EQ with NAME Au44 or Ag44")
    try:
        amount = float(val)
    except ValueError:
        raise UsageError(f"bad {what} {text!r}; EQ must be a number") from None
    if not (math.isfinite(amount) and 0 <= amount <= MAX_EQ):
        raise UsageError(f"bad {what} {text!r}; EQ must be finite, >= 0 and at most {MAX_EQ:g}")
    return key, amount


def parse_addition(text: str) -> tuple[float, str, float]:
    """``"20h:Ag44=1"`` -> ``(20.0, "Ag44", 1.0)``."""
    from ..kinetics import parse_time

    when, sep, rest = text.partition(":")
    if not sep:
        raise UsageError(f"bad addition {text!r}; expected TIME:NAME=EQ such as 20h:Ag44=1")
    try:
        t = parse_time(when)
    except NanoalloyError as exc:  # an option's value: a usage error, as the rest of --add
        raise UsageError(f"bad addition {text!r}: {exc}") from None
    name, amount = parse_amount(rest, what="addition")
    if amount <= 0:
        raise UsageError(f"bad addition {text!r}; EQ must be > 0")
    return t, name, amount


def feed_from_args(args: argparse.Namespace) -> dict[str, float]:
    """The feed selected by ``--ratio`` or ``--feed``."""
    if args.ratio is not None:
        return parse_ratio(args.ratio)
    feed: dict[str, float] = {}
    for item in args.feed:
        name, amount = parse_amount(item)
        feed[name] = feed.get(name, 0.0) + amount
    if sum(feed.values()) <= 0:
        raise UsageError("the feed is empty; give a positive amount of Au44 or Ag44")
    return feed


def plot_timecourse(result: Any, path: Path, *, title: str = "") -> None:
    """Family fractions and mean x against time (:meth:`SimulationResult.plot`)."""
    result.plot(path, title=title)


def run(args: argparse.Namespace) -> int:
    """Run the simulation and write the outputs."""
    from ..kinetics import load_params, simulate
    from ..output import atomic_dir

    feed = feed_from_args(args)
    additions = [parse_addition(a) for a in args.add]
    if not (math.isfinite(args.hours) and args.hours > 0):
        raise UsageError(f"--hours must be > 0, got {args.hours}")
    for (t, _, _), text in zip(additions, args.add, strict=True):
        if not 0 <= t <= args.hours:
            raise UsageError(f"--add {text}: {t:g} h lies outside the run, 0..{args.hours:g} h")
    params = load_params(args.params) if args.params else load_params()
    result = simulate(feed, hours=args.hours, additions=additions, params=params)
    with atomic_dir(args.out) as stage:
        result.final.to_csv(stage / "final.csv", index=False)
        result.populations.to_csv(stage / "populations.csv", index=False)
        summary = result.summary
        (stage / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        feed_txt = ", ".join(f"{k} {v:g}" for k, v in feed.items())
        plot_timecourse(result, stage / "timecourse.png", title=f"feed {feed_txt}")
    if not args.no_report:
        from ..results.report import write_report

        write_report(args.out, title=f"nanoalloy simulate: feed {feed_txt}, {args.hours:g} h")
    fr = summary["fractions"]
    print(
        "final: "
        + ", ".join(f"{f} {fr[f]:.3f} (mode x {summary['mode_x'][f]})" for f in fr if fr[f] > 0.01)
    )
    print(f"wrote {args.out}")
    return 0
