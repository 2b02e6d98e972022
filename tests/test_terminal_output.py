"""Final terminal output: tables per scenario keyed by Dockerfile line that fit the width, and verdicts in
words (the costliest waste first; compare's speed-up with n, or the rounds a verdict needs)."""

from __future__ import annotations

import pytest

from cacheprof.analysis.compare import compare_profiles
from cacheprof.model import Build, Profile, Step, StepStatus
from cacheprof.render.compare_table import ranked_changes, render_comparison
from cacheprof.render.terminal import render_profile, step_rows
from cacheprof.render.verdict import profile_verdict, rounds_needed

R, C, E = StepStatus.RUN, StepStatus.CACHED, StepStatus.ERROR
NAIVE = [(2, "FROM busybox:1.36"), (3, "WORKDIR /app"), (4, "COPY . ."),
         (6, "RUN pip install -r requirements.txt --no-cache-dir --disable-pip-version-check --quiet"),
         (8, "CMD python app/main.py")]


def build(scenario: str, repeat: int, statuses: list[StepStatus], secs: list[float], wall: float,
          instrs: list[tuple[int, str]] = NAIVE, ok: bool = True) -> Build:
    steps = tuple(Step(i + 1, "0", i + 1, line, text, st, None, None, d)
                  for i, ((line, text), st, d) in enumerate(zip(instrs, statuses, secs, strict=True)))
    return Build(scenario, repeat, ok, None if ok else "exit code: 1", wall, None, steps)


def naive_profile(reps: int = 3) -> Profile:
    builds = []
    for r in range(1, reps + 1):
        builds += [build("cold", r, [C, R, R, R, C], [0, 0.1, 0.1, 3.2, 0], 3.9 + r / 10),
                   build("warm", r, [C] * 5, [0] * 5, 0.3),
                   build("edit:app/main.py", r, [C, C, R, R, C], [0, 0, 0.1, 3.1 + r / 10, 0], 3.3 + r / 100)]
    return Profile("buildkit", "Dockerfile", ".", tuple(builds), scenarios=("cold", "warm", "edit:app/main.py"))


def test_profile_verdict_names_the_costly_step_and_its_cause():
    v = profile_verdict(naive_profile(), fix_available=True)
    assert v.startswith("An edit of app/main.py costs 3.32 s: `RUN pip install` (line 6) re-runs because "
                        "`COPY . .` (line 4) comes first. Run `cacheprof advise` for the fix.")
    assert "Cold 4.10 s, warm 0.30 s; the cache saves 3.80 s on a warm rebuild (n=3)." in v


def test_no_advise_pointer_without_a_fix_and_no_waste_without_a_rerun_run():
    assert "advise" not in profile_verdict(naive_profile(), fix_available=False)
    good = [(2, "FROM busybox:1.36"), (3, "COPY requirements.txt ."), (4, "RUN pip install"), (5, "COPY . .")]
    p = Profile("buildkit", "Dockerfile", ".", (
        build("cold", 1, [C, R, R, R], [0, 0.1, 3, 0.1], 3.5, good),
        build("edit:app/main.py", 1, [C, C, C, R], [0, 0, 0, 0.1], 0.4, good)))
    v = profile_verdict(p, fix_available=True)
    assert not v.startswith("An edit") and "No edit re-runs a RUN step" in v
    assert "One repetition: run --repeat 3" in v


def test_failed_builds_are_counted_and_left_out_of_the_figures():
    p = Profile("buildkit", "Dockerfile", ".", (
        build("cold", 1, [C, R, R, R, C], [0, 0.1, 0.1, 3.2, 0], 4.0),
        build("cold", 2, [C, R, R, E, C], [0, 0.1, 0.1, 0.5, 0], 99.0, ok=False)))
    v = profile_verdict(p)
    assert "Cold 4.00 s" in v and "1 of 2 builds failed; their times are left out." in v


@pytest.mark.parametrize("width", [80, 100, 160])
def test_profile_tables_fit_the_width_and_key_steps_by_line(width: int):
    text = render_profile(naive_profile(), width, profile_verdict(naive_profile()))
    lines = text.splitlines()
    assert max(map(len, lines)) < width
    assert sum(line.startswith("== ") for line in lines) == 3  # one table per scenario, not per build
    cold = lines[lines.index(next(x for x in lines if x.startswith("== cold"))) + 1:][:6]
    assert [row.split()[0] for row in cold[1:]] == ["2", "3", "4", "6", "8"]
    assert "min…max" in cold[0]
    assert any("An edit of app/main.py" in x for x in lines)


def test_step_rows_merge_repetitions_and_show_disagreement():
    rows = step_rows([build("edit:x", r, [C, C, R if r < 3 else C, R, C], [0, 0, 0.1, 3, 0], 3) for r in (1, 2, 3)])
    assert [r.status for r in rows] == ["CACHED", "CACHED", "RUN 2/3", "RUN", "CACHED"]


def _pair(before_walls: list[float], after_walls: list[float]) -> tuple[Profile, Profile]:
    def prof(walls: list[float], edit_status: StepStatus) -> Profile:
        return Profile("buildkit", "D", ".", tuple(
            build("edit:app/main.py", r, [C, C, R, edit_status, C], [0, 0, 0.1, w - 0.3, 0], w)
            for r, w in enumerate(walls, 1)))
    return prof(before_walls, R), prof(after_walls, C)


def test_compare_verdict_says_how_many_times_faster_with_n():
    b, a = _pair([3.5, 3.6, 3.7], [0.27, 0.28, 0.29])
    text = render_comparison(compare_profiles(b, a), 80)
    assert "AFTER is 12.9\u00d7 faster on edit:app/main.py (mean 3.60 s → 0.28 s, n=3)" in text
    assert max(map(len, text.splitlines())) < 80


def test_compare_with_one_round_asks_for_more():
    b, a = _pair([3.5], [0.3])
    text = render_comparison(compare_profiles(b, a), 80)
    assert "one round gives no interval: run --repeat 3 or more" in " ".join(text.split())


def test_rounds_needed_grows_with_the_noise():
    quiet = rounds_needed([-1.0, -1.1, -0.2], 0.3)
    noisy = rounds_needed([-1.0, -2.5, 0.5], 0.3)
    assert quiet is not None and noisy is not None and 3 < quiet < noisy
    assert rounds_needed([-0.1, -0.12, -0.09], 0.3) is None  # below the smallest effect called


def test_ranked_changes_put_the_costly_step_first_and_fold_one_sided_lines():
    b, a = _pair([3.5, 3.6, 3.7], [0.27, 0.28, 0.29])
    lines = ranked_changes(compare_profiles(b, a))
    assert lines[0].startswith("`RUN pip install -r requirements.txt")
    assert "re-run on edit:app/main.py before and is CACHED after" in lines[0]


def test_the_advise_pointer_follows_the_advice(monkeypatch):
    """The verdict points at `cacheprof advise` only when advise has a rewrite for this Dockerfile."""
    from types import SimpleNamespace

    import cacheprof.advise.rules as rules
    from cacheprof.capture.session import ProfileOptions, plan_profile
    from cacheprof.commands.profile_cmd import _fix_available
    from cacheprof.model import Builder
    from tests.conftest import FIXTURES

    plan = plan_profile(ProfileOptions(FIXTURES / "python-app", None, ("cold",), 1, Builder.BUILDKIT))
    seen = []

    def fake(found):
        def find(model, ctx):
            seen.append((model.path, ctx))
            return found
        return find

    monkeypatch.setattr(rules, "find_problems", fake((SimpleNamespace(fix=object()),)))
    assert _fix_available(plan) is True
    monkeypatch.setattr(rules, "find_problems", fake((SimpleNamespace(fix=None),)))
    assert _fix_available(plan) is False
    assert seen and str(seen[0][0]).endswith("Dockerfile")


@pytest.mark.parametrize("no_color", [True, False])
def test_live_view_honours_no_color(monkeypatch, no_color: bool):
    import io
    import re

    from rich.console import Console

    from cacheprof.model import StepEvent
    from cacheprof.render.progress import LiveProgress

    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=80, color_system="standard")
    live = LiveProgress(console=console, mode="tty")
    live.build_started("cold", 1, 1, 2)
    live.step(StepEvent("0", 4, "RUN pip install -r requirements.txt", None))
    console.print(live)  # one frame of the live view
    live.close()
    colours = re.findall(r"\x1b\[[0-9;]*3[0-7]m", buf.getvalue())
    assert "build 1/2" in buf.getvalue() and "RUN pip install" in buf.getvalue()
    assert (not colours) == no_color


@pytest.mark.parametrize("recording", ["buildkit-multistage", "classic-multistage", "buildkit-python-app"])
def test_live_view_labels_are_the_dockerfiles_text(recording: str):
    """The live view names each step as the Dockerfile writes it, the same text the tables and reports show."""
    import json

    from cacheprof.capture.replay import read_recording
    from cacheprof.capture.runner import assemble
    from cacheprof.dockerfile import load
    from cacheprof.model import Builder
    from tests.conftest import DATA

    rec = DATA / "streams" / recording
    model = load(rec / "Dockerfile")
    first = json.loads((rec / "builds.jsonl").read_text().splitlines()[0])
    seen: list[str] = []
    outcome = assemble(Builder(first["builder"]), read_recording(rec / first["stream"]), model,
                       lambda ev: seen.append(ev.instruction))
    written = {ins.original for ins in model.instructions}
    assert seen and set(seen) <= written, set(seen) - written
    assert {s.instruction for s in outcome.steps} <= written


def test_final_tables_colour_the_status_cells_only():
    from cacheprof.render.terminal import colorize, use_colour

    text = render_profile(naive_profile(), 80, profile_verdict(naive_profile()))
    coloured = colorize(text)
    import re

    plain = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    assert plain == text  # colour changes no width
    # The status column's RUN is coloured; the RUN that starts an instruction is not.
    row = next(x for x in coloured.splitlines() if "RUN pip install" in x and "\x1b[33mRUN" in x)
    assert row.index("RUN pip install") < row.index("\x1b[33mRUN")

    class Tty:
        def isatty(self) -> bool:
            return True

    assert use_colour(Tty(), {}) and not use_colour(Tty(), {"NO_COLOR": ""}) and not use_colour(object(), {})
