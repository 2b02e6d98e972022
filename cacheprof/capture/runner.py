"""Runs scenarios as real builds through a Driver and assembles Build records.

The runner owns the images it creates: it tags them in its own namespace and removes exactly those (and
the step images of the classic builder's steps that ran in its builds) when closed, also after a failure
or Ctrl-C. It never prunes build cache and never removes anything it did not create: a cached step's
image may be another build's, made a moment ago by a build running beside this one.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from ..context.edits import plan_edit
from ..context.inputs import DigestCache, record_inputs
from ..context.tar import ContextStream, Overrides, read_warnings
from ..dockerfile import DockerfileModel, Instruction
from ..errors import CacheprofError, Stopped, UsageError
from ..model import (
    Build,
    Builder,
    BuildOutcome,
    InternalVertex,
    Kind,
    ProgressCallback,
    Reporter,
    RunPlan,
    Scenario,
    Step,
    StepInputs,
    StepStatus,
)
from ..steps.buildkit import BuildKitAssembler
from ..steps.classic import ClassicAssembler
from ..steps.layers import layers_to_json, with_sizes
from . import clock
from .cleanup import TAG_REPO, Ledger, Leftover, remove_all
from .driver import LOST_ENGINE, BuildRequest, Driver, EngineConnectionLost
from .replay import StreamRecorder

INTERRUPTED = "interrupted (Ctrl-C) during the build"
# The repeat number a warm-up build carries (measured rounds count from 1).
WARMUP_REPEAT = 0


class BuildInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM/SIGHUP, or a closed output pipe) in the middle of a build; carries what that build
    had measured so far, and the cause."""

    def __init__(self, build: Build, cause: BaseException) -> None:
        super().__init__()
        self.build, self.cause = build, cause


def _stop_text(e: BaseException) -> str:
    if isinstance(e, Stopped):
        return f"stopped by {e.name} during the build"
    if isinstance(e, BrokenPipeError):
        return "output pipe closed during the build"
    return INTERRUPTED


def assemble(
    builder: Builder, events: Iterator[tuple[float, dict]], model: DockerfileModel | None,
    on_progress: ProgressCallback | None = None, record: Callable[[tuple[float, dict]], None] | None = None,
    on_image: Callable[[str], None] | None = None,
) -> BuildOutcome:
    """Feed one build's events to the builder's assembler. A lost engine gives an incomplete outcome.
    `on_image`: each classic step image the build made, as it is made."""
    asm: ClassicAssembler | BuildKitAssembler = (
        BuildKitAssembler(model, on_progress) if builder is Builder.BUILDKIT
        else ClassicAssembler(model, on_progress, on_image)
    )
    lost: str | None = None
    stop: BaseException | None = None
    try:
        for event in events:
            if record is not None:
                record(event)
            asm.feed_message(*event)
    except EngineConnectionLost as e:
        lost = e.message
    except (KeyboardInterrupt, BrokenPipeError) as e:
        stop = e
        lost = _stop_text(e)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()  # ends the HTTP stream, which cancels the build on the engine
    outcome = asm.outcome(ended=lost is None)
    if lost is not None:
        outcome = BuildOutcome(
            ok=False, error=lost, steps=outcome.steps, internal=outcome.internal, image_id=outcome.image_id,
            complete=False, started=outcome.started, finished=outcome.finished,
            created_images=outcome.created_images, reused_images=outcome.reused_images,
        )
    if stop is not None:
        raise _Stop(outcome, stop)
    return outcome


class _Stop(Exception):
    def __init__(self, outcome: BuildOutcome, cause: BaseException) -> None:
        super().__init__()
        self.outcome, self.cause = outcome, cause


def _transfer_s(internal: tuple[InternalVertex, ...], context: ContextStream, t0: float) -> float | None:
    """BuildKit's context-loading vertices when there are any (receiving the tar, and without a session
    `copy /context /` into a snapshot), else the client's upload of the tar (classic: the daemon reads the
    whole context before its first step). `t0`: time.perf_counter() at the start."""
    loads = [v.duration_s for v in internal if "load build context" in v.name or "load remote build context"
             in v.name or v.name == "copy /context /"]
    if loads and all(d is not None for d in loads):
        return sum(d for d in loads if d is not None)
    if context.finished_at is None:
        return None
    return max(0.0, context.finished_at - t0)


# A step's own command failed (BuildKit, classic): not the engine's trouble (a network, a full disk).
STEP_COMMAND_FAILED = re.compile(r"exit code: \d+|returned a non-zero code|did not complete successfully")


def cannot_succeed(build: Build) -> bool:
    """A build whose step's own command failed (not Ctrl-C, a lost engine, or the engine's own trouble)."""
    return (not build.ok and build.complete and any(s.status is StepStatus.ERROR for s in build.steps)
            and STEP_COMMAND_FAILED.search(build.error or "") is not None)


def failed_at(build: Build) -> str:
    step = next(s for s in build.steps if s.status is StepStatus.ERROR)
    where = f"line {step.line}" if step.line is not None else f"step {step.index}"
    text = " ".join(step.instruction.split())
    return f"{where} ({text if len(text) <= 60 else text[:59] + chr(0x2026)})"


def unreported_steps(model: DockerfileModel, target: str | None, steps: tuple[Step, ...]) -> list[Instruction]:
    """The RUN/COPY/ADD instructions of the stage a build ends in that a successful build did not report."""
    stage = model.stage(target) if target else (model.stages[-1] if model.stages else None)
    if stage is None:
        return []
    seen = {(s.stage, s.position) for s in steps}
    return [i for i in stage.instructions if i.cmd in ("RUN", "COPY", "ADD") and (i.stage, i.position) not in seen]


class Runner:
    def __init__(self, driver: Driver, plan: RunPlan, reporter: Reporter | None = None,
                 record_dir: Path | None = None) -> None:
        self.driver = driver
        self.plan = plan
        self.reporter = reporter or Reporter()
        self.record_dir = record_dir
        self.run_id = secrets.token_hex(4)
        self.builds: list[Build] = []
        self._good_tags: list[str] = []
        self._count = 0
        self.ledger = Ledger(self.run_id, getattr(driver, "address", "") or driver.engine_info().host)
        self.left: list[Leftover] = []
        self._digests = DigestCache()
        self._base_ids: dict[str, str | None] = {}
        self.warmups_done = 0
        if record_dir is not None:
            # Checked before the first build: a --record folder that cannot be written fails now, not after.
            try:
                record_dir.mkdir(parents=True, exist_ok=True)
                info = driver.engine_info()
                (record_dir / "engine.json").write_text(json.dumps(info.__dict__))
                (record_dir / "builds.jsonl").write_text("")
            except OSError as e:
                raise UsageError(f"cannot write the --record folder {record_dir}: {e.strerror}") from None

    # --- one build ----------------------------------------------------------------------------

    def _recording_failed(self, e: OSError) -> None:
        """A full or broken --record folder stops the recording, never the measurement; said once."""
        if self.record_dir is None:
            return
        import sys

        sys.stderr.write(f"cacheprof: warning: recording stopped, cannot write {self.record_dir}: {e.strerror}; "
                         "the measurement goes on\n")
        self.record_dir = None

    def _tag(self) -> str:
        self._count += 1
        tag = f"{TAG_REPO}/{self.plan.namespace}-{self.run_id}:b{self._count}"
        if self.plan.builder is Builder.BUILDKIT:
            # Before the build: a SIGKILL mid-build still leaves it findable. A classic build is not
            # tagged (see DockerDriver): its final image is one of its step images, removed by ID.
            self.ledger.add(tags=[tag])
        return tag

    def _build(self, scenario: Scenario, repeat: int, build_args: dict[str, str],
               overrides: Overrides | None = None) -> Build:
        plan = self.plan
        context = ContextStream(plan.context, plan.dockerfile, buildkit=plan.builder is Builder.BUILDKIT,
                                overrides=overrides)
        own = self.plan.own_cache_only and self.plan.builder is Builder.CLASSIC
        request = BuildRequest(
            context=context, dockerfile=context.dockerfile, builder=self.plan.builder, tag=self._tag(),
            nocache=scenario.kind is Kind.COLD, build_args=build_args, target=self.plan.target,
            cache_from=tuple(self._good_tags) if own else (), run_id=self.run_id,
        )
        recorder: StreamRecorder | None = None
        if self.record_dir is not None:
            stream_name = f"build-{self._count:03d}.jsonl"
            try:
                recorder = StreamRecorder(self.record_dir / stream_name, self._recording_failed)
                with (self.record_dir / "builds.jsonl").open("a") as fh:
                    fh.write(json.dumps({"stream": stream_name, "scenario": scenario.name, "repeat": repeat,
                                         "builder": str(self.plan.builder), "nocache": request.nocache,
                                         "warmup": repeat == WARMUP_REPEAT}) + "\n")
            except OSError as e:
                self._recording_failed(e)
                recorder = None
        # With --cache-from, a cached step may be restored as a new image of this build's own (moby's
        # history match): those are the cached step images that did not exist before. Without it, a
        # cached step's image is never this build's to remove.
        existing = self.driver.image_ids() if request.cache_from else set()
        started = clock.now()
        t0 = time.perf_counter()
        stop: BaseException | None = None
        try:
            outcome = assemble(
                self.plan.builder, self.driver.build(request), self.plan.model,
                self.reporter.step, recorder.write if recorder else None,
                lambda image: self.ledger.add(images=[image]),
            )
        except _Stop as e:
            outcome, stop = e.outcome, e.cause
        finally:
            if recorder is not None:
                recorder.close()
        wall = time.perf_counter() - t0
        for line in read_warnings(context):  # the build went on without them: said, never an error
            import sys

            sys.stderr.write(f"cacheprof: warning: build {self._count} ({scenario.name}): {line}\n")
        restored = [short for short in outcome.reused_images if request.cache_from
                    and not any(full.startswith(f"sha256:{short}") for full in existing)]
        self.ledger.add(images=[*outcome.created_images, *restored])
        error = outcome.error
        if error and "no active session" in error:
            # What BuildKit says when a step needs the client session (secret, ssh) this path lacks.
            error = ("a step needs a client session (RUN --mount=type=secret or ssh), which the Engine API path "
                     f"has not got; the engine said: {error}")
        steps, image_size, layer_ids = outcome.steps, None, ()
        if outcome.ok and outcome.image_id and stop is None:
            layers = self.driver.image_layers(outcome.image_id)
            if layers is not None:
                steps = with_sizes(steps, layers, plan.model, plan.target)
                image_size, layer_ids = layers.size_bytes, layers.layer_ids
                if self.record_dir is not None:
                    path = self.record_dir / "images" / (outcome.image_id.replace(":", "_") + ".layers.json")
                    try:
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_text(json.dumps(layers_to_json(layers)))
                    except OSError as e:
                        self._recording_failed(e)
        # After Ctrl-C or a lost engine, ask the engine nothing more (a frozen one would hold each call).
        gone = stop is not None or (outcome.error or "").startswith(LOST_ENGINE)
        inputs, files = self._inputs(build_args, overrides) if not gone else ((), {})
        build = Build(
            scenario=scenario.name, repeat=repeat, ok=outcome.ok, error=error, duration_s=wall,
            image_id=outcome.image_id, steps=steps, internal=outcome.internal, started=started,
            complete=outcome.complete, transfer_s=_transfer_s(outcome.internal, context, t0),
            image_size_bytes=image_size, layer_ids=layer_ids, inputs=inputs, files=files,
        )
        if stop is not None:
            raise BuildInterrupted(build, stop)
        if build.ok and plan.builder is Builder.BUILDKIT:
            missing = unreported_steps(plan.model, plan.target, build.steps)
            if missing:
                # BuildKit reports a step that a concurrent build of the same Dockerfile is running only to
                # that build: this one's account is short, so it must not count as a full build.
                build = replace(build, complete=False, error=(
                    f"{len(missing)} step(s) of the final stage were not reported (first: line {missing[0].line}); "
                    "steps shared with a concurrent build were not reported: not counted as a full build"))
        if build.ok:
            ref = request.tag if self.plan.builder is Builder.BUILDKIT else build.image_id
            if ref:
                self._good_tags.append(ref)
        return build

    def _inputs(self, build_args: dict[str, str], overrides: Overrides | None
                ) -> tuple[tuple[StepInputs, ...], dict[str, str]]:
        """What each step read (for `explain`). Never costs a measurement: on any trouble, nothing."""
        plan = self.plan
        try:
            inputs, files = record_inputs(plan.model, plan.context, plan.dockerfile, plan.builder, build_args,
                                          overrides, self._digests)
        except (CacheprofError, OSError):
            return (), {}
        out = []
        for i in inputs:
            if i.base is not None:
                if i.base not in self._base_ids:
                    self._base_ids[i.base] = self.driver.image_id(i.base)
                base_id = self._base_ids[i.base]
                i = replace(i, base=f"{i.base}@{base_id}" if base_id else i.base)
            out.append(i)
        return tuple(out), files

    def run_scenario(self, scenario: Scenario, repeat: int) -> Build:
        plan = self.plan
        args = dict(plan.build_args)
        for name in plan.volatile_args:
            args[name] = secrets.token_hex(8)
        if scenario.kind is Kind.ARG:
            assert scenario.arg_name is not None
            args[scenario.arg_name] = scenario.arg_value or ""
        if scenario.kind is not Kind.EDIT:
            return self._build(scenario, repeat, args)
        # Each edit starts from the original context plus that one edit, with content never built
        # before: BuildKit keys COPY by content, so a repeated edit text would hit an earlier cache.
        # The edit is applied while the tar streams; the user's files are only read.
        assert scenario.glob is not None
        edit = plan_edit(plan.context, scenario.glob, f"{self.run_id}-{repeat}-{secrets.token_hex(8)}")
        return self._build(scenario, repeat, args, edit.overrides)

    # --- the whole plan -----------------------------------------------------------------------

    def measure(self, scenario: Scenario, repeat: int, number: int, total: int) -> Build:
        """Run one scenario and keep its build, also when Ctrl-C or a lost engine cut it short (then the
        exception goes on after the partial build is kept)."""
        self.reporter.build_started(scenario.name, repeat, number, total)
        try:
            build = self.run_scenario(scenario, repeat)
        except BuildInterrupted as e:
            self.builds.append(e.build)
            raise
        lost = not build.complete and (build.error or "").startswith(LOST_ENGINE)
        if lost and not build.steps and not build.internal:
            # The engine was gone before this build began: no phantom failed build.
            raise EngineConnectionLost(f"{build.error}; {len(self.builds)} build(s) measured before it")
        self.builds.append(build)
        self.reporter.build_finished(build)
        if lost:
            raise EngineConnectionLost(f"{build.error}; {len(self.builds) - 1} build(s) measured before it")
        return build

    def warm_up(self) -> int:
        """Untimed builds with the default inputs that put this run's own cache in place before the first
        measured round (hyperfine's --warmup): a warm, edit or arg scenario means "this change, starting
        from a warm cache". None when the plan starts with a cold build: that build puts the cache in place
        before anything warm runs. Returns how many ran; their builds are not kept, their images are
        cleaned up with the others. A lost engine or Ctrl-C stops the run."""
        if not self.plan.scenarios or self.plan.scenarios[0].kind is Kind.COLD:
            return 0
        # A replay plays back what was recorded: as many warm-ups as the recording holds.
        count = getattr(self.driver, "recorded_warmups", None)
        count = self.plan.warmups if count is None else count
        for n in range(1, count + 1):
            self.reporter.warmup_started(n, count)
            build = self.run_scenario(Scenario(Kind.WARM), WARMUP_REPEAT)
            self.warmups_done += 1
            if not build.complete and (build.error or "").startswith(LOST_ENGINE):
                raise EngineConnectionLost(f"{build.error} (during warm-up build {n})")
        return self.warmups_done

    def run(self) -> Iterator[Build]:
        """Yield builds as they finish. Stops early only on Ctrl-C or when the engine is gone."""
        total = len(self.plan.scenarios) * self.plan.repeat
        n = 0
        for repeat in range(1, self.plan.repeat + 1):
            for scenario in self.plan.scenarios:
                n += 1
                build = self.measure(scenario, repeat, n, total)
                yield build
                if scenario.kind is Kind.COLD and cannot_succeed(build) and n < total:
                    # A step of the Dockerfile itself failed from scratch: every later build runs the same
                    # step on the same input (an edit of the failing step's files aside) and fails too.
                    self.reporter.note(f"the cold build failed at {failed_at(build)}; the {total - n} builds "
                                       "after it were not run: they would fail the same way")
                    return

    def cleanup(self, wait_s: float = 30.0) -> list[Leftover]:
        """Remove the tags and step images this runner created. Returns (and keeps in `left`) what was left."""
        cleanup_all([self], wait_s)
        return self.left

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def cleanup_all(runners: list[Runner], wait_s: float = 30.0) -> None:
    """Remove what these runners created, all in one go: one side's step image may hold the other side's
    (compare: AFTER's first build continues on BEFORE's layers), so neither side alone could remove both.

    After Ctrl-C the engine may still be finishing a cancelled step on top of an image we made; such in-use
    images are retried for up to `wait_s` seconds, youngest first. A dead or frozen engine is given up at
    once (one short ping), and a second Ctrl-C ends it: each runner's `left` says what stayed.
    """
    tags = [t for r in runners for t in reversed(r.ledger.tags)]
    images = [i for r in reversed(runners) for i in reversed(r.ledger.images)]
    left: list[Leftover] = []
    if tags or images:
        try:
            alive = runners[0].driver.alive()
        except KeyboardInterrupt:
            left = [Leftover(ref, "cleanup interrupted") for ref in (*tags, *images)]
        else:
            if not alive:
                left = [Leftover(ref, "engine not answering") for ref in (*tags, *images)]
            else:
                left = remove_all(runners[0].driver, tags, images, wait_s=wait_s)
    for r in runners:
        mine = set(r.ledger.tags) | set(r.ledger.images)
        r.left = [x for x in left if x.ref in mine]
        r.ledger.forget(keep=[x.ref for x in r.left])
