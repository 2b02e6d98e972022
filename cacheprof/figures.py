"""The figures every command prints about a scenario, defined once: time over ok builds, hit rate, cache saved.

Pure functions of builds (no pandas): profile, report, compare and bench all call these, so one Dockerfile
gets one number wherever it is shown. Definitions:

- Time statistics use only builds that succeeded (`ok`); `ok`/`builds` say how many that is.
- Hit rate: cached RUN/COPY/ADD steps / RUN/COPY/ADD steps, over the scenario's ok builds. Both builders
  give the same number for the same Dockerfile, and a `--no-cache` build reads 0%.
- Cache saved: per ok build, the cold seconds of its CACHED work steps divided by the cold seconds of all
  its work steps (a step's cold seconds: its median over the ok cold builds); the median over builds.
  None without an ok cold build to measure the steps against.

It lives beside model.py, below store/ and analysis/, because both need it (and analysis imports store).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .model import Build, Profile, StepStatus

COLD = "cold"


@dataclass(frozen=True)
class ScenarioFigures:
    scenario: str
    builds: int
    ok: int
    # Over ok builds with a wall time; None when there is none.
    median_total_s: float | None
    min_total_s: float | None
    max_total_s: float | None
    # Work steps (RUN/COPY/ADD) of the ok builds, and how many of them were CACHED.
    work_steps: int
    cached_work_steps: int
    hit_rate: float | None
    cache_saved: float | None
    # The median over ok builds of the cold seconds their cached work steps skipped.
    cache_saved_s: float | None


def ok_builds(builds: Iterable[Build]) -> list[Build]:
    # An ok build whose account is short (steps a concurrent build ran were not reported) is no full build.
    return [b for b in builds if b.ok and b.complete]


def ok_durations(builds: Iterable[Build]) -> list[float]:
    """Wall seconds of the ok (and complete) builds: the only builds a time statistic may use."""
    return [b.duration_s for b in builds if b.ok and b.complete and b.duration_s is not None]


def hit_rate(builds: Iterable[Build]) -> tuple[int, int, float | None]:
    """(cached work steps, work steps, their ratio) over the ok builds."""
    work = [s for b in ok_builds(builds) for s in b.work_steps]
    cached = sum(s.status is StepStatus.CACHED for s in work)
    return cached, len(work), (cached / len(work) if work else None)


def cold_step_seconds(cold_builds: Iterable[Build]) -> dict[tuple[str, int], float]:
    """Per work step (stage, position): its median seconds over the ok cold builds that ran it."""
    times: dict[tuple[str, int], list[float]] = {}
    for b in ok_builds(cold_builds):
        for s in b.work_steps:
            if s.status is StepStatus.RUN and s.duration_s is not None:
                times.setdefault(s.key, []).append(s.duration_s)
    return {k: statistics.median(v) for k, v in times.items()}


def build_cache_saved(build: Build, cold_s: dict[tuple[str, int], float]) -> tuple[float, float] | None:
    """(cold seconds of the build's cached work steps, cold seconds of all its work steps), over the steps
    that have a cold time; None when none has."""
    saved = total = 0.0
    matched = False
    for s in build.work_steps:
        t = cold_s.get(s.key)
        if t is None:
            continue
        matched = True
        total += t
        if s.status is StepStatus.CACHED:
            saved += t
    return (saved, total) if matched else None


def cache_saved(builds: Sequence[Build], cold_builds: Sequence[Build]) -> tuple[float | None, float | None]:
    """(share, seconds): the median over the ok builds of cache saved; (None, None) without a cold time."""
    cold_s = cold_step_seconds(cold_builds)
    if not cold_s:
        return None, None
    per_build = [x for b in ok_builds(builds) if (x := build_cache_saved(b, cold_s)) is not None]
    if not per_build:
        return None, None
    shares = [saved / total if total > 0 else 0.0 for saved, total in per_build]
    return statistics.median(shares), statistics.median(saved for saved, _ in per_build)


def scenario_figures(builds: Sequence[Build], scenario: str, cold_builds: Sequence[Build]) -> ScenarioFigures:
    """The figures of one scenario's builds; `cold_builds` are the same run's cold builds (may be empty)."""
    totals = ok_durations(builds)
    cached, work, rate = hit_rate(builds)
    share, seconds = cache_saved(builds, cold_builds)
    return ScenarioFigures(
        scenario=scenario,
        builds=len(builds),
        ok=sum(b.ok for b in builds),
        median_total_s=statistics.median(totals) if totals else None,
        min_total_s=min(totals) if totals else None,
        max_total_s=max(totals) if totals else None,
        work_steps=work,
        cached_work_steps=cached,
        hit_rate=rate,
        cache_saved=share,
        cache_saved_s=seconds,
    )


def profile_figures(profile: Profile, cold: str = COLD) -> dict[str, ScenarioFigures]:
    """Per scenario of the profile, in its order."""
    cold_builds = profile.builds_of(cold)
    return {name: scenario_figures(profile.builds_of(name), name, cold_builds) for name in profile.scenario_names}
