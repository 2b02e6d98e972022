"""Every chart is a valid PNG and SVG, and its content follows its data."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from cacheprof.analysis.profile_stats import analyze
from cacheprof.model import Build, Profile, Step, StepStatus
from cacheprof.render import charts

C, R, E = StepStatus.CACHED, StepStatus.RUN, StepStatus.ERROR
# (stage, position, instruction, seconds when it runs)
STEPS = [
    ("builder", 1, "FROM golang:1.22 AS builder", 2.0),
    ("builder", 2, "COPY go.mod go.sum ./", 0.2),
    ("builder", 3, "RUN go mod download", 6.0),
    ("builder", 4, "COPY . .", 0.4),
    ("builder", 5, "RUN go build -o /out/app ./cmd/app", 9.0),
    ("final", 1, "FROM gcr.io/distroless/base", 1.5),
    ("final", 2, "COPY --from=builder /out/app /app", 0.3),
]


def make_build(scenario: str, repeat: int, statuses: list[StepStatus], scale: float = 1.0) -> Build:
    clock = {"builder": 0.0, "final": 0.0}
    steps = []
    for i, ((stage, pos, instr, cost), st) in enumerate(zip(STEPS, statuses, strict=True)):
        if stage == "final" and pos == 2:  # waits for the builder stage
            clock["final"] = max(clock.values())
        d = cost * scale if st is not C else 0.01
        start = clock[stage]
        clock[stage] = start + d
        steps.append(Step(index=i + 1, stage=stage, position=pos, line=i + 1, instruction=instr, status=st,
                          started=1000 + start, finished=1000 + start + d, duration_s=d))
    return Build(scenario, repeat, E not in statuses, None, max(clock.values()) + 0.5, None, tuple(steps),
                 started=1000.0)


def make_profile(edit_statuses: list[StepStatus] | None = None, scale: float = 1.0) -> Profile:
    edit = edit_statuses or [C, C, C, R, R, C, R]
    builds = []
    for r in range(3):
        builds += [make_build("cold", r, [R] * 7, scale * (1 + r / 10)), make_build("warm", r, [C] * 7),
                   make_build("edit:cmd/", r, edit, scale), make_build("arg:GOFLAGS=-v", r, [C, C, C, C, E, C, C])]
    return Profile(builder="buildkit", dockerfile="Dockerfile", context=".", builds=tuple(builds))


@pytest.fixture(scope="module")
def profile() -> Profile:
    return make_profile()


@pytest.fixture(scope="module")
def rendered(profile):
    return charts.build_charts(profile, analyze(profile), workers=1)


def svg_texts(svg: bytes) -> str:
    root = ET.fromstring(svg)
    return "\n".join("".join(el.itertext()) for el in root.iter("{http://www.w3.org/2000/svg}text"))


def assert_png(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as im:
        im.verify()
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG" and im.width > 100 and im.height > 50
        return im.size


def test_report_has_every_chart(rendered):
    # No hit-rate chart (the scenario table has the column) and no timeline of warm: nothing ran in it.
    assert list(rendered) == ["scenario_times", "time_saved", "invalidation", "timeline_cold",
                              "timeline_edit-cmd", "timeline_arg-GOFLAGS--v"]


@pytest.mark.parametrize("name", ["scenario_times", "time_saved", "invalidation", "timeline_cold",
                                  "timeline_edit-cmd", "timeline_arg-GOFLAGS--v"])
def test_chart_is_valid_png_and_svg(rendered, name):
    c = rendered[name]
    assert_png(c.png)
    ET.fromstring(c.svg)  # well-formed XML
    assert b"<svg" in c.svg
    assert svg_texts(c.svg).strip()  # text kept as text


def test_timeline_shows_steps_and_statuses(rendered):
    text = svg_texts(rendered["timeline_edit-cmd"].svg)
    assert "builder/3 RUN go mod download" in text
    assert "final/2 COPY --from=builder /out/app /a…" in text  # long labels are truncated
    # The legend names the statuses this build has, not every status there is.
    assert "CACHED" in text and "RUN" in text and "ERROR" not in text
    assert "Timeline: edit:cmd/ (repeat 0" in text


def test_timeline_draws_parallel_stages_overlapping(profile):
    """The final stage's FROM runs while the builder stage's FROM does: their bars overlap in x."""
    fig = charts.timeline_figure(charts.pick_build(profile, "cold"))
    assert [b.row for b in fig.bars] == list(range(7))  # one bar per step, in step order
    spans = [(b.start, b.start + b.width) for b in fig.bars]
    builder_from, builder_build, final_from, final_copy = spans[0], spans[4], spans[5], spans[6]
    assert final_from[0] < builder_from[1] and builder_from[0] < final_from[1]
    assert final_copy[0] >= builder_build[1]  # waits for the builder stage


def test_timeline_of_a_chosen_repetition(profile):
    first = charts.render(charts.timeline_figure(charts.pick_build(profile, "cold")), "svg")
    third = charts.render(charts.timeline_figure(charts.pick_build(profile, "cold", repeat=2)), "svg")
    assert "repeat 2" in svg_texts(third) and first != third


def test_invalidation_map_rows_and_cells(rendered, profile):
    text = svg_texts(rendered["invalidation"].svg)
    a = analyze(profile)
    by = {e.scenario: e for e in a.edits}
    assert f"edit:cmd/: {by['edit:cmd/'].median_total_s:.1f} s" in text
    assert "arg:GOFLAGS=-v:" in text
    assert "builder/3 RUN go mod download" in text
    # The cells, not the legend (which names every status whatever the data): from make_profile's
    # statuses, columns in step order builder/1..5, final/1..2.
    names = list(charts.STATUS_COLORS)
    cells = charts.invalidation_figure(a).axes[0].images[0].get_array().tolist()
    assert [[names[int(v)][0] for v in row] for row in cells] == [
        list("CCCRRCR"),  # edit:cmd/
        list("CCCCECC"),  # arg:GOFLAGS=-v
    ]


def test_time_saved_draws_only_steps_that_ran(rendered, profile):
    text = svg_texts(rendered["time_saved"].svg)
    for name in ("cold", "warm", "edit:cmd/", "builder/4 COPY . .", "no bar: the step was cached"):
        assert name in text
    # One bar per (scenario, step) that did work; none for a cached step, so no zero-length "warm" bar.
    a = analyze(profile)
    ran = a.per_step[(a.per_step["status_mode"] != "CACHED") & a.per_step["median_s"].notna()]
    bars = [p for p in charts.time_saved_figure(a).axes[0].patches]
    assert len(bars) == len(ran) and len(ran) > 0
    assert "warm" not in set(ran["scenario"])
    assert min(p.get_width() for p in bars) > 0


def test_scenario_times_whiskers_stay_at_or_above_zero(rendered, profile):
    text = svg_texts(rendered["scenario_times"].svg)
    assert "warm (n=3)" in text and "cold (n=3)" in text
    assert "arg:GOFLAGS=-v" not in text  # every build failed: no time to show
    fig = charts.scenario_times_figure(profile)
    ax = fig.axes[0]
    assert ax.get_xlim()[0] == 0
    for line in ax.lines + [c for coll in ax.collections for c in [coll]]:
        if hasattr(line, "get_xdata"):
            assert min(line.get_xdata()) >= 0


def test_different_data_gives_different_charts(profile):
    other = make_profile(edit_statuses=[C, R, R, R, R, C, R], scale=2.0)
    a1, a2 = analyze(profile), analyze(other)
    for build_fig in (charts.time_saved_figure, charts.invalidation_figure):
        assert charts.render(build_fig(a1), "svg") != charts.render(build_fig(a2), "svg")
        assert charts.render(build_fig(a1), "png") != charts.render(build_fig(a2), "png")
    t1 = charts.timeline_figure(charts.pick_build(profile, "edit:cmd/"))
    t2 = charts.timeline_figure(charts.pick_build(other, "edit:cmd/"))
    assert charts.render(t1, "png") != charts.render(t2, "png")


def test_same_data_gives_same_bytes(profile, rendered):
    again = charts.build_charts(profile, analyze(profile), workers=1)
    for name, c in rendered.items():
        assert again[name].svg == c.svg, name
        assert again[name].png == c.png, name


def test_worker_processes_render_the_same_charts():
    # Enough scenarios to take the process-pool path.
    p = make_profile()
    extra = tuple(make_build(f"edit:pkg{i}/", 0, [C, C, C, R, R, C, R]) for i in range(5))
    p = Profile(builder=p.builder, dockerfile=p.dockerfile, context=p.context, builds=p.builds + extra)
    a = analyze(p)
    serial = charts.build_charts(p, a, workers=1)
    pooled = charts.build_charts(p, a, workers=2)
    assert len(serial) >= charts._POOL_MIN_JOBS
    assert list(serial) == list(pooled)
    assert all(serial[n].svg == pooled[n].svg for n in serial)


def test_empty_inputs_still_render():
    empty = Profile(builder="buildkit", dockerfile="D", context=".", builds=())
    a = analyze(empty)
    for fig in (charts.scenario_times_figure(empty), charts.time_saved_figure(a), charts.invalidation_figure(a),
                charts.timeline_figure(None, scenario="cold")):
        assert_png(charts.render(fig, "png"))
        ET.fromstring(charts.render(fig, "svg"))


def test_timeline_without_timestamps_lays_steps_end_to_end():
    steps = tuple(Step(index=i, stage="0", position=i, line=i, instruction=f"RUN step{i}", status=R,
                       duration_s=float(i)) for i in (1, 2, 3))
    fig = charts.timeline_figure(Build("cold", 0, True, None, 6.0, None, steps))
    assert "laid end to end" in svg_texts(charts.render(fig, "svg"))


def test_unknown_format_is_refused(profile):
    with pytest.raises(ValueError):
        charts.render(charts.time_saved_figure(analyze(profile)), "gif")


def test_no_single_row_chart_repeats_a_table():
    """One edit, one scenario: the invalidation map and the scenario-times chart would be one row each."""
    one_edit = Profile(builder="buildkit", dockerfile="D", context=".", builds=tuple(
        make_build(s, r, st) for r in range(2) for s, st in (("cold", [R] * 7), ("edit:cmd/", [C, C, C, R, R, C, R]))))
    names = list(charts.build_charts(one_edit, analyze(one_edit), workers=1))
    assert "invalidation" not in names and "scenario_times" in names
    only_cold = Profile(builder="buildkit", dockerfile="D", context=".", builds=(make_build("cold", 0, [R] * 7),))
    names = list(charts.build_charts(only_cold, analyze(only_cold), workers=1))
    assert "scenario_times" not in names and "invalidation" not in names and "timeline_cold" in names
