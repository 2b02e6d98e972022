"""Prediction against reality: offline variants of corpus Dockerfiles, real builds, and the comparison of
predicted re-runs with the steps the builder actually re-ran. Shared by tests/test_predict_docker.py and
benchmarks/bench_predict.py.

An offline variant keeps every instruction's kind, flags, sources and stage structure and changes only
what cannot run here: an external base image becomes `busybox:1.36`, and every RUN becomes a stand-in
that, like a compiler, writes a digest of what it can see (the stage's files, its environment, its bind
mounts) into every path some `COPY --from` reads. Its output therefore changes exactly when its inputs
do, which is what the prediction assumes of a real RUN.
"""

from __future__ import annotations

import io
import re
import secrets
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dockerfile as official

from cacheprof.advise.predict import Prediction, context_files, predict
from cacheprof.context.edits import default_edit_globs
from cacheprof.context.globs import matching_files
from cacheprof.dockerfile import DockerfileModel, load
from cacheprof.model import Build, Builder, Kind, Profile, RunPlan, Scenario, StepStatus

BASE = "busybox:1.36"


def _stage_names(commands: list) -> set[str]:
    names = set()
    for c in commands:
        if c.cmd.upper() == "FROM" and len(c.value) >= 3 and c.value[-2].upper() == "AS":
            names.add(c.value[-1].lower())
    return names


def _from_sources(commands: list) -> list[str]:
    srcs: list[str] = []
    for c in commands:
        if c.cmd.upper() in ("COPY", "ADD") and any(f.startswith("--from=") for f in c.flags):
            srcs.extend(s for s in c.value[:-1] if s not in srcs)
    return srcs


def _stand_in(c, outputs: list[str]) -> str:
    binds = []
    for f in c.flags:
        if f.startswith("--mount="):
            opts = dict(p.partition("=")[::2] for p in f[8:].split(","))
            if opts.get("type", "bind") == "bind":
                binds.append(opts.get("target") or opts.get("dst") or opts.get("destination") or "")
    mounts = " ".join(f for f in c.flags if f.startswith("--mount="))
    seen = " ".join(f"'{b}'" for b in binds if b)
    digest = (f"{{ env | grep -v '^HOSTNAME=' | sort; find / -xdev -type f ! -name cacheprof-out | sort "
              f"| xargs cat 2>/dev/null; {'find ' + seen + ' -type f | sort | xargs cat 2>/dev/null;' if seen else ''}"
              f" }} | md5sum")
    writes = "; ".join(f"mkdir -p '{o}' 2>/dev/null; {digest} > '{o}/cacheprof-out' 2>/dev/null" for o in outputs)
    body = f": line {c.start_line}; {writes or digest + ' > /dev/null'}; true"
    return f"RUN {mounts + ' ' if mounts else ''}{body}"


@contextmanager
def unique_base(client) -> Iterator[str]:
    """A base image of its own for one case: busybox plus a nonce label, removed afterwards.

    The classic builder continues from the newest image of *any* build whose steps match (`FROM busybox`
    then `WORKDIR /app` is common), so concurrent builds on a shared engine would change its cache under
    the prediction; a base no other build uses keeps them apart. (`cache_from` would too, but it loses
    the classic builder's cache of every stage but the last.)
    """
    nonce = uuid.uuid4().hex[:12]
    tag = f"cacheprof-predict-base:{nonce}"
    client.images.build(fileobj=io.BytesIO(f"FROM {BASE}\nLABEL cacheprof.predict={nonce}\n".encode()),
                        tag=tag, rm=True)
    try:
        yield tag
    finally:
        try:
            client.images.remove(tag)
        except Exception:  # still the parent of this case's images: the tag goes, the image stays
            pass


def with_base(text: str, base: str) -> str:
    """Every `FROM busybox:1.36` line of a Dockerfile made `FROM <base>` (line numbers kept)."""
    return re.sub(rf"(?im)^(\s*FROM\s+){re.escape(BASE)}(\s|$)", lambda m: f"{m.group(1)}{base}{m.group(2)}", text)


def offline_variant(text: str) -> str:
    """The Dockerfile with external bases made local and RUNs made stand-ins (line numbers kept)."""
    commands = official.parse_string(text)
    stages = _stage_names(commands)
    outputs = _from_sources(commands)
    lines = text.split("\n")
    for c in commands:
        cmd = c.cmd.upper()
        first, last = c.start_line - 1, c.end_line - 1
        if cmd == "FROM":
            image = c.value[0]
            if image.lower() in stages or image == "scratch":
                continue
            alias = f" AS {c.value[-1]}" if len(c.value) >= 3 and c.value[-2].upper() == "AS" else ""
            new = f"FROM {BASE}{alias}"
        elif cmd == "RUN":
            new = _stand_in(c, outputs)
        else:
            continue
        lines[first] = new
        for k in range(first + 1, last + 1):
            lines[k] = ""
    # A `# syntax=` directive would fetch a frontend image; the built-in frontend reads the rest.
    return "\n".join("#" if ln.lower().replace(" ", "").startswith("#syntax=") else ln for ln in lines)


def make_case(case_dir: Path, dst: Path, base: str = BASE) -> Path:
    """Copy a case into `dst` (a corpus case: its context and offline Dockerfile; a fixture: as it is) with
    a nonce file, its base image `base`."""
    if (case_dir / "context").is_dir():
        shutil.copytree(case_dir / "context", dst, symlinks=True)
        text = offline_variant((case_dir / "Dockerfile").read_text())
    else:
        shutil.copytree(case_dir, dst, symlinks=True)
        text = (dst / "Dockerfile").read_text()
    (dst / "Dockerfile").write_text(with_base(text, base))
    (dst / "cacheprof-nonce.txt").write_text(uuid.uuid4().hex + "\n")
    return dst


@dataclass(frozen=True)
class Check:
    scenario: str
    builder: str
    predicted: frozenset[tuple[str, int]]
    actual: frozenset[tuple[str, int]]
    build_ok: bool
    certain: bool

    @property
    def agrees(self) -> bool:
        return self.predicted == self.actual


def ran(build: Build) -> frozenset[tuple[str, int]]:
    return frozenset(s.key for s in build.steps if s.status is StepStatus.RUN)


def scenarios_for(ctx: Path, model: DockerfileModel) -> tuple[Scenario, ...]:
    """cold, warm, the default edits, and a fresh value for every ARG the Dockerfile declares."""
    edits = [Scenario(Kind.EDIT, glob=g) for g in default_edit_globs(ctx, model)]
    names: list[str] = []
    for ins in (*model.global_args, *model.instructions):
        if ins.cmd == "ARG":
            names += [kv.partition("=")[0] for kv in ins.value if kv.partition("=")[0] not in names]
    args = [Scenario(Kind.ARG, arg_name=n, arg_value=secrets.token_hex(4)) for n in names]
    return (Scenario(Kind.COLD), Scenario(Kind.WARM), *edits, *args)


def prediction_for(ctx: Path, df: Path, model: DockerfileModel, builder: Builder, scenario: Scenario,
                   target: str | None = None) -> Prediction:
    files = context_files(ctx, df, builder)
    changed = matching_files(ctx, scenario.glob) if scenario.kind is Kind.EDIT and scenario.glob else []
    new_args = {scenario.arg_name: scenario.arg_value or ""} if scenario.kind is Kind.ARG and scenario.arg_name else {}
    return predict(model, files, changed, new_args=new_args, target=target)


def run_builds(ctx: Path, df: Path, builder: Builder, scenarios: tuple[Scenario, ...],
               target: str | None = None) -> Profile:
    """Build the scenarios in one run (see `unique_base` for keeping other builds' cache out)."""
    from cacheprof.capture.session import open_driver, run_plan

    model = load(df)
    plan = RunPlan(context=ctx, dockerfile=df, model=model, builder=builder, scenarios=scenarios,
                   target=target, namespace="predict")
    driver = open_driver(None)
    try:
        profile, failure = run_plan(driver, plan, quiet=True)
    finally:
        driver.close()
    if failure is not None and not isinstance(failure, Exception):
        raise failure
    return profile


def check_case(ctx: Path, builder: Builder, target: str | None = None) -> list[Check]:
    """Build cold, warm, every default edit and arg scenario; compare each non-cold build with its prediction."""
    df = ctx / "Dockerfile"
    model = load(df)
    scenarios = scenarios_for(ctx, model)
    profile = run_builds(ctx, df, builder, scenarios, target)
    out = []
    by_name = {s.name: s for s in scenarios}
    for b in profile.builds:
        if b.scenario == "cold":
            continue
        p = prediction_for(ctx, df, model, builder, by_name[b.scenario], target)
        out.append(Check(b.scenario, str(builder), p.rebuild_keys, ran(b), b.ok,
                         all(s.certain for s in p.steps)))
    return out


def cold_ok(profile: Profile) -> bool:
    return bool(profile.builds) and profile.builds[0].ok
