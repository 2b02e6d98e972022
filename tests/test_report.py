"""Report renderers against golden files, the report folder writer, and `cacheprof report`.

Regenerate the golden files after an intended change with CACHEPROF_UPDATE_GOLDEN=1, and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cacheprof.analysis.profile_stats import analyze
from cacheprof.cli import main
from cacheprof.model import Build, EngineInfo, InternalVertex, Profile, Step, StepStatus
from cacheprof.render.charts import Chart
from cacheprof.render.html import render_html, render_markdown
from cacheprof.render.writer import write_report
from cacheprof.store import profile_json

GOLDEN = Path(__file__).parent / "data" / "golden"
# Real profiles, each saved by a live `cacheprof profile` run beside its recorded engine streams.
PROFILES = sorted((Path(__file__).parent / "data" / "streams").glob("*/live-profile.json"))
C, R, E = StepStatus.CACHED, StepStatus.RUN, StepStatus.ERROR
STEPS = [  # (stage, position, instruction, seconds when it runs)
    ("0", 1, "FROM python:3.12-slim", 1.5),
    ("0", 2, "WORKDIR /app", 0.1),
    ("0", 3, "COPY requirements.txt .", 0.2),
    ("0", 4, "RUN pip install -r requirements.txt | tee /tmp/pip.log", 18.0),
    ("0", 5, "COPY src/ ./src/", 0.3),
    ("0", 6, "RUN python -m compileall src", 2.0),
]


def make_build(scenario: str, repeat: int, statuses: list[StepStatus], jitter: float = 0.0) -> Build:
    t, steps = 0.0, []
    for i, ((stage, pos, instr, cost), st) in enumerate(zip(STEPS, statuses, strict=True)):
        d = round(cost * (1 + jitter), 3) if st is not C else 0.01
        steps.append(Step(index=i + 1, stage=stage, position=pos, line=i + 1, instruction=instr, status=st,
                          started=2000.0 + t, finished=2000.0 + t + d, duration_s=d,
                          error="exit code 1" if st is E else None))
        t += d
    return Build(scenario, repeat, E not in statuses, "step failed" if E in statuses else None,
                 round(t + 0.7, 3), None if E in statuses else f"sha256:{scenario}{repeat}", tuple(steps),
                 (InternalVertex("[internal] load build context", True, duration_s=0.05),), started=2000.0)


def golden_profile() -> Profile:
    builds = []
    for r, j in enumerate((0.0, 0.1, -0.05)):
        builds += [
            make_build("cold", r, [R] * 6, j),
            make_build("warm", r, [C] * 6),
            make_build("edit:src/**", r, [C, C, C, C, R, R], j),
            make_build("edit:requirements.txt", r, [C, C, R, R, R, R], j * 4),
            make_build("arg:PIP_INDEX=mirror", r, [C, C, C, R if r else E, R, R] if r else [C, C, C, E, C, C]),
        ]
    return Profile(
        builder="buildkit", dockerfile="Dockerfile", context="fixtures/python-app", builds=tuple(builds),
        engine=EngineInfo(version="27.3.1", api_version="1.47", os="linux", arch="x86_64", host="unix"),
        scenarios=("cold", "warm", "edit:src/**", "edit:requirements.txt", "arg:PIP_INDEX=mirror"),
        created="2024-05-01T12:00:00Z", machine={"cpus": "8", "python": "3.11.7"},
    )


def stub_charts() -> dict[str, Chart]:
    # Fixed bytes: the golden files must not depend on the matplotlib or FreeType version.
    names = [("scenario_times", "Wall time per scenario"), ("timeline_cold", "Timeline: cold")]
    return {n: Chart(n, t, b"\x89PNG\r\n\x1a\nstub-" + n.encode(), f'<svg id="stub-{n}"/>'.encode()) for n, t in names}


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("CACHEPROF_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with CACHEPROF_UPDATE_GOLDEN=1 once"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


# --- renderers ------------------------------------------------------------------------------------------


def test_markdown_matches_golden():
    p = golden_profile()
    check_golden("report.md", render_markdown(p, analyze(p), stub_charts()))


def test_html_matches_golden():
    p = golden_profile()
    check_golden("report.html", render_html(p, analyze(p), stub_charts()))


def test_rendering_is_deterministic_and_roundtrips_through_json():
    p = golden_profile()
    again = profile_json.loads(profile_json.dumps(p))
    assert render_markdown(again, analyze(again), stub_charts()) == render_markdown(p, analyze(p), stub_charts())


def test_html_content():
    p = golden_profile()
    a = analyze(p)
    page = render_html(p, a, stub_charts())
    body = page.split('<p class="summary note" id="summary">', 1)[1]
    assert body.startswith("A change to <code>requirements.txt</code> rebuilds 4 of 6 steps")
    # Charts are inline SVG: no image data, no files needed beside the page.
    assert page.count('<svg role="img"') == 2 and "data:image" not in page and "<img" not in page
    # The answer comes first: the costliest edit in seconds, the fix, the key figures, the failure.
    answer = page[page.index('<section id="answer">'):page.index("</section>")]
    assert page.index('<section id="answer">') < page.index("<h2>Scenarios</h2>")
    assert "An edit of requirements.txt costs 21.2 s" in answer and "<b>Fix:</b>" in answer
    for label in ("cold", "warm", "edit:src/**", "cache saved (warm)"):
        assert f'<div class="label">{label}</div>' in answer
    assert "arg:PIP_INDEX=mirror #0 failed at line 4" in answer
    # No Markdown leaks: every backtick became <code>.
    import re

    visible = re.sub(r"<code>.*?</code>|<pre.*?</pre>|<style>.*?</style>", "", page, flags=re.S)
    assert "`" not in visible
    assert "http://" not in page and "https://" not in page  # opens offline
    assert "27.3.1" in page and "machine cpus" in page
    assert "<td class=\"run\">RUN</td>" in page and "<td class=\"cached\">CACHED</td>" in page
    # An instruction with a pipe stays one Markdown cell.
    md = render_markdown(p, a, stub_charts())
    assert "| `4 RUN pip install -r requirements.txt \\|…` |" in md
    assert "![Wall time per scenario](charts/scenario_times.png)" in md


# --- writer ---------------------------------------------------------------------------------------------


# No timeline of warm (every step cached) and no hit-rate chart (a column of the scenario table).
EXPECTED_CHARTS = ["scenario_times", "time_saved", "invalidation", "timeline_cold",
                   "timeline_edit-src", "timeline_edit-requirements.txt", "timeline_arg-PIP_INDEX-mirror"]


def test_write_report_writes_every_file(tmp_path):
    out = tmp_path / "rep"
    written = write_report(golden_profile(), out, workers=1)
    names = [p.relative_to(out).as_posix() for p in written]
    assert names[:2] == ["profile.json", "steps.csv"]  # the data first
    assert names[-2:] == ["report.html", "report.md"]
    for c in EXPECTED_CHARTS:
        assert f"charts/{c}.svg" in names
        # PNG (for Markdown) only for the 3 costliest timelines: edit:src/** (3 s) links its SVG instead.
        assert (f"charts/{c}.png" in names) == (c != "timeline_edit-src")
    md = (out / "report.md").read_text()
    assert "[Timeline: edit:src/** (SVG)](charts/timeline_edit-src.svg)" in md
    assert "![Timeline: cold](charts/timeline_cold.png)" in md
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)
    assert (out / "profile.json").read_text() == profile_json.dumps(golden_profile())
    assert (out / "steps.csv").read_text().count("\n") == 1 + 15 * 6


def test_chart_failure_keeps_the_data(tmp_path, monkeypatch):
    import cacheprof.render.charts

    def broken(*args, **kwargs):
        raise RuntimeError("renderer broke")

    monkeypatch.setattr(cacheprof.render.charts, "build_charts", broken)
    with pytest.raises(RuntimeError):
        write_report(golden_profile(), tmp_path, workers=1)
    assert (tmp_path / "profile.json").is_file() and (tmp_path / "steps.csv").is_file()
    assert not (tmp_path / "report.html").exists()


# --- the command ----------------------------------------------------------------------------------------


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def assert_one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert "\n" not in err and "Traceback" not in result.output, err
    assert err.startswith("cacheprof: error: ")
    for n in needles:
        assert n in err


@pytest.fixture
def saved(tmp_path) -> Path:
    path = tmp_path / "in" / "profile.json"
    path.parent.mkdir()
    path.write_text(profile_json.dumps(golden_profile()))
    return path


def test_report_command_writes_all_files(saved, tmp_path):
    out = tmp_path / "out"
    result = run("report", str(saved), "--out", str(out))
    assert result.exit_code == 0, result.output
    for name in ("report.html", "report.md", "steps.csv", "profile.json"):
        assert (out / name).is_file()
    pngs = sorted(set(EXPECTED_CHARTS) - {"timeline_edit-src"})
    assert sorted(p.stem for p in (out / "charts").glob("*.png")) == pngs
    assert sorted(p.stem for p in (out / "charts").glob("*.svg")) == sorted(EXPECTED_CHARTS)
    assert str(out / "report.html") in result.output


def test_report_command_defaults_to_the_profiles_folder(saved):
    before = saved.read_bytes()
    result = run("report", str(saved))
    assert result.exit_code == 0, result.output
    assert (saved.parent / "report.html").is_file()
    assert saved.read_bytes() == before  # the source is never rewritten


def test_report_command_missing_file(tmp_path):
    assert_one_line_error(run("report", str(tmp_path / "nope.json")), "nope.json", "no such file")


def test_report_command_truncated_file(saved):
    text = saved.read_text()
    saved.write_text(text[: len(text) // 2])
    assert_one_line_error(run("report", str(saved)), "not valid JSON", "truncated")


@pytest.mark.parametrize("edit, needle", [
    (lambda d: d["builds"][0].__setitem__("repeat", "one"), "builds[0].repeat"),
    (lambda d: d["builds"][2]["steps"][1].pop("status"), "builds[2].steps[1].status"),
    (lambda d: d["builds"][0]["steps"][0].__setitem__("status", "MAYBE"), "MAYBE"),
    (lambda d: d.pop("builds"), "builds"),
    (lambda d: d.__setitem__("schema", "other/v9"), "other/v9"),
])
def test_report_command_hand_edited_file(saved, edit, needle):
    data = json.loads(saved.read_text())
    edit(data)
    saved.write_text(json.dumps(data))
    assert_one_line_error(run("report", str(saved)), needle)


def test_report_command_unwritable_out(saved, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert_one_line_error(run("report", str(saved), "--out", str(blocker / "sub")), "cannot write the report folder")


def test_report_command_not_json_at_all(tmp_path):
    path = tmp_path / "profile.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert_one_line_error(run("report", str(path)))


# --- real recorded profiles -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.parent.name)
def test_recorded_profile_analyses_and_renders(path, tmp_path):
    profile = profile_json.loads(path.read_text(encoding="utf-8"), where=str(path))
    a = analyze(profile)
    written = write_report(profile, tmp_path / "out", workers=1)
    assert (tmp_path / "out" / "report.html") in written
    assert a.summary
    for b in profile.builds_of("warm"):
        assert b.steps  # a warm build that recorded no steps is not a usable recording
    # Each recording is a cold build followed by a warm rebuild of the same inputs: known answers, not the
    # code's own formula again. Every RUN/COPY/ADD step of the warm build is cached, none of the cold one.
    if profile.builds_of("warm") and all(b.ok for b in profile.builds_of("warm")):
        assert a.scenarios.loc["warm", "hit_rate"] == 1.0
    if profile.builds_of("cold") and any(b.ok for b in profile.builds_of("cold")):
        assert a.scenarios.loc["cold", "hit_rate"] == 0.0
