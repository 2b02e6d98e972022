"""From options to a Profile: validate input, plan scenarios, run them, write outputs.

Shared by `profile`, `compare` and `bench`. Heavy modules (pandas, matplotlib) load only in
`write_outputs`, after the builds, so they never slow the build path.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..context.build_context import default_edit_globs, matching_files
from ..dockerfile import DockerfileModel
from ..dockerfile import load as load_dockerfile
from ..errors import CacheprofError, EngineError, Interrupted, UsageError
from ..model import Build, Builder, Profile
from ..scenarios import Kind, Scenario, parse_build_arg, parse_scenario
from .driver import DockerDriver, Driver, ReplayDriver
from .runner import Reporter, Runner, RunPlan


@dataclass(frozen=True)
class ProfileOptions:
    context: Path
    dockerfile: Path | None
    scenarios: tuple[str, ...]
    repeat: int
    builder: Builder
    build_args: tuple[str, ...] = ()
    target: str | None = None
    namespace: str = "run"


def resolve_paths(context: Path, dockerfile: Path | None) -> tuple[Path, Path]:
    if not context.exists():
        raise UsageError(f"build context not found: {context}; pass the folder that holds your Dockerfile")
    if not context.is_dir():
        raise UsageError(f"build context {context} is not a folder; pass the folder (and -f for the Dockerfile)")
    df = dockerfile if dockerfile is not None else context / "Dockerfile"
    if not df.is_file():
        raise UsageError(f"Dockerfile not found: {df}; pass its path with -f")
    return context.resolve(), df.resolve()


def default_scenarios(context: Path, model: DockerfileModel) -> tuple[Scenario, ...]:
    edits = tuple(Scenario(Kind.EDIT, glob=g) for g in default_edit_globs(context, model))
    return (Scenario(Kind.COLD), Scenario(Kind.WARM), *edits)


def check_target(model: DockerfileModel, target: str | None) -> None:
    if target and not any(s.name == target for s in model.stages):
        names = ", ".join(s.name for s in model.stages if s.name) or "none"
        raise UsageError(f"--target {target!r}: no stage of that name in the Dockerfile (named stages: {names})")


def check_edits(context: Path, scenarios: tuple[Scenario, ...]) -> None:
    """Fail before the first build, not in the middle of a run, when an edit: glob matches nothing."""
    for s in scenarios:
        if s.kind is Kind.EDIT and s.glob is not None and not matching_files(context, s.glob):
            raise UsageError(
                f"edit:{s.glob} matches no file in the context {context}; give files relative to the "
                "context, e.g. edit:src/*.py or edit:requirements.txt"
            )


def plan_profile(o: ProfileOptions) -> RunPlan:
    context, dockerfile = resolve_paths(o.context, o.dockerfile)
    model = load_dockerfile(dockerfile)
    check_target(model, o.target)
    scenarios = tuple(parse_scenario(s) for s in o.scenarios) or default_scenarios(context, model)
    check_edits(context, scenarios)
    args = dict(parse_build_arg(a) for a in o.build_args)
    return RunPlan(
        context=context, dockerfile=dockerfile, model=model, builder=o.builder, scenarios=scenarios,
        repeat=o.repeat, build_args=args, target=o.target, namespace=o.namespace,
    )


def open_driver(docker_host: str | None, replay_dir: Path | None = None) -> Driver:
    if replay_dir is not None:
        return ReplayDriver(replay_dir)
    return DockerDriver(docker_host)


def machine_info() -> dict[str, str]:
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": str(os.cpu_count() or ""),
        "machine": platform.machine(),
    }


def make_profile(plan: RunPlan, driver: Driver, builds: list[Build]) -> Profile:
    return Profile(
        builder=str(plan.builder),
        dockerfile=str(plan.dockerfile),
        context=str(plan.context),
        builds=tuple(builds),
        engine=driver.engine_info(),
        target=plan.target,
        build_args=dict(plan.build_args),
        scenarios=tuple(s.name for s in plan.scenarios),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        machine=machine_info(),
    )


def run_plan(driver: Driver, plan: RunPlan, *, quiet: bool = False, record_dir: Path | None = None,
             reporter: Reporter | None = None) -> tuple[Profile, BaseException | None]:
    """Run every build of the plan. Returns the profile and the failure that stopped it early, if any:
    what was measured before a failure or Ctrl-C is kept, and the images are cleaned up either way."""
    if reporter is None:
        from ..render.progress import LiveProgress

        reporter = LiveProgress(quiet=quiet)
    runner = Runner(driver, plan, reporter, record_dir)
    failure: BaseException | None = None
    try:
        with runner:
            for _ in runner.run():
                pass
    except (CacheprofError, KeyboardInterrupt) as e:
        failure = e
    return make_profile(plan, driver, runner.builds), failure


def default_report_dir(context: Path, root: Path = Path("reports")) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", context.resolve().name) or "context"
    return root / f"{stamp}-{name}"


def write_outputs(profile: Profile, out: Path) -> list[Path]:
    """Write profile.json first (the data, before the report stack is even imported), then the report."""
    from ..store.profile_json import dumps

    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "profile.json").write_text(dumps(profile))
    except OSError as e:
        raise UsageError(f"cannot write the report folder {out}: {e.strerror}; pass a writable --out") from None
    from ..render.writer import write_report

    return [out / "profile.json", *write_report(profile, out, write_profile=False)]


class _SideReporter(Reporter):
    """Prefixes progress with the side (BEFORE/AFTER) of a comparison."""

    def __init__(self, inner: Reporter, side: str) -> None:
        self.inner, self.side = inner, side
        self.step = inner.step

    def build_started(self, scenario: str, repeat: int, number: int, total: int) -> None:
        self.inner.build_started(f"{self.side} {scenario}", repeat, number, total)

    def build_finished(self, build: Build) -> None:
        self.inner.build_finished(build)


def run_interleaved(
    driver: Driver, plans: dict[str, RunPlan], *, quiet: bool = False, rounds: int = 1,
    after_rounds: Callable[[dict[str, Runner]], dict[str, Any]] | None = None,
) -> tuple[dict[str, Profile], BaseException | None, dict[str, Any]]:
    """Run several plans' scenarios interleaved: round by round, scenario by scenario, each side in turn
    (the first side alternating by round), so machine drift and order effects hit every side alike.
    `after_rounds(runners)` runs before the images are removed (e.g. to compare the final images).
    Returns the profiles, the failure that stopped the run, if any, and what `after_rounds` returned."""
    from ..render.progress import LiveProgress

    live = LiveProgress(quiet=quiet)
    runners = {side: Runner(driver, plan, _SideReporter(live, side.upper())) for side, plan in plans.items()}
    failure: BaseException | None = None
    extra: dict[str, Any] = {}
    total = sum(len(p.scenarios) for p in plans.values()) * rounds
    n = 0
    try:
        try:
            scenarios = list(dict.fromkeys(s for p in plans.values() for s in p.scenarios))
            for repeat in range(1, rounds + 1):
                # Which side goes first alternates by round (A B, B A, ...): a build that runs second
                # (warmer page cache, or a busier daemon) must not always be the same side's.
                order = list(runners.values())
                if repeat % 2 == 0:
                    order.reverse()
                for scenario in scenarios:
                    for runner in order:
                        if scenario not in runner.plan.scenarios:
                            continue
                        n += 1
                        runner.measure(scenario, repeat, n, total)
            if after_rounds is not None:
                extra = after_rounds(runners) or {}
        finally:
            for runner in runners.values():
                runner.cleanup()
    except (CacheprofError, KeyboardInterrupt) as e:
        failure = e
    return {side: make_profile(r.plan, driver, r.builds) for side, r in runners.items()}, failure, extra


def reraise_after_writing(failure: BaseException | None, out: Path, measured: int) -> None:
    """Turn what stopped a run early into its one-line error, now that the results are on disk."""
    if failure is None:
        return
    if isinstance(failure, KeyboardInterrupt):
        raise Interrupted(f"interrupted; the {measured} build(s) measured are in {out}/")
    if isinstance(failure, EngineError | UsageError):
        raise type(failure)(f"{failure}; results so far are in {out}/", exit_code=failure.exit_code)
    raise failure
