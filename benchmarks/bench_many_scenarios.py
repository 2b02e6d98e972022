"""The per-scenario summary of a profile with many builds and many scenarios (a parsed log of 200,000 builds):
it must grow linearly. Prints seconds for n builds in n/2 scenarios, for growing n (issue 16, quadratic paths).

    python benchmarks/bench_many_scenarios.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout's cacheprof, not an installed one

from cacheprof.model import Build, Profile, Step, StepStatus
from cacheprof.store.profile_json import scenario_summary


def profile(n: int) -> Profile:
    step = Step(index=1, stage="0", position=2, line=2, instruction="RUN true", status=StepStatus.RUN,
                duration_s=0.1)
    builds = tuple(Build(scenario=f"build-{i // 2}", repeat=1 + i % 2, ok=True, error=None, duration_s=1.0,
                         image_id=None, steps=(step,)) for i in range(n))
    return Profile(builder="buildkit", dockerfile="Dockerfile", context=".", builds=builds, source="parse")


if __name__ == "__main__":
    for n in (10_000, 50_000, 200_000):
        p = profile(n)
        t0 = time.perf_counter()
        scenario_summary(p)
        print(f"{n:>7} builds, {n // 2:>7} scenarios: summary {time.perf_counter() - t0:6.2f} s")
