"""From options to a Profile: validate input, plan scenarios, run them, write outputs.

Shared by `profile`, `compare` and `bench`. Heavy modules (pandas, matplotlib) load only in
`write_outputs`, after the builds, so they never slow the build path.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from ..context.edits import default_edit_globs
from ..context.globs import matching_files
from ..dockerfile import DockerfileModel
from ..dockerfile import load as load_dockerfile
from ..errors import CacheprofError, CleanupIncomplete, Interrupted, Stopped, UsageError
from ..model import Build, Builder, Kind, Profile, Reporter, RunPlan, Scenario, parse_build_arg, parse_scenario
from .cleanup import Leftover, describe_leftovers
from .driver import DockerDriver, Driver
from .replay import ReplayDriver
from .runner import Runner


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
    warmups: int = 1


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


SESSION_MOUNT_RE = re.compile(r"--mount=(?:\S*,)?type=(secret|ssh)\b", re.IGNORECASE)


def session_mount_message(kind: str, where: str) -> str:
    return (f"{where}: RUN --mount=type={kind} needs a client session (the docker CLI forwards {kind}s through "
            "one), and the Engine API path cacheprof builds through has none; measure a copy of the Dockerfile "
            f"without the {kind} mount, or run `docker build --progress=plain` and read its log with "
            "`cacheprof parse`")


def check_session_mounts(model: DockerfileModel) -> None:
    """Fail before the first build, with what to do, instead of the engine's "no active sessions"."""
    for ins in model.instructions:
        if ins.cmd.upper() != "RUN":
            continue
        m = SESSION_MOUNT_RE.search(ins.original)
        if m:
            raise UsageError(session_mount_message(m.group(1).lower(), f"{model.path}:{ins.line}"))


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
    check_session_mounts(model)
    scenarios = tuple(parse_scenario(s) for s in o.scenarios) or default_scenarios(context, model)
    check_edits(context, scenarios)
    args = dict(parse_build_arg(a) for a in o.build_args)
    return RunPlan(
        context=context, dockerfile=dockerfile, model=model, builder=o.builder, scenarios=scenarios,
        repeat=o.repeat, build_args=args, target=o.target, namespace=o.namespace, warmups=o.warmups,
    )


def open_driver(docker_host: str | None, replay_dir: Path | None = None) -> Driver:
    """The engine the docker CLI would use: --docker-host, DOCKER_HOST, or the current docker context."""
    if replay_dir is not None:
        return ReplayDriver(replay_dir)
    from .docker_context import resolve_endpoint

    endpoint = resolve_endpoint(docker_host)
    return DockerDriver(endpoint.host, tls_cert_path=endpoint.tls_cert_path)


def machine_info() -> dict[str, str]:
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": str(os.cpu_count() or ""),
        "machine": platform.machine(),
    }


def make_profile(plan: RunPlan, driver: Driver, builds: list[Build], warmups: int = 0) -> Profile:
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
        warmups=warmups,
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
            runner.warm_up()
            for _ in runner.run():
                pass
    except (CacheprofError, KeyboardInterrupt, BrokenPipeError) as e:
        failure = e
    return make_profile(plan, driver, runner.builds, runner.warmups_done), with_leftovers(failure, runner.left)


LEFT_ATTR = "cacheprof_left_behind"


def with_leftovers(failure: BaseException | None, left: list[Leftover]) -> BaseException | None:
    """Attach what cleanup left behind to what stopped the run (or make it the failure)."""
    note = describe_leftovers(left)
    if not note:
        return failure
    if failure is None:
        return CleanupIncomplete(note)
    setattr(failure, LEFT_ATTR, note)
    return failure


def reraise_after_writing(failure: BaseException | None, out: Path, measured: int) -> None:
    """Turn what stopped a run early into its one-line error, now that the results are on disk."""
    if failure is None:
        return
    left = getattr(failure, LEFT_ATTR, "")
    tail = f"; {left}" if left else ""
    failure = getattr(failure, "cause", None) or failure  # a build cut short: what cut it
    if isinstance(failure, BrokenPipeError):
        raise failure  # the CLI exits quietly: nothing can be said on a closed pipe
    if isinstance(failure, KeyboardInterrupt):
        what, code = ("interrupted", 130)
        if isinstance(failure, Stopped):
            what, code = (f"stopped by {failure.name}", 128 + failure.signum)
        raise Interrupted(f"{what}; the {measured} build(s) measured are in {out}/{tail}", exit_code=code)
    if isinstance(failure, CleanupIncomplete):
        raise CleanupIncomplete(f"results are in {out}/; {failure}")
    if isinstance(failure, CacheprofError):
        raise type(failure)(f"{failure}; results so far are in {out}/{tail}", exit_code=failure.exit_code)
    raise failure


def _is_whole_context(source: str) -> bool:
    return source.strip("/") in ("", ".", "./")


_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def _arg_defaults(model: DockerfileModel, build_args: dict[str, str]) -> dict[str, str]:
    """ARG defaults of the whole Dockerfile, then --build-arg values: enough to expand `COPY $SRC/ ...`."""
    values: dict[str, str] = {}
    for ins in (*model.global_args, *(i for i in model.instructions if i.cmd == "ARG")):
        for item in ins.value:
            name, sep, default = item.partition("=")
            if sep:
                values[name] = default.strip("\"'")
    return {**values, **build_args}


def check_sources(context: Path, model: DockerfileModel, side: str,
                  build_args: dict[str, str] | None = None) -> None:
    """Every file a Dockerfile copies must be in the context: say so before building, not after.

    A source with a variable is checked once ARG defaults and --build-arg expand it; one that stays
    unknown (an ENV, a computed value) is left to the build, which names it if it is missing."""
    values = _arg_defaults(model, build_args or {})
    for ins, raw in model.copy_sources():
        source = _VAR.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), raw)
        if "$" in source:
            continue
        if _is_whole_context(source):
            continue
        rel = source.lstrip("/")
        if (context / rel).exists() or matching_files(context, rel.rstrip("/")):
            continue
        raise UsageError(
            f"{side} {model.path}:{ins.line}: {ins.cmd} {source} — the context {context} has no such file; "
            "pass the right --context"
        )
