"""Per-step layer sizes, image size and transfer time on the real daemon, both builders.

Truth: `docker history` of the very image the build made, read before cacheprof removes its tag, and
sizes the Dockerfile fixes in advance (a RUN writing 300,000 bytes, a COPY of a 7-byte file, metadata 0).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from cacheprof.capture.driver import DockerDriver
from cacheprof.capture.runner import Runner
from cacheprof.dockerfile import load
from cacheprof.model import Builder, Kind, RunPlan, Scenario

pytestmark = pytest.mark.docker

DOCKERFILE = """\
FROM busybox:1.36 AS helper
RUN echo helper > /h
FROM busybox:1.36
ARG FLAVOR=plain
WORKDIR /app
COPY seven.txt nonce.txt ./
RUN head -c 300000 /dev/zero > /big
ENV MODE=test
COPY --from=helper /h /h
"""
# Written before the first run: (instruction prefix, expected bytes; None = only checked against history).
EXPECTED = [("ARG", 0), ("WORKDIR", 0), ("COPY seven.txt", None), ("RUN head", 300000), ("ENV", 0),
            ("COPY --from", 7)]


def docker_history(image_id: str) -> list[tuple[str, int]]:
    """(created by, size in bytes) oldest first, from the docker CLI."""
    out = subprocess.run(["docker", "history", "--no-trunc", "--human=false", "--format", "{{json .}}", image_id],
                         capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [(r["CreatedBy"], int(r["Size"])) for r in reversed(rows)]


@pytest.mark.parametrize("builder", ["buildkit", "classic"])
def test_step_sizes_match_docker_history(builder, docker_engine, make_context):
    ctx = make_context({"Dockerfile": DOCKERFILE, "seven.txt": "123456\n"})
    plan = RunPlan(context=ctx, dockerfile=ctx / "Dockerfile", model=load(ctx / "Dockerfile"),
                   builder=Builder(builder), scenarios=(Scenario(Kind.COLD),), namespace="layers")
    driver = DockerDriver()
    try:
        with Runner(driver, plan) as runner:
            build = runner.measure(Scenario(Kind.COLD), 1, 1, 1)
            assert build.ok, build.error
            history = docker_history(build.image_id)
            inspect = docker_engine.api.inspect_image(build.image_id)
    finally:
        driver.close()
    # History: one entry per final-stage instruction after FROM (ARG, ENV included), the last ones.
    instructions = [i for i in plan.model.stages[-1].instructions if i.cmd != "FROM"]
    assert len(instructions) == len(EXPECTED)
    truth = dict(zip((i.position for i in instructions), history[-len(instructions):], strict=True))
    final = [s for s in build.steps if s.stage != "helper" and s.position > 1]
    # BuildKit reports only instructions that make a vertex; classic reports each instruction.
    want = {"buildkit": ["WORKDIR", "COPY", "RUN", "COPY"], "classic": ["ARG", "WORKDIR", "COPY", "RUN", "ENV", "COPY"]}
    assert [s.instruction.split()[0] for s in final] == want[builder]
    for step in final:
        created_by, size = truth[step.position]
        assert step.size_bytes == size, (step.instruction, step.size_bytes, created_by, size)
        prefix, expected = EXPECTED[step.position - 2]
        assert step.instruction.startswith(prefix), (step.instruction, prefix)
        if expected is not None:
            assert step.size_bytes == expected, step
    copy = next(s for s in final if s.instruction.startswith("COPY seven.txt"))
    assert copy.size_bytes is not None and copy.size_bytes >= 7 + 33  # seven.txt and the 33-byte nonce
    # Steps not in the image (the helper stage, FROM) carry no size.
    assert all(s.size_bytes is None for s in build.steps if s not in final)
    assert build.image_size_bytes == inspect["Size"] == sum(size for _, size in history)
    assert list(build.layer_ids) == inspect["RootFS"]["Layers"]
    assert build.transfer_s is not None and 0 <= build.transfer_s <= build.duration_s
