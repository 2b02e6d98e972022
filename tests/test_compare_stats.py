"""Pure parts of compare: intervals, verdicts, step alignment, equivalence, rendering."""

from __future__ import annotations

import math
import re

import pytest

from cacheprof.analysis.compare import (
    compare_profiles,
    comparison_to_dict,
    paired_interval,
    render_comparison_table,
    t975,
    verdict,
)
from cacheprof.analysis.equivalence import compare_images
from cacheprof.model import Build, Profile, Step, StepStatus
from cacheprof.render.compare_report import (
    all_charts,
    render_html,
    render_markdown,
    side_by_side_chart,
    side_by_side_figure,
)


def step(i: int, ins: str, status: str, d: float, stage: str = "0") -> Step:
    return Step(index=i, stage=stage, position=i, line=i, instruction=ins, status=StepStatus(status), duration_s=d)


def profile(df: str, builds: list[Build]) -> Profile:
    return Profile(builder="buildkit", dockerfile=df, context="/ctx", builds=tuple(builds))


def build(scenario: str, repeat: int, seconds: float, steps: list[Step], ok: bool = True) -> Build:
    return Build(scenario=scenario, repeat=repeat, ok=ok, error=None if ok else "boom", duration_s=seconds,
                 image_id="sha256:x", steps=tuple(steps))


def test_t_quantiles_and_interval_match_hand_computation():
    # Exact quantiles from a printed t table: none rounded to a neighbouring df (df 11 was 2.179, df 12's).
    for df, q in ((1, 12.7062), (2, 4.3027), (11, 2.2010), (13, 2.1604), (30, 2.0423), (1000, 1.9623)):
        assert t975(df) == pytest.approx(q, abs=1e-4), df
    diffs = [-3.0, -3.2, -2.8]
    lo, hi = paired_interval(diffs)
    half = 4.3027 * 0.2 / math.sqrt(3)
    assert lo == pytest.approx(-3.0 - half, abs=1e-4) and hi == pytest.approx(-3.0 + half, abs=1e-4)
    assert paired_interval([1.0]) is None


@pytest.mark.parametrize(
    ("before", "diff", "ci", "expected"),
    [
        (10.0, -3.0, (-3.5, -2.5), "faster"),
        (10.0, 3.0, (2.5, 3.5), "slower"),
        (10.0, -3.0, (-6.0, 0.5), "no clear difference"),  # interval crosses zero
        (10.0, -0.4, (-0.45, -0.35), "no clear difference"),  # under 5% of 10 s
        (2.0, -0.2, (-0.25, -0.15), "no clear difference"),  # under 0.3 s
        (10.0, -3.0, None, "no clear difference"),  # one round: no interval
    ],
)
def test_verdict_rules(before, diff, ci, expected):
    assert verdict(before, diff, ci, 0.05, 0.3) == expected


INSTALL = "RUN pip install -r requirements.txt"


def naive_vs_good() -> tuple[Profile, Profile]:
    naive, good = [], []
    for r, (nb, gb) in enumerate([(4.1, 0.5), (3.9, 0.6), (4.0, 0.4)], 1):
        naive.append(build("edit:app/*", r, nb, [step(1, "FROM busybox", "CACHED", 0), step(2, "COPY . .", "RUN", 0.1),
                                                   step(3, INSTALL, "RUN", 3.5)]))
        good.append(build("edit:app/*", r, gb, [step(1, "FROM busybox", "CACHED", 0),
                                                  step(2, "COPY requirements.txt .", "CACHED", 0),
                                                  step(3, INSTALL, "CACHED", 0),
                                                  step(4, "COPY app/ app/", "RUN", 0.1)]))
    return profile("Dockerfile.naive", naive), profile("Dockerfile", good)


def test_compare_profiles_gives_verdict_interval_and_step_changes():
    before, after = naive_vs_good()
    c = compare_profiles(before, after)
    (s,) = c.scenarios
    assert s.verdict == "faster"
    assert s.before.median_s == 4.0 and s.after.median_s == 0.5
    # paired differences -3.6, -3.3, -3.6: mean -3.5, sd 0.1732, half width 4.3027 * 0.1732 / sqrt(3)
    assert s.diff_s == pytest.approx(-3.5) and s.ratio == pytest.approx(0.125) and s.n == 3
    assert s.ci95_s == pytest.approx((-3.9303, -3.0697), abs=1e-3)
    messages = [ch.message for ch in c.changes]
    assert f"`{INSTALL}` was re-run on every edit:app/* before, and is CACHED after" in messages
    assert any("COPY . ." in m and "gone" in m for m in messages)
    doc = comparison_to_dict(c)
    assert doc["schema"] == "cacheprof/compare/v2"
    assert doc["estimator"].startswith("mean of paired differences")
    sc = doc["scenarios"][0]
    assert set(sc) >= {"scenario", "before", "after", "diff_s", "ratio", "ci95_s", "verdict"}
    assert sc["before"]["runs_s"] == [4.1, 3.9, 4.0] and len(sc["ci95_s"]) == 2
    table = render_comparison_table(c)
    assert "faster" in table and "edit:app/*" in table


def test_comparing_a_profile_with_itself_finds_no_difference():
    before, _ = naive_vs_good()
    c = compare_profiles(before, before)
    assert [s.verdict for s in c.scenarios] == ["no clear difference"]
    assert c.changes == ()


def test_a_failed_side_is_a_failed_verdict():
    before, _ = naive_vs_good()
    broken = profile("Dockerfile", [build("edit:app/*", 1, 0.2, [step(1, "RUN false", "ERROR", 0.1)], ok=False)])
    c = compare_profiles(before, broken)
    assert c.scenarios[0].verdict == "failed"
    assert comparison_to_dict(c)["errors"]["after"] == ["boom"]


def test_equivalence_reports_files_content_modes_and_config():
    a = {"/app/x": ("file", 0o644, "h1"), "/app/y": ("file", 0o644, "h2"), "/bin": ("dir", 0o755, "")}
    b = {"/app/x": ("file", 0o600, "h1"), "/app/y": ("file", 0o644, "h3"), "/app/z": ("file", 0o644, "h4"),
         "/bin": ("dir", 0o755, "")}
    cfg = {"Env": ["A=1"], "Cmd": ["sh"], "Entrypoint": None, "WorkingDir": "/app"}
    same = compare_images(a, dict(a), cfg, dict(cfg))
    assert same["equivalent"] is True and same["differences"] == []
    diff = compare_images(a, b, cfg, {**cfg, "Cmd": ["bash"]})
    assert diff["equivalent"] is False
    assert diff["differences"] == [
        "only in AFTER: /app/z", "/app/x: mode 644 in BEFORE, 600 in AFTER", "/app/y: content differs",
        "config Cmd: ['sh'] in BEFORE, ['bash'] in AFTER",
    ]
    ignored = compare_images(a, {**a, "/app/Dockerfile": ("file", 0o644, "d")}, cfg, cfg,
                             ignore_paths={"/app/Dockerfile"})
    assert ignored["equivalent"] is True and "/app/Dockerfile" in ignored["notes"][0]


def test_compare_report_renders_chart_and_markdown():
    before, after = naive_vs_good()
    c = compare_profiles(before, after)
    png = side_by_side_chart(c, "png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # The bars and whiskers follow the data (legend words would be there whatever the data):
    # BEFORE rounds 4.1, 3.9, 4.0 -> median 4.0, whiskers 3.9..4.1; AFTER 0.5, 0.6, 0.4 -> 0.5, 0.4..0.6.
    ax = side_by_side_figure(c).axes[0]
    assert [round(p.get_height(), 6) for p in ax.patches] == [4.0, 0.5]
    spans = sorted((round(float(seg[0][1]), 6), round(float(seg[1][1]), 6))
                   for coll in ax.collections for seg in coll.get_segments())
    assert spans == [(0.4, 0.6), (3.9, 4.1)]
    assert [t.get_text() for t in ax.texts] == ["faster"]
    md = render_markdown(c, ["side_by_side"])
    assert "| `edit:app/*` | 4.00 | 0.50 | -3.50 | 8.0\u00d7 | [-3.93, -3.07] n=3 | faster |" in md
    assert "![side_by_side](charts/side_by_side.png)" in md


def test_compare_charts_pick_what_they_show():
    before, after = naive_vs_good()
    c = compare_profiles(before, after)
    svgs = all_charts(c, "svg")
    # One scenario: no side-by-side chart (it would repeat the table's one row); the two timelines.
    one = len(c.scenarios) == 1
    assert ("side_by_side" in svgs) != one
    assert not any(name.startswith("side_by_side_") for name in svgs)
    times = [n for n in svgs if n.startswith("timeline_")]
    assert len(times) == 2


def test_compare_timelines_share_one_time_axis():
    from cacheprof.render.charts import pick_build, timeline_figure

    before, after = naive_vs_good()
    c = compare_profiles(before, after)
    s = max(c.scenarios, key=lambda x: abs(x.diff_s or 0))
    spans = [timeline_figure(pick_build(p, s.scenario)).xmax for p in (c.before, c.after)]
    assert spans[0] != spans[1]  # each side alone would get its own axis
    svgs = [v.decode() for k, v in all_charts(c, "svg").items() if k.startswith("timeline_")]
    ticks = [re.findall(r'text-anchor="middle">([0-9.]+)</text>', svg) for svg in svgs]
    assert ticks[0] == ticks[1] and ticks[0]


def test_compare_html_has_no_markdown_backticks_and_ranks_changes():
    before, after = naive_vs_good()
    c = compare_profiles(before, after)
    page = render_html(c, all_charts(c, "svg"))
    visible = re.sub(r"<code>.*?</code>|<pre>.*?</pre>|<svg.*?</svg>|<style>.*?</style>", "", page, flags=re.S)
    assert "`" not in visible
    assert page.index('id="answer"') < page.index("<h2>Scenarios</h2>")
    assert "faster on" in page[: page.index("<h2>Scenarios</h2>")]


def test_verdict_interval_and_difference_are_one_estimator():
    # Medians say AFTER saves 5 s (10 -> 5), but the rounds pair as -5, -5, +10: the mean paired
    # difference is 0, and that is what the verdict, the interval and diff_s all report.
    before = profile("B", [build("warm", r, 10.0, []) for r in (1, 2, 3)])
    after = profile("A", [build("warm", r, t, []) for r, t in zip((1, 2, 3), (5.0, 5.0, 20.0), strict=True)])
    (s,) = compare_profiles(before, after).scenarios
    assert s.after.median_s - s.before.median_s == -5.0
    assert s.diff_s == 0.0 and s.n == 3 and s.verdict == "no clear difference"
    assert s.before.mean_s == 10.0 and s.after.mean_s == 10.0
    assert s.ci95_s[0] < s.diff_s < s.ci95_s[1]


def test_failed_rounds_leave_the_pairs():
    before = profile("B", [build("warm", 1, 4.0, []), build("warm", 2, 4.2, []), build("warm", 3, 4.1, [])])
    after = profile("A", [build("warm", 1, 1.0, []), build("warm", 2, 0.1, [], ok=False), build("warm", 3, 1.2, [])])
    (s,) = compare_profiles(before, after).scenarios
    assert s.verdict == "failed" and s.after.runs_s == (1.0, 1.2)
