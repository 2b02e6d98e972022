"""Terminal tables of a profile: per scenario, step / status / seconds, and the total. Returns text."""

from __future__ import annotations

from ..model import Build, Profile
from ..store.profile_json import scenario_summary


def _secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def render_build(build: Build, width: int = 60) -> str:
    lines = [f"{'#':>3}  {'stage':<10} {'step':<{width}} {'status':<8} {'seconds':>8}"]
    for s in build.steps:
        lines.append(
            f"{s.index:>3}  {_clip(s.stage, 10):<10} {_clip(s.instruction, width):<{width}} "
            f"{s.status!s:<8} {_secs(s.duration_s):>8}"
        )
    hit = "-" if build.hit_rate is None else f"{build.hit_rate:.0%}"
    lines.append(f"     total {_secs(build.duration_s)} s wall, {_secs(build.step_time_s)} s in steps, hit rate {hit}")
    if not build.ok:
        lines.append(f"     FAILED: {build.error}")
    return "\n".join(lines)


def render_profile(profile: Profile) -> str:
    out = [f"cacheprof profile: {profile.dockerfile} ({profile.builder})"]
    if profile.engine:
        out.append(f"engine {profile.engine.version} (API {profile.engine.api_version}) at {profile.engine.host}")
    for build in profile.builds:
        out.append("")
        out.append(f"== {build.scenario} (repeat {build.repeat}) ==")
        out.append(render_build(build))
    summary = scenario_summary(profile)
    if summary:
        out.append("")
        # Medians use ok builds only; hit rate counts RUN/COPY/ADD steps; cache saved needs a cold build.
        out.append(f"{'scenario':<40} {'ok/builds':>9} {'median s':>9} {'hit rate':>9} {'cache saved':>11}")
        for name, s in summary.items():
            hit = "-" if s["hit_rate"] is None else f"{s['hit_rate']:.0%}"
            saved = "-" if s["cache_saved"] is None else f"{s['cache_saved']:.0%}"
            oks = f"{s['ok']}/{s['builds']}"
            out.append(f"{_clip(name, 40):<40} {oks:>9} {_secs(s['median_total_s']):>9} {hit:>9} {saved:>11}")
    return "\n".join(out) + "\n"
