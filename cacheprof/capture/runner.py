"""Runs scenarios as real builds through a Driver and assembles Build records.

The runner owns the images it creates: it tags them in its own namespace and removes exactly those (and
the classic builder's intermediates it created) when closed, also after a failure or Ctrl-C. It never
prunes build cache and never removes anything it did not create.
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
from ..context.tar import ContextStream, Overrides
from ..dockerfile import DockerfileModel
from ..errors import CacheprofError
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
    StepInputs,
    StepStatus,
)
from ..steps.buildkit import BuildKitAssembler
from ..steps.classic import ClassicAssembler
from ..steps.layers import layers_to_json, with_sizes
from .driver import LOST_ENGINE, BuildRequest, Driver, EngineConnectionLost
from .replay import StreamRecorder

TAG_REPO = "cacheprof"


INTERRUPTED = "interrupted (Ctrl-C) during the build"


class BuildInterrupted(KeyboardInterrupt):
    """Ctrl-C in the middle of a build; carries what that build had measured so far."""

    def __init__(self, build: Build) -> None:
        super().__init__()
        self.build = build


def assemble(
    builder: Builder, events: Iterator[tuple[float, dict]], model: DockerfileModel | None,
    on_progress: ProgressCallback | None = None, record: Callable[[tuple[float, dict]], None] | None = None,
) -> BuildOutcome:
    """Feed one build's events to the builder's assembler. A lost engine gives an incomplete outcome."""
    asm: ClassicAssembler | BuildKitAssembler = (
        BuildKitAssembler(model, on_progress) if builder is Builder.BUILDKIT else ClassicAssembler(model, on_progress)
    )
    lost: str | None = None
    try:
        for event in events:
            if record is not None:
                record(event)
            asm.feed_message(*event)
    except EngineConnectionLost as e:
        lost = e.message
    except KeyboardInterrupt:
        lost = INTERRUPTED
    outcome = asm.outcome(ended=lost is None)
    if lost is not None:
        return BuildOutcome(
            ok=False, error=lost, steps=outcome.steps, internal=outcome.internal, image_id=outcome.image_id,
            complete=False, started=outcome.started, finished=outcome.finished,
            created_images=outcome.created_images,
        )
    return outcome


def _transfer_s(internal: tuple[InternalVertex, ...], context: ContextStream, t0: float) -> float | None:
    """BuildKit's context-loading vertex when there is one, else the client's upload of the tar (classic:
    the daemon reads the whole context before its first step)."""
    loads = [v.duration_s for v in internal if "load build context" in v.name or "load remote build context"
             in v.name]
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
    return f"{where} ({' '.join(step.instruction.split())[:60]})"


class Runner:
    def __init__(self, driver: Driver, plan: RunPlan, reporter: Reporter | None = None,
                 record_dir: Path | None = None) -> None:
        self.driver = driver
        self.plan = plan
        self.reporter = reporter or Reporter()
        self.record_dir = record_dir
        self.run_id = secrets.token_hex(4)
        self.builds: list[Build] = []
        self._tags: list[str] = []
        self._good_tags: list[str] = []
        self._created: list[str] = []
        self._count = 0
        self._digests = DigestCache()
        self._base_ids: dict[str, str | None] = {}
        if record_dir is not None:
            record_dir.mkdir(parents=True, exist_ok=True)
            info = driver.engine_info()
            (record_dir / "engine.json").write_text(json.dumps(info.__dict__))
            (record_dir / "builds.jsonl").write_text("")

    # --- one build ----------------------------------------------------------------------------

    def _tag(self) -> str:
        self._count += 1
        tag = f"{TAG_REPO}/{self.plan.namespace}-{self.run_id}:b{self._count}"
        self._tags.append(tag)
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
            cache_from=tuple(self._good_tags) if own else (),
        )
        recorder: StreamRecorder | None = None
        if self.record_dir is not None:
            stream_name = f"build-{self._count:03d}.jsonl"
            recorder = StreamRecorder(self.record_dir / stream_name)
            with (self.record_dir / "builds.jsonl").open("a") as fh:
                fh.write(json.dumps({"stream": stream_name, "scenario": scenario.name, "repeat": repeat,
                                     "builder": str(self.plan.builder), "nocache": request.nocache}) + "\n")
        existing = self.driver.image_ids() if self.plan.builder is Builder.CLASSIC else set()
        t0 = time.time()
        try:
            outcome = assemble(
                self.plan.builder, self.driver.build(request), self.plan.model,
                self.reporter.step, recorder.write if recorder else None,
            )
        finally:
            if recorder is not None:
                recorder.close()
        wall = time.time() - t0
        self._created.extend(
            short for short in outcome.created_images
            if not any(full.startswith(f"sha256:{short}") for full in existing)
        )
        error = outcome.error
        if error and "no active session" in error:
            # What BuildKit says when a step needs the client session (secret, ssh) this path lacks.
            error = ("a step needs a client session (RUN --mount=type=secret or ssh), which the Engine API path "
                     f"has not got; the engine said: {error}")
        steps, image_size, layer_ids = outcome.steps, None, ()
        if outcome.ok and outcome.image_id:
            layers = self.driver.image_layers(outcome.image_id)
            if layers is not None:
                steps = with_sizes(steps, layers, plan.model, plan.target)
                image_size, layer_ids = layers.size_bytes, layers.layer_ids
                if self.record_dir is not None:
                    path = self.record_dir / "images" / (outcome.image_id.replace(":", "_") + ".layers.json")
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps(layers_to_json(layers)))
        inputs, files = self._inputs(build_args, overrides)
        build = Build(
            scenario=scenario.name, repeat=repeat, ok=outcome.ok, error=error, duration_s=wall,
            image_id=outcome.image_id, steps=steps, internal=outcome.internal, started=t0,
            complete=outcome.complete, transfer_s=_transfer_s(outcome.internal, context, t0),
            image_size_bytes=image_size, layer_ids=layer_ids, inputs=inputs, files=files,
        )
        if outcome.error == INTERRUPTED:
            raise BuildInterrupted(build)
        if build.ok:
            self._good_tags.append(request.tag)
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
        self.builds.append(build)
        self.reporter.build_finished(build)
        if not build.complete and (build.error or "").startswith(LOST_ENGINE):
            raise EngineConnectionLost(f"{build.error}; {len(self.builds)} build(s) measured before it")
        return build

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

    def cleanup(self, wait_s: float = 30.0) -> list[str]:
        """Remove the tags and intermediate images this runner created. Returns what was left.

        After Ctrl-C the engine may still be finishing a cancelled step on top of an image we made;
        such in-use images are retried for up to `wait_s` seconds, youngest first.
        """
        pending = [*reversed(self._tags), *reversed(self._created)]
        self._tags.clear()
        self._created.clear()
        deadline = time.monotonic() + wait_s
        while pending:
            in_use = [ref for ref in pending if self.driver.remove_image(ref) is None]
            if not in_use or (len(in_use) == len(pending) and time.monotonic() > deadline):
                return in_use
            if len(in_use) == len(pending):
                time.sleep(0.5)
            pending = in_use
        return []

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
