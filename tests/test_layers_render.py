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


def test_compare_shows_size_difference_per_step_total_and_shared_layers():
    from cacheprof.analysis.compare import compare_profiles, comparison_to_dict
    from cacheprof.render.compare_report import render_markdown as compare_markdown
    from cacheprof.render.compare_table import render_comparison

    before = profile()
    C, R = StepStatus.CACHED, StepStatus.RUN
    bigger = build("warm", [C, C, R], [None, 52_000_000, 9_001_500], transfer=0.5, image=63_000_000)
    after = Profile("classic", "Dockerfile.after", ".", (
        before.builds[0], Build(**{**bigger.__dict__, "layer_ids": ("sha256:a", "sha256:c", "sha256:d")})),
        scenarios=("cold", "warm"))
    c = compare_profiles(before, after)
    assert c.sizes is not None
    assert c.sizes.diff_bytes == 9_000_000 and c.sizes.shared_layers == 1
    assert (c.sizes.before_layers, c.sizes.after_layers) == (2, 3)
    run_make = next(x for x in c.sizes.steps if x.instruction == "RUN make")
    assert (run_make.before_bytes, run_make.after_bytes, run_make.diff_bytes) == (1_500, 9_001_500, 9_000_000)
    text = render_comparison(c, 160)
    assert "image size 54 MB before, 63 MB after (+9 MB); the images share 1 leading layer (BEFORE has 2, AFTER 3)" \
        in text
    assert "`RUN make`: +9 MB (0.0015 MB → 9 MB)" in text
    assert "warm: context transfer 1.75 s before, 0.50 s after" in text
    assert "## Image size" in compare_markdown(c, [])
    d = comparison_to_dict(c)
    assert d["sizes"]["diff_bytes"] == 9_000_000 and d["scenarios"][1]["after"]["transfer_s"] == 0.5
