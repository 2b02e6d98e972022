"""The profile JSON contract (`cacheprof/profile/v2`, reads v1 too): Profile <-> plain dicts, strict loading.

Fields may be added, never renamed. v2 changed what derived figures mean (hit rates count only RUN/COPY/
ADD steps; summary times use only ok builds) and added `cache_saved`; the builds themselves are as in v1,
so a v1 file loads as it is and its figures are recomputed. Loading checks every field it uses, so a
truncated or hand-edited file gives one clear line instead of a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import InputFormatError, UsageError
from ..figures import profile_figures
from ..model import (
    PROFILE_SCHEMA,
    PROFILE_SCHEMAS_READ,
    Build,
    EngineInfo,
    InternalVertex,
    Profile,
    Step,
    StepInputs,
    StepStatus,
)


def _r4(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def scenario_summary(profile: Profile) -> dict[str, dict[str, Any]]:
    """Per scenario, the figures of `cacheprof.figures`: builds, ok builds, median wall seconds of the ok
    builds, hit rate (cached RUN/COPY/ADD steps / RUN/COPY/ADD steps of the ok builds), cache saved."""
    return {
        name: {
            "builds": f.builds,
            "ok": f.ok,
            "median_total_s": _r4(f.median_total_s),
            "hit_rate": _r4(f.hit_rate),
            "steps": f.work_steps,
            "cached_steps": f.cached_work_steps,
            "cache_saved": _r4(f.cache_saved),
            "cache_saved_s": _r4(f.cache_saved_s),
        }
        for name, f in profile_figures(profile).items()
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def step_to_dict(step: Step) -> dict[str, Any]:
    # Built by hand, not with dataclasses.asdict: that deep-copies every field and dominated the time
    # of writing large profiles.
    d = {
        "index": step.index,
        "stage": step.stage,
        "position": step.position,
        "line": step.line,
        "instruction": step.instruction,
        "status": step.status.value,
        "started": _round(step.started),
        "finished": _round(step.finished),
        "duration_s": _round(step.duration_s),
        "error": step.error,
        "size_bytes": step.size_bytes,
    }
    if step.log_tail:  # v2, additive: only failing steps carry it
        d["log_tail"] = list(step.log_tail)
    return d


def inputs_to_dict(i: StepInputs) -> dict[str, Any]:
    return {"stage": i.stage, "position": i.position, "line": i.line, "instruction": i.instruction,
            "files_digest": i.files_digest, "sources": list(i.sources), "excludes": list(i.excludes),
            "file_count": i.file_count, "from_stage": i.from_stage, "base": i.base, "args": dict(i.args),
            "env": dict(i.env), "parent": list(i.parent) if i.parent is not None else None}


def build_to_dict(build: Build) -> dict[str, Any]:
    return {
        "scenario": build.scenario,
        "repeat": build.repeat,
        "ok": build.ok,
        "error": build.error,
        "duration_s": _round(build.duration_s),
        "image_id": build.image_id,
        "started": _round(build.started),
        "complete": build.complete,
        "transfer_s": _round(build.transfer_s),
        "image_size_bytes": build.image_size_bytes,
        "layer_ids": list(build.layer_ids),
        **({"inputs": [inputs_to_dict(i) for i in build.inputs], "files": dict(build.files)} if build.inputs else {}),
        "hit_rate": None if build.hit_rate is None else round(build.hit_rate, 4),
        "steps": [step_to_dict(s) for s in build.steps],
        "internal": [
            {"name": v.name, "cached": v.cached, "started": _round(v.started), "finished": _round(v.finished),
             "duration_s": _round(v.duration_s), "error": v.error}
            for v in build.internal
        ],
    }


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    return {
        "schema": PROFILE_SCHEMA,
        "source": profile.source,
        "builder": profile.builder,
        "dockerfile": profile.dockerfile,
        "context": profile.context,
        "target": profile.target,
        "build_args": dict(profile.build_args),
        "created": profile.created,
        "engine": asdict(profile.engine) if profile.engine else None,
        "machine": dict(profile.machine),
        "scenarios": list(profile.scenario_names),
        "warmups": profile.warmups,
        "complete": all(b.complete for b in profile.builds),
        "builds": _with_file_deltas(profile.builds),
        "summary": scenario_summary(profile),
    }


def _with_file_deltas(builds: tuple[Build, ...]) -> list[dict[str, Any]]:
    """Each build's `files` as the difference from the build before it that has files (`files_base`, its
    1-based number; `files_removed`): builds of one context share nearly all of them."""
    out = []
    base: tuple[int, dict[str, str]] | None = None
    for n, b in enumerate(builds, 1):
        d = build_to_dict(b)
        if b.files and base is not None:
            prev = base[1]
            d["files"] = {k: v for k, v in b.files.items() if prev.get(k) != v}
            d["files_base"] = base[0]
            d["files_removed"] = sorted(set(prev) - set(b.files))
        if b.files:
            base = (n, b.files)
        out.append(d)
    return out


def _resolve_file_deltas(r: _Reader, raw: list[Any], builds: list[Build]) -> list[Build]:
    from dataclasses import replace

    for n, (d, b) in enumerate(zip(raw, builds, strict=True), 1):
        base = r.get(d, "files_base", f"builds[{n - 1}]", (int,), optional=True)
        if base is None:
            continue
        if not 1 <= base < n:
            raise r.fail(f"builds[{n - 1}].files_base", f"should name an earlier build (1 to {n - 1})")
        removed = set(_strings(r, r.get(d, "files_removed", f"builds[{n - 1}]", (list,), optional=True) or [],
                               f"builds[{n - 1}].files_removed"))
        files = {k: v for k, v in builds[base - 1].files.items() if k not in removed}
        files.update(b.files)
        builds[n - 1] = replace(b, files=files)
    return builds


def dumps(profile: Profile) -> str:
    """One top-level field per line and one build per line: readable, diffable, and written by json's
    C encoder (an `indent` makes json fall back to its pure-Python encoder, ~5x slower on big profiles)."""
    compact = json.JSONEncoder(separators=(", ", ": ")).encode
    parts = []
    for key, value in profile_to_dict(profile).items():
        if key == "builds":
            inner = ",\n".join(f"    {compact(b)}" for b in value)
            parts.append(f'  "builds": [\n{inner}\n  ]' if value else '  "builds": []')
        else:
            parts.append(f"  {compact(key)}: {compact(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


# --- loading -----------------------------------------------------------------------------------


class _Reader:
    """Typed field access that names the bad field in its error."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, path: str, what: str) -> InputFormatError:
        return InputFormatError(f"{self.where}: field '{path}' {what}; is this a cacheprof profile.json?")

    def get(self, obj: Any, key: str, path: str, kinds: tuple[type, ...], *, optional: bool = False) -> Any:
        if not isinstance(obj, Mapping):
            raise self.fail(path, "is not an object")
        if key not in obj:
            if optional:
                return None
            raise self.fail(f"{path}.{key}" if path else key, "is missing")
        value = obj[key]
        if value is None and optional:
            return None
        # bool is an int in Python; keep them apart.
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(f"{path}.{key}" if path else key, f"should be {kinds[0].__name__}")
        if not isinstance(value, kinds):
            raise self.fail(f"{path}.{key}" if path else key, f"should be {kinds[0].__name__}")
        # Ranges: counts, positions, sizes, times and durations are never negative (safe_json bounded them).
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0 and (
                key in _NON_NEGATIVE or key.endswith(("_s", "_bytes"))):
            raise self.fail(f"{path}.{key}" if path else key, f"is {value}, which must not be negative")
        return value


_NUM = (int, float)
_NON_NEGATIVE = frozenset({"index", "position", "line", "repeat", "started", "finished", "warmups", "file_count"})


def _step_from(r: _Reader, d: Any, p: str) -> Step:
    status = r.get(d, "status", p, (str,))
    try:
        st = StepStatus(status)
    except ValueError:
        raise r.fail(f"{p}.status", f"is {status!r}, not one of {', '.join(StepStatus)}") from None
    return Step(
        index=r.get(d, "index", p, (int,)),
        stage=str(r.get(d, "stage", p, (str, int))),
        position=r.get(d, "position", p, (int,)),
        line=r.get(d, "line", p, (int,), optional=True),
        instruction=r.get(d, "instruction", p, (str,)),
        status=st,
        started=r.get(d, "started", p, _NUM, optional=True),
        finished=r.get(d, "finished", p, _NUM, optional=True),
        duration_s=r.get(d, "duration_s", p, _NUM, optional=True),
        error=r.get(d, "error", p, (str,), optional=True),
        size_bytes=r.get(d, "size_bytes", p, (int,), optional=True),
        log_tail=tuple(str(x) for x in r.get(d, "log_tail", p, (list,), optional=True) or ()),
    )


def _vertex_from(r: _Reader, d: Any, p: str) -> InternalVertex:
    return InternalVertex(
        name=r.get(d, "name", p, (str,)),
        cached=r.get(d, "cached", p, (bool,)),
        started=r.get(d, "started", p, _NUM, optional=True),
        finished=r.get(d, "finished", p, _NUM, optional=True),
        duration_s=r.get(d, "duration_s", p, _NUM, optional=True),
        error=r.get(d, "error", p, (str,), optional=True),
    )


def _build_from(r: _Reader, d: Any, p: str) -> Build:
    steps = r.get(d, "steps", p, (list,))
    internal = r.get(d, "internal", p, (list,), optional=True) or []
    complete = r.get(d, "complete", p, (bool,), optional=True)
    return Build(
        scenario=r.get(d, "scenario", p, (str,)),
        repeat=r.get(d, "repeat", p, (int,)),
        ok=r.get(d, "ok", p, (bool,)),
        error=r.get(d, "error", p, (str,), optional=True),
        duration_s=r.get(d, "duration_s", p, _NUM, optional=True),
        image_id=r.get(d, "image_id", p, (str,), optional=True),
        steps=tuple(_step_from(r, s, f"{p}.steps[{i}]") for i, s in enumerate(steps)),
        internal=tuple(_vertex_from(r, v, f"{p}.internal[{i}]") for i, v in enumerate(internal)),
        started=r.get(d, "started", p, _NUM, optional=True),
        complete=True if complete is None else complete,
        transfer_s=r.get(d, "transfer_s", p, _NUM, optional=True),
        image_size_bytes=r.get(d, "image_size_bytes", p, (int,), optional=True),
        layer_ids=tuple(_strings(r, r.get(d, "layer_ids", p, (list,), optional=True) or [], f"{p}.layer_ids")),
        inputs=tuple(_inputs_from(r, x, f"{p}.inputs[{i}]")
                     for i, x in enumerate(r.get(d, "inputs", p, (list,), optional=True) or [])),
        files=_str_map(r, r.get(d, "files", p, (dict,), optional=True) or {}, f"{p}.files"),
    )


def _str_map(r: _Reader, m: dict[str, Any], p: str, nullable: bool = False) -> dict[str, Any]:
    for k, v in m.items():
        if not (isinstance(v, str) or (nullable and v is None)):
            raise r.fail(f"{p}.{k}", "should be a string")
    return dict(m)


def _inputs_from(r: _Reader, d: Any, p: str) -> StepInputs:
    parent = r.get(d, "parent", p, (list,), optional=True)
    if parent is not None and not (len(parent) == 2 and isinstance(parent[0], str) and isinstance(parent[1], int)):
        raise r.fail(f"{p}.parent", "should be [stage, position]")
    return StepInputs(
        stage=r.get(d, "stage", p, (str,)), position=r.get(d, "position", p, (int,)),
        line=r.get(d, "line", p, (int,), optional=True),
        instruction=r.get(d, "instruction", p, (str,), optional=True) or "",
        files_digest=r.get(d, "files_digest", p, (str,), optional=True),
        sources=tuple(_strings(r, r.get(d, "sources", p, (list,), optional=True) or [], f"{p}.sources")),
        excludes=tuple(_strings(r, r.get(d, "excludes", p, (list,), optional=True) or [], f"{p}.excludes")),
        file_count=r.get(d, "file_count", p, (int,), optional=True),
        from_stage=r.get(d, "from_stage", p, (str,), optional=True),
        base=r.get(d, "base", p, (str,), optional=True),
        args=_str_map(r, r.get(d, "args", p, (dict,), optional=True) or {}, f"{p}.args", nullable=True),
        env=_str_map(r, r.get(d, "env", p, (dict,), optional=True) or {}, f"{p}.env"),
        parent=(parent[0], parent[1]) if parent is not None else None,
    )


def _strings(r: _Reader, items: list[Any], p: str) -> list[str]:
    for i, x in enumerate(items):
        if not isinstance(x, str):
            raise r.fail(f"{p}[{i}]", "should be str")
    return items


def profile_from_dict(data: Any, where: str = "profile") -> Profile:
    r = _Reader(where)
    if not isinstance(data, Mapping):
        raise InputFormatError(f"{where}: not a JSON object; is this a cacheprof profile.json?")
    schema = r.get(data, "schema", "", (str,))
    if schema not in PROFILE_SCHEMAS_READ:
        reads = " or ".join(PROFILE_SCHEMAS_READ)
        raise InputFormatError(f"{where}: schema is {schema!r}, this cacheprof reads {reads}")
    engine = r.get(data, "engine", "", (dict,), optional=True)
    builds = r.get(data, "builds", "", (list,))
    return Profile(
        builder=r.get(data, "builder", "", (str,)),
        dockerfile=r.get(data, "dockerfile", "", (str,)),
        context=r.get(data, "context", "", (str,)),
        builds=tuple(_resolve_file_deltas(r, builds, [_build_from(r, b, f"builds[{i}]")
                                                     for i, b in enumerate(builds)])),
        engine=EngineInfo(
            version=str(r.get(engine, "version", "engine", (str,))),
            api_version=str(r.get(engine, "api_version", "engine", (str,))),
            os=str(engine.get("os", "")),
            arch=str(engine.get("arch", "")),
            host=str(engine.get("host", "")),
        ) if engine else None,
        target=r.get(data, "target", "", (str,), optional=True),
        build_args=_str_map(r, r.get(data, "build_args", "", (dict,), optional=True) or {}, "build_args"),
        scenarios=tuple(_strings(r, r.get(data, "scenarios", "", (list,), optional=True) or [], "scenarios")),
        created=r.get(data, "created", "", (str,), optional=True) or "",
        machine=dict(r.get(data, "machine", "", (dict,), optional=True) or {}),
        source=r.get(data, "source", "", (str,), optional=True) or "profile",
        warmups=r.get(data, "warmups", "", (int,), optional=True) or 0,
    )


def loads(text: str, where: str = "profile") -> Profile:
    from .safe_json import parse

    return profile_from_dict(parse(text, where), where)


def load(path: Path) -> Profile:
    """A saved profile.json, every bad input one line: missing (2), unreadable (2), not UTF-8 or not a profile (2)."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file; pass the profile.json that a profile run wrote")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputFormatError(f"{path}: not UTF-8 text; is this a cacheprof profile.json?") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read ({e.strerror})") from None
    return loads(text, where=str(path))
