"""cacheprof never removes an image it did not create, even when a foreign build of the same Dockerfile runs
at the same moment and its step images land in cacheprof's cache hits (issue 16, the critical item)."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import uuid

import pytest

from tests.test_profile_docker import image_ids, run_cli

pytestmark = pytest.mark.docker

# Quick steps, so the foreign build produces many fresh step images while cacheprof's warm builds run.
DOCKERFILE = ("FROM busybox:1.36\nCOPY nonce.txt /\nRUN sleep 0.2; echo one > /one\nRUN sleep 0.2; echo two > /two\n"
              "RUN sleep 0.2; echo three > /three\nRUN sleep 0.2; echo four > /four\nCOPY Dockerfile /\n")
STEP_IMAGE = re.compile(r"^ ---> ([0-9a-f]{12})\s*$", re.MULTILINE)


class ForeignBuilds(threading.Thread):
    """`docker build --no-cache -t victim:<nonce>` of the same context, over and over (classic builder)."""

    def __init__(self, ctx, tag: str, builder: str) -> None:
        super().__init__(daemon=True)
        self.ctx, self.tag, self.builder = ctx, tag, builder
        self.stop = threading.Event()
        self.outputs: list[str] = []
        self.failures: list[str] = []

    def run(self) -> None:
        env = {**os.environ, "DOCKER_BUILDKIT": "1" if self.builder == "buildkit" else "0"}
        while not self.stop.is_set():
            r = subprocess.run(["docker", "build", "--no-cache", "-t", self.tag, str(self.ctx)],
                               capture_output=True, text=True, env=env, timeout=120)
            self.outputs.append(r.stdout + r.stderr)
            if r.returncode != 0:
                self.failures.append(r.stderr[-500:])


def chain(client, ref: str) -> list[str]:
    """An image and its parents, as far as the engine still has them (a missing parent raises)."""
    ids = []
    while ref:
        attrs = client.api.inspect_image(ref)
        ids.append(attrs["Id"])
        ref = attrs.get("Parent") or ""
    return ids


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_concurrent_foreign_build_survives(builder, docker_engine, make_context, tmp_path):
    ctx = make_context({"Dockerfile": DOCKERFILE})
    victim = f"victim-{uuid.uuid4().hex[:10]}:1"
    images_before = image_ids(docker_engine)
    foreign = [ForeignBuilds(ctx, victim, "classic") for _ in range(2)]
    for f in foreign:
        f.start()
    try:
        # Let the foreign builds create their first step images, then profile while they keep building.
        while not foreign[0].outputs:
            foreign[0].join(0.2)
        r = run_cli("profile", str(ctx), "--builder", builder, "--quiet", "--out", str(tmp_path / "out"),
                    *[a for _ in range(8) for a in ("-s", "warm")])
    finally:
        for f in foreign:
            f.stop.set()
        for f in foreign:
            f.join(120)
    outputs = [o for f in foreign for o in f.outputs]
    try:
        assert r.returncode == 0, r.stderr
        assert not [x for f in foreign for x in f.failures]
        # The foreign tag and every parent it names are still there ...
        chain(docker_engine, victim)
        # ... and so is every step image any foreign build made (cacheprof reused many of them as cache).
        made = {m for out in outputs for m in STEP_IMAGE.findall(out)}
        assert made
        have = {i[7:19] for i in image_ids(docker_engine)}
        assert sorted(made - have) == [], "foreign step images removed by cacheprof"
    finally:
        made = {m for out in outputs for m in STEP_IMAGE.findall(out)}
        mine = [i for i in image_ids(docker_engine) - images_before if i[7:19] in made]
        subprocess.run(["docker", "rmi", victim], capture_output=True)
        for _ in range(len(mine)):  # children before parents, whatever the order
            if subprocess.run(["docker", "rmi", *mine], capture_output=True).returncode == 0:
                break
            mine = [i for i in mine if subprocess.run(["docker", "image", "inspect", i],
                                                      capture_output=True).returncode == 0]
