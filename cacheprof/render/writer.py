"""Write a report folder. The only module of the report that touches the file system."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..model import Profile
from ..store import profile_json


def write_report(
    profile: Profile, out_dir: Path, *, workers: int | None = None, write_profile: bool = True,
) -> list[Path]:
    """Write profile.json, steps.csv, charts/*.png|svg, report.html and report.md into `out_dir`.

    The data goes first: if analysis or a chart fails, profile.json and steps.csv are already on disk
    and `cacheprof report` can render again from them. `write_profile=False` leaves an existing
    profile.json alone (re-rendering in place). `workers`: chart rendering processes (default: CPUs).
    Returns the paths written, in order.
    """
    # Imported here: pandas and matplotlib load only when a report is made.
    from ..analysis.profile_stats import analyze, steps_csv
    from .charts import build_charts
    from .html import render_html, render_markdown

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, data: str | bytes) -> None:
        path = out_dir / name
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
        written.append(path)

    if write_profile:
        put("profile.json", profile_json.dumps(profile))
    put("steps.csv", steps_csv(profile))
    analysis = analyze(profile)
    charts = build_charts(profile, analysis, workers=workers)
    (out_dir / "charts").mkdir(exist_ok=True)
    for c in charts.values():
        put(f"charts/{c.name}.png", c.png)
        put(f"charts/{c.name}.svg", c.svg)
    put("report.html", render_html(profile, analysis, charts))
    put("report.md", render_markdown(profile, analysis, charts))
    return written


def default_report_dir(context: Path, root: Path = Path("reports")) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", context.resolve().name) or "context"
    return root / f"{stamp}-{name}"


def write_profile_file(profile: Profile, out: Path) -> Path:
    """profile.json alone: the data, before the report stack is even imported."""
    from ..store.profile_json import dumps

    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "profile.json").write_text(dumps(profile))
    except OSError as e:
        raise UsageError(f"cannot write the report folder {out}: {e.strerror}; pass a writable --out") from None
    return out / "profile.json"


def write_outputs(profile: Profile, out: Path) -> list[Path]:
    """Write profile.json first (the data, before the report stack is even imported), then the report."""
    return [write_profile_file(profile, out), *write_report(profile, out, write_profile=False)]


def write_compare_outputs(out: Path, profiles: dict[str, Profile], comparison: Any, doc: dict[str, Any],
                          advice: Any = None) -> None:
    """compare.json, each side's report folder, then the comparison's pages (`advice`: an
    AdviceSection, for advise --measure)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.json").write_text(json.dumps(doc, indent=2) + "\n")
    except OSError as e:
        raise UsageError(f"cannot write the report folder {out}: {e.strerror}; pass a writable --out") from None
    for side, profile in profiles.items():
        write_outputs(profile, out / side)
    from ..render.compare_report import write_compare_report

    write_compare_report(out, comparison, advice)
