"""Write a report folder. The only module of the report that touches the file system."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..model import Profile
from ..store import atomic, profile_json


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
        try:
            if isinstance(data, bytes):
                atomic.write_bytes(path, data)
            elif name.endswith((".csv", ".json")):
                atomic.write_text(path, data)  # identities byte-exact: an undecodable name keeps its bytes
            else:  # pages for people: anything left undecodable is shown escaped, never written raw
                atomic.write_bytes(path, data.encode("utf-8", "backslashreplace"))
        except OSError as e:
            raise UsageError(f"cannot write {path}: {e.strerror}; what was written so far is in {out_dir}/ "
                             "(`cacheprof report` renders it again)") from None
        written.append(path)

    if write_profile:
        put("profile.json", profile_json.dumps(profile))
    put("steps.csv", steps_csv(profile))  # names byte-exact (an undecodable file name keeps its bytes)
    profile = for_display(profile)
    analysis = analyze(profile)
    charts = build_charts(profile, analysis, workers=workers)
    (out_dir / "charts").mkdir(exist_ok=True)
    for c in charts.values():
        if c.png:  # some timelines are SVG only (see charts.MAX_PNG_TIMELINES)
            put(f"charts/{c.name}.png", c.png)
        put(f"charts/{c.name}.svg", c.svg)
    put("report.html", render_html(profile, analysis, charts))
    put("report.md", render_markdown(profile, analysis, charts))
    return written


def shown(text: str) -> str:
    """Text fit to display: an undecodable byte of a file name (a lone surrogate) becomes `\\xe9`."""
    if text.isascii() or not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def for_display(profile: Profile) -> Profile:
    """The profile with every name escaped for display (charts, HTML, Markdown): matplotlib and encoders
    refuse lone surrogates. profile.json and steps.csv keep the names byte-exact."""
    from dataclasses import replace

    def step(st: Any) -> Any:
        return replace(st, instruction=shown(st.instruction), error=shown(st.error) if st.error else st.error,
                       log_tail=tuple(shown(x) for x in st.log_tail))

    builds = tuple(replace(b, scenario=shown(b.scenario), error=shown(b.error) if b.error else b.error,
                           steps=tuple(step(st) for st in b.steps)) for b in profile.builds)
    return replace(profile, builds=builds, scenarios=tuple(shown(x) for x in profile.scenarios),
                   context=shown(profile.context), dockerfile=shown(profile.dockerfile))


def default_report_dir(context: Path, root: Path = Path("reports")) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", context.resolve().name) or "context"
    return root / f"{stamp}-{name}"


def write_profile_file(profile: Profile, out: Path) -> Path:
    """profile.json alone: the data, before the report stack is even imported."""
    from ..store.profile_json import dumps

    text = dumps(profile)
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic.write_text(out / "profile.json", text)
    except OSError as e:
        # Keep what was measured: somewhere that works, and say where.
        rescued = rescue("profile.json", text)
        where = f"the measured data was written to {rescued}" if rescued else "nowhere else was writable either"
        raise UsageError(f"cannot write {out / 'profile.json'} ({e.strerror}); {where}") from None
    return out / "profile.json"


def rescue(name: str, text: str) -> Path | None:
    """Write `text` under the user cache folder (when the report folder is full or read-only); None if that
    fails too."""
    import os
    import tempfile

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cacheprof" / "rescued"
    for folder in (base, Path(tempfile.gettempdir()) / "cacheprof-rescued"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = Path(tempfile.mkdtemp(prefix=dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ-"),
                                         dir=folder)) / name
            atomic.write_text(path, text)
            return path
        except OSError:
            continue
    return None


def write_outputs(profile: Profile, out: Path) -> list[Path]:
    """Write profile.json first (the data, before the report stack is even imported), then the report."""
    return [write_profile_file(profile, out), *write_report(profile, out, write_profile=False)]


def write_compare_outputs(out: Path, profiles: dict[str, Profile], comparison: Any, doc: dict[str, Any],
                          advice: Any = None) -> None:
    """compare.json, each side's report folder, then the comparison's pages (`advice`: an
    AdviceSection, for advise --measure)."""
    text = json.dumps(doc, indent=2) + "\n"
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic.write_text(out / "compare.json", text)
    except OSError as e:
        rescued = rescue("compare.json", text)
        where = f"the comparison was written to {rescued}" if rescued else "nowhere else was writable either"
        raise UsageError(f"cannot write {out / 'compare.json'} ({e.strerror}); {where}") from None
    for side, profile in profiles.items():
        write_outputs(profile, out / side)
    from ..render.compare_report import write_compare_report

    write_compare_report(out, comparison, advice)
