"""Benchmark: render a full report for a large synthetic profile (target: under 10 s).

    python benchmarks/bench_report.py [--scenarios 50] [--repeats 20] [--steps 40]

50 scenarios x 20 repetitions x 40 steps by default; prints the seconds taken by analysis + charts +
rendering + writing.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from cacheprof.model import Build, EngineInfo, Profile, Step, StepStatus


def synthetic_profile(scenarios: int = 50, repeats: int = 20, steps: int = 40, seed: int = 1) -> Profile:
    """cold, warm and edit scenarios over a two-stage Dockerfile whose stages overlap in time."""
    rng = random.Random(seed)
    names = ["cold", "warm"] + [f"edit:src/part{i}/" for i in range(scenarios - 2)]
    split = steps // 2
    instrs = ["FROM python:3.12-slim"] + [
        f"RUN step {i} && make target-{i}" if i % 3 else f"COPY part{i}/ /app/part{i}/" for i in range(1, steps)
    ]
    base_cost = [rng.uniform(0.1, 5.0) for _ in range(steps)]
    builds = []
    t0 = 1_700_000_000.0
    for si, name in enumerate(names):
        # Which step each scenario invalidates first (cold: all; warm: none).
        first = 0 if name == "cold" else steps if name == "warm" else 1 + (si * 7) % (steps - 1)
        for r in range(repeats):
            clock = {"a": t0, "b": t0}
            out = []
            for i in range(steps):
                stage = "a" if i < split else "b"
                run = i >= first
                # A cache hit still takes a few milliseconds.
                dur = base_cost[i] * rng.uniform(0.8, 1.2) if run else rng.uniform(0.001, 0.02)
                start = clock[stage]
                clock[stage] = start + dur
                out.append(Step(
                    index=i + 1, stage=stage, position=(i if i < split else i - split) + 1, line=i + 1,
                    instruction=instrs[i] if i < split or i > split else "FROM python:3.12-slim",
                    status=StepStatus.RUN if run else StepStatus.CACHED,
                    started=start, finished=start + dur, duration_s=dur,
                ))
            wall = max(clock.values()) - t0 + rng.uniform(0.3, 0.6)  # context transfer, export
            builds.append(Build(scenario=name, repeat=r, ok=True, error=None, duration_s=wall,
                                image_id=f"sha256:{si:04x}{r:04x}", steps=tuple(out), started=t0))
            t0 += wall + 1.0
    return Profile(
        builder="buildkit", dockerfile="Dockerfile", context=".", builds=tuple(builds),
        engine=EngineInfo(version="27.0.0", api_version="1.46", os="linux", arch="x86_64"),
        scenarios=tuple(names), created="2024-01-01T00:00:00Z", machine={"cpus": "8"},
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--breakdown", action="store_true", help="also time each phase on its own")
    args = ap.parse_args()
    from cacheprof.render.writer import write_report

    profile = synthetic_profile(args.scenarios, args.repeats, args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        files = write_report(profile, Path(tmp) / "report")
        took = time.perf_counter() - start
    print(f"{args.scenarios} scenarios x {args.repeats} repetitions x {args.steps} steps: "
          f"{len(files)} files in {took:.2f} s")
    if args.breakdown:
        _breakdown(profile)


def _breakdown(profile: Profile) -> None:
    from cacheprof.analysis.profile_stats import analyze, steps_csv
    from cacheprof.render.charts import build_charts, pick_build, render, timeline_figure
    from cacheprof.render.html import render_html, render_markdown
    from cacheprof.store import profile_json

    def timed(label: str, fn):
        start = time.perf_counter()
        out = fn()
        print(f"  {label:<22} {time.perf_counter() - start:6.2f} s")
        return out

    timed("profile.json", lambda: profile_json.dumps(profile))
    timed("steps.csv", lambda: steps_csv(profile))
    analysis = timed("analysis", lambda: analyze(profile))
    charts = timed("charts (all CPUs)", lambda: build_charts(profile, analysis))

    def timelines() -> None:
        for name in profile.scenario_names:
            fig = timeline_figure(pick_build(profile, name), analysis.step_labels, name)
            render(fig, "png"), render(fig, "svg")

    # The timelines (fast_timeline, not matplotlib) on their own: the rest of "charts" is matplotlib.
    timed("timelines (1 CPU)", timelines)
    timed("html + markdown", lambda: (render_html(profile, analysis, charts),
                                       render_markdown(profile, analysis, charts)))


if __name__ == "__main__":
    main()
