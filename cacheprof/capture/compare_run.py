"""Two plans measured interleaved (compare, advise --measure), and the equivalence check of their images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..context.tar import ContextStream
from ..context.walk import DOCKERIGNORE, OUTSIDE_DOCKERFILE_PREFIX
from ..errors import BuildFailedError, CacheprofError
from ..model import Build, Builder, Kind, Profile, Reporter, RunPlan
from ..render.writer import write_compare_outputs
from .driver import Driver
from .runner import Runner, cannot_succeed, cleanup_all, failed_at
from .session import make_profile, open_driver, reraise_after_writing, with_leftovers

if TYPE_CHECKING:
    from ..analysis.compare import Comparison


class _SideReporter(Reporter):
    """Prefixes progress with the side (BEFORE/AFTER) of a comparison."""

    def __init__(self, inner: Reporter, side: str) -> None:
        self.inner, self.side = inner, side
        self.step = inner.step

    def build_started(self, scenario: str, repeat: int, number: int, total: int) -> None:
        self.inner.build_started(f"{self.side} {scenario}", repeat, number, total)

    def build_finished(self, build: Build) -> None:
        self.inner.build_finished(build)

    def warmup_started(self, number: int, total: int) -> None:
        self.inner.warmup_started(number, total)


def run_interleaved(
    driver: Driver, plans: dict[str, RunPlan], *, quiet: bool = False, rounds: int = 1,
    after_rounds: Callable[[dict[str, Runner]], dict[str, Any]] | None = None, reporter: Reporter | None = None,
) -> tuple[dict[str, Profile], BaseException | None, dict[str, Any]]:
    """Run several plans' scenarios interleaved: round by round, scenario by scenario, each side in turn
    (the first side alternating by round), so machine drift and order effects hit every side alike.
    `after_rounds(runners)` runs before the images are removed (e.g. to compare the final images).
    Returns the profiles, the failure that stopped the run, if any, and what `after_rounds` returned."""
    if reporter is None:
        from ..render.progress import LiveProgress

        reporter = LiveProgress(quiet=quiet)
    live = reporter
    runners = {side: Runner(driver, plan, _SideReporter(live, side.upper())) for side, plan in plans.items()}
    failure: BaseException | None = None
    extra: dict[str, Any] = {}
    total = sum(len(p.scenarios) for p in plans.values()) * rounds
    n = 0
    stopped: set[Runner] = set()
    try:
        try:
            scenarios = list(dict.fromkeys(s for p in plans.values() for s in p.scenarios))
            # Each side's own cache in place before round 1, or round 1 of an edit measures a cold build.
            for runner in runners.values():
                runner.warm_up()
            for repeat in range(1, rounds + 1):
                # Which side goes first alternates by round (A B, B A, ...): a build that runs second
                # (warmer page cache, or a busier daemon) must not always be the same side's.
                order = list(runners.values())
                if repeat % 2 == 0:
                    order.reverse()
                for scenario in scenarios:
                    for runner in order:
                        if scenario not in runner.plan.scenarios or runner in stopped:
                            continue
                        n += 1
                        build = runner.measure(scenario, repeat, n, total)
                        if scenario.kind is Kind.COLD and cannot_succeed(build):
                            # This side's Dockerfile fails from scratch: its later builds would too.
                            stopped.add(runner)
                            live.note(f"{runner.plan.namespace.upper()}: the cold build failed at "
                                      f"{failed_at(build)}; its remaining builds are not run")
            if after_rounds is not None:
                extra = after_rounds(runners) or {}
        finally:
            cleanup_all(list(runners.values()))
    except (CacheprofError, KeyboardInterrupt, BrokenPipeError) as e:
        failure = e
    failure = with_leftovers(failure, [x for r in runners.values() for x in r.left])
    profiles = {side: make_profile(r.plan, driver, r.builds, r.warmups_done) for side, r in runners.items()}
    return profiles, failure, extra


def measure_pair(plans: dict[str, RunPlan], *, docker_host: str | None, quiet: bool, rounds: int,
                 min_effect: tuple[float, float], check_equivalent: bool, out: Path,
                 reporter: Reporter | None = None, header: tuple[tuple[str, str], ...] = (),
                 advice: Any = None,
                 ) -> tuple[dict[str, Profile], Comparison, dict[str, Any], BaseException | None]:
    """Run the "before" and "after" plans interleaved, compare them and write the report folder.

    Shared by `compare` and `advise --measure`. The failure that stopped the run early, if any, is
    returned rather than raised: show the results, then call `raise_run_failures`.
    """
    from ..analysis.compare import compare_profiles, comparison_to_dict

    driver = open_driver(docker_host)

    def equivalence(runners: dict[str, Runner]) -> dict[str, Any]:
        return {"equivalence": check_images(driver, runners)} if check_equivalent else {}

    try:
        if reporter is not None:
            reporter.header([*header, ("engine", _engine_line(driver))])
        profiles, failure, extra = run_interleaved(driver, plans, quiet=quiet, rounds=rounds,
                                                   after_rounds=equivalence, reporter=reporter)
    finally:
        driver.close()
    comparison = compare_profiles(profiles["before"], profiles["after"], min_effect_ratio=min_effect[0],
                                  min_effect_s=min_effect[1], equivalence=extra.get("equivalence"))
    doc = comparison_to_dict(comparison)
    write_compare_outputs(out, profiles, comparison, doc, advice)
    return profiles, comparison, doc, failure


def _engine_line(driver: Driver) -> str:
    e = driver.engine_info()
    return f"Docker {e.version} (API {e.api_version})" + (f" at {e.host}" if e.host else "")


def raise_run_failures(profiles: dict[str, Profile], failure: BaseException | None, out: Path) -> None:
    """After the results are shown: what stopped the run early, else the first failed build, as an error."""
    reraise_after_writing(failure, out, sum(len(p.builds) for p in profiles.values()))
    failed = [(side, bd) for side, p in profiles.items() for bd in p.builds if not bd.ok]
    if failed:
        side, first = failed[0]
        raise BuildFailedError(f"{side.upper()} failed to build ({first.scenario}: {first.error}); "
                               f"results are in {out}/")


def _final_image(runner: Runner) -> str | None:
    """The image of the last good build on the unedited context with the default args."""
    for build in reversed(runner.builds):
        if build.ok and build.image_id and build.scenario in ("cold", "warm"):
            return build.image_id
    return None


def check_images(driver: Driver, runners: dict[str, Runner]) -> dict[str, Any]:
    import hashlib

    from ..analysis.equivalence import compare_images
    from ..context.dockerignore import DockerIgnore

    images = {side: _final_image(r) for side, r in runners.items()}
    if not all(images.values()):
        return {"equivalent": None, "differences": [], "files_compared": 0,
                "notes": ["no good cold or warm build on both sides to compare"]}
    files = {side: driver.image_files(image) for side, image in images.items()}
    notes: list[str] = []
    for side, r in runners.items():
        files[side], restored = _undo_sent_dockerignore(files[side], r.plan)
        notes += [f"{p} in {side.upper()}'s image holds the .dockerignore line added for a Dockerfile from "
                  "outside the context (the docker CLI adds it too); compared as the context's own file"
                  for p in restored]
    ignore_paths: set[str] = set()
    plan = runners["before"].plan
    if plan.builder is Builder.BUILDKIT:
        # The Dockerfile reaches a BuildKit context even when .dockerignore excludes it (see make_tar), so
        # `COPY . .` puts it in the image where `docker build` would not: leave out exactly those copies.
        ignore = DockerIgnore.for_context(plan.context)
        for r in runners.values():
            digest = hashlib.sha256(r.plan.dockerfile.read_bytes()).hexdigest()
            try:
                rel = r.plan.dockerfile.relative_to(plan.context).as_posix()
            except ValueError:
                # Outside the context it travels as .cacheprof-Dockerfile-<hash> with a .dockerignore
                # naming it (make_tar); BuildKit without a session copies both, `docker build` neither.
                copies = {path for fm in files.values() for path, (kind, _, h) in fm.items()
                          if kind == "file" and h == digest
                          and path.rpartition("/")[2].startswith(OUTSIDE_DOCKERFILE_PREFIX)}
                ignore_paths |= copies
                continue
            if not ignore.excluded(rel):
                continue
            ignore_paths |= {path for fm in files.values() for path, (kind, _, h) in fm.items()
                             if kind == "file" and h == digest and path.endswith("/" + rel)}
    return compare_images(
        files["before"], files["after"],
        driver.image_config(images["before"]), driver.image_config(images["after"]),
        ignore_paths=ignore_paths, notes=notes,
    )


def _undo_sent_dockerignore(files: dict[str, tuple[str, int, str]],
                            plan: RunPlan) -> tuple[dict[str, tuple[str, int, str]], list[str]]:
    """A Dockerfile from outside the context travels with a line naming it appended to the sent
    .dockerignore (as the docker CLI does); `COPY . .` copies that .dockerignore when it does not exclude
    itself. Such copies are compared as the context's own .dockerignore: the line is the Dockerfile's
    location, not its content. Returns the file map and the paths restored."""
    import hashlib

    stream = ContextStream(plan.context, plan.dockerfile, buildkit=plan.builder is Builder.BUILDKIT)
    own = Path(stream.root, DOCKERIGNORE)
    if stream.outside is None or not own.is_file():
        return files, []
    original = own.read_bytes()
    sent = hashlib.sha256(original + b"\n" + stream.outside[0].encode() + b"\n").hexdigest()
    restored = sorted(p for p, (kind, _, h) in files.items() if kind == "file" and h == sent)
    digest = hashlib.sha256(original).hexdigest()
    return {p: (v[0], v[1], digest) if p in restored else v for p, v in files.items()}, restored
