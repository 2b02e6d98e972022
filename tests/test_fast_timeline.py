"""The directly drawn timeline: valid SVG with the data visible, deterministic bytes; its PNG (for Markdown
only) comes from matplotlib."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from cacheprof.analysis.compare import compare_profiles
from cacheprof.analysis.profile_stats import analyze
from cacheprof.model import Build, Step, StepStatus
from cacheprof.render import charts
from cacheprof.render import timeline as fast_timeline
from cacheprof.render.compare_report import timelines
from cacheprof.render.timeline import Bar, Timeline
from tests.test_charts import STEPS, assert_png, make_profile, svg_texts

SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def profile():
    return make_profile()


def timeline(profile, scenario: str = "edit:cmd/", repeat: int | None = None) -> Timeline:
    return charts.timeline_figure(charts.pick_build(profile, scenario, repeat), analyze(profile).step_labels)


def bar_spans(svg: bytes) -> list[tuple[float, float]]:
    """x extent of each bar rect, in step order."""
    group = next(g for g in ET.fromstring(svg).iter(f"{SVG_NS}g") if g.get("id") == "bars")
    return [(float(r.get("x")), float(r.get("x")) + float(r.get("width"))) for r in group.iter(f"{SVG_NS}rect")]


def test_svg_has_every_label_status_and_the_title(profile):
    svg = timeline(profile).render("svg")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    text = svg_texts(svg)
    labels = analyze(profile).step_labels
    for key in [(stage, pos) for stage, pos, _, _ in STEPS]:
        assert labels[key] in text
    assert "CACHED" in text and "RUN" in text  # the legend: the statuses of this build
    assert "Timeline: edit:cmd/ (repeat 0, wall " in text
    assert "seconds since the first step started" in text
    assert len(bar_spans(svg)) == len(STEPS)


def test_bars_take_their_status_colour(profile):
    svg = ET.fromstring(timeline(profile, "arg:GOFLAGS=-v").render("svg"))
    group = next(g for g in svg.iter(f"{SVG_NS}g") if g.get("id") == "bars")
    fills = [r.get("fill") for r in group.iter(f"{SVG_NS}rect")]
    c, e = charts.STATUS_COLORS["CACHED"], charts.STATUS_COLORS["ERROR"]
    assert fills == [c, c, c, c, e, c, c]


def test_parallel_stages_overlap(profile):
    """The final stage's FROM runs while the builder stage's FROM does; its last COPY waits for the build."""
    t = timeline(profile, "cold")
    spans = bar_spans(t.render("svg"))
    builder_from, builder_build, final_from, final_copy = spans[0], spans[4], spans[5], spans[6]
    assert final_from[0] < builder_from[1] and builder_from[0] < final_from[1]
    assert final_copy[0] >= builder_build[1] - 0.01


def test_untimed_steps_are_laid_end_to_end():
    steps = tuple(Step(index=i, stage="0", position=i, line=i, instruction=f"RUN step{i}", status=StepStatus.RUN,
                       duration_s=float(i)) for i in (1, 2, 3))
    t = charts.timeline_figure(Build("cold", 0, True, None, 6.0, None, steps))
    assert [(b.start, b.width) for b in t.bars] == [(0.0, 1.0), (1.0, 2.0), (3.0, 3.0)]
    svg = t.render("svg")
    assert "laid end to end" in svg_texts(svg)
    spans = bar_spans(svg)
    assert spans[0][1] == pytest.approx(spans[1][0]) and spans[1][1] == pytest.approx(spans[2][0])
    assert_png(charts.render(t, "png"))


def test_empty_build_says_so():
    for t in (charts.timeline_figure(None, scenario="warm"),
              charts.timeline_figure(Build("warm", 0, True, None, 1.0, None, ()))):
        assert "no steps recorded for warm" in svg_texts(t.render("svg"))
        assert_png(charts.render(t, "png"))


def test_same_data_same_bytes_different_data_different_bytes(profile):
    first = {fmt: charts.render(timeline(profile), fmt) for fmt in ("png", "svg")}
    # Caches cleared: the bytes come from the data, not from what was drawn before.
    fast_timeline.layout.cache_clear()
    again = {fmt: charts.render(timeline(make_profile()), fmt) for fmt in ("png", "svg")}
    assert first == again
    other = make_profile(edit_statuses=[StepStatus.CACHED, *[StepStatus.RUN] * 5, StepStatus.CACHED], scale=2.0)
    for fmt in ("png", "svg"):
        assert charts.render(timeline(other), fmt) != first[fmt]
        assert charts.render(timeline(profile, "cold", repeat=2), fmt) != charts.render(timeline(profile, "cold"), fmt)


def test_text_is_escaped_and_long_titles_fit():
    label = "RUN echo '<a & b>' \x1b[1m done"
    t = Timeline(f"Timeline: {'x' * 200}", (label,), (Bar(0, 0.0, 1.0, "#ff9800"),), "s", 1.0,
                 (("RUN", "#ff9800"),))
    text = svg_texts(t.render("svg"))
    assert "RUN echo '<a & b>' \ufffd[1m done" in text and "x" * 200 in text
    lay = fast_timeline.layout(t)
    title_x, _, title, px, _ = lay.texts[0]
    half = fast_timeline.text_width(title, px) / 2
    assert title_x - half >= 0 and title_x + half <= lay.width
    assert_png(charts.render(t, "png"))


def test_ticks_are_round_numbers():
    assert fast_timeline.nice_ticks(18.4 * 1.02) == ([0.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 17.5], 1)
    assert fast_timeline.nice_ticks(40.5) == ([0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0], 0)
    assert fast_timeline.nice_ticks(0.05) == ([0.0, 0.01, 0.02, 0.03, 0.04, 0.05], 2)
    for xmax in (0.003, 1.0, 7.3, 99.0, 1234.5):
        ticks, _ = fast_timeline.nice_ticks(xmax)
        assert 3 <= len(ticks) <= fast_timeline.MAX_TICK_STEPS + 1 and ticks[-1] <= xmax


def test_compare_report_timelines_use_it(profile):
    after = make_profile(edit_statuses=[StepStatus.CACHED] * 6 + [StepStatus.RUN])
    c = compare_profiles(profile, after)
    svgs, pngs = timelines(c, "svg"), timelines(c, "png")
    assert sorted(svgs) == sorted(pngs) and len(svgs) == 2
    titles = [svg_texts(b) for b in svgs.values()]
    assert any(re.search(r"Timeline: BEFORE: \S+ \(repeat", t) for t in titles)
    assert any(re.search(r"Timeline: AFTER: \S+ \(repeat", t) for t in titles)
    for b in pngs.values():
        assert_png(b)


def test_report_charts_use_it(profile):
    rendered = charts.build_charts(profile, analyze(profile), workers=1)
    expected = timeline(profile)
    assert rendered["timeline_edit-cmd"].svg == expected.render("svg")
    assert rendered["timeline_edit-cmd"].png == charts.render(expected, "png")


def test_the_timeline_itself_draws_no_png():
    with pytest.raises(ValueError):
        Timeline("t", ("a",), (Bar(0, 0.0, 1.0, "#4caf50"),), "s", 1.0).render("png")
