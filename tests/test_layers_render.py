"""Context transfer and layer sizes in the terminal table, the reports, the charts and profile.json."""

from __future__ import annotations

from cacheprof.analysis.profile_stats import analyze
from cacheprof.model import Build, Profile, Step, StepStatus
from cacheprof.render.charts import build_charts, layer_size_figure, sized_build
from cacheprof.render.html import render_html, render_markdown
from cacheprof.render.terminal import render_profile
from cacheprof.store import profile_json

INSTR = ["FROM busybox:1.36", "COPY app.tar /", "RUN make"]


def build(scenario: str, statuses: list[StepStatus], sizes: list[int | None], *, transfer: float,
          image: int | None) -> Build:
    steps = tuple(Step(i + 1, "0", i + 1, i + 1, text, st, duration_s=0.5 if st is StepStatus.RUN else 0.0,
                       size_bytes=size)
                  for i, (text, st, size) in enumerate(zip(INSTR, statuses, sizes, strict=True)))
    return Build(scenario, 1, True, None, 4.0, "sha256:x", steps, transfer_s=transfer, image_size_bytes=image,
                 layer_ids=("sha256:a", "sha256:b"))


def profile() -> Profile:
    C, R = StepStatus.CACHED, StepStatus.RUN
    return Profile("classic", "Dockerfile", ".", (
        build("cold", [R, R, R], [None, 52_000_000, 1_500], transfer=1.25, image=54_000_000),
        build("warm", [C, C, C], [None, 52_000_000, 1_500], transfer=1.75, image=54_000_000),
    ), scenarios=("cold", "warm"))


def test_terminal_shows_transfer_apart_and_a_layer_column():
    text = render_profile(profile(), 100)
    assert "context transfer 1.25 s" in text and "context transfer 1.75 s" in text
    assert "image 54MB" in text
    copy_row = next(line for line in text.splitlines() if "COPY app.tar" in line)
    assert copy_row.rstrip().endswith("52MB")
    assert next(line for line in text.splitlines() if "RUN make" in line).rstrip().endswith("1.5kB")


def test_terminal_without_sizes_has_no_layer_column():
    p = profile()
    bare = Profile(p.builder, p.dockerfile, p.context, tuple(
        Build(b.scenario, 1, True, None, 4.0, None, tuple(
            Step(s.index, s.stage, s.position, s.line, s.instruction, s.status, duration_s=s.duration_s)
            for s in b.steps)) for b in p.builds))
    text = render_profile(bare, 100)
    assert "layer" not in text and "context transfer" not in text


def test_reports_show_transfer_and_layers():
    p = profile()
    a = analyze(p)
    md = render_markdown(p, a, {})
    assert "## Context transfer" in md and "| `warm` | 1 | 1.75 | 4.00 |" in md
    assert "## Image layers" in md and "| 52 MB | 52,000,000 |" in md and "| `whole image` | 54 MB | 54,000,000 |" in md
    assert "Image layers" in render_html(p, a, {})
    assert sized_build(p) is p.builds[-1]


def test_layer_chart_is_made_when_sizes_exist():
    p = profile()
    charts = build_charts(p, analyze(p), workers=1)
    assert "layer_sizes" in charts
    assert b"52 MB" in charts["layer_sizes"].svg
    fig = layer_size_figure(None)
    assert fig is not None  # an empty figure with a message, not an error


def test_profile_json_roundtrips_the_new_fields():
    p = profile()
    back = profile_json.loads(profile_json.dumps(p))
    assert back.builds[1].transfer_s == 1.75 and back.builds[1].image_size_bytes == 54_000_000
    assert back.builds[1].layer_ids == ("sha256:a", "sha256:b")
    assert [s.size_bytes for s in back.builds[0].steps] == [None, 52_000_000, 1_500]
