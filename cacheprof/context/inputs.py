"""What each step of a build reads, recorded so two builds can be diffed (`cacheprof explain`).

Per instruction: the digest of the context files it copies or bind-mounts (after .dockerignore, as the
builder receives them, edits included), the build args and ENV in scope, the stage it copies from, the
base image of a FROM and the parent step. The per-file digests live once per build (`files`), not per
step: a step's files are found again from its recorded sources.

Pure apart from reading the context; the base image's id is filled in by the caller that can ask an engine.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..dockerfile import DockerfileModel, Instruction
from ..model import Builder, StepInputs
from .dockerignore import DockerIgnore, clean_path
from .globs import _path_matcher
from .walk import resolve_context, walk_context

_VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")
_CHUNK = 1 << 20


def context_sources(instr: Instruction) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(context sources, --exclude patterns) an instruction reads: COPY/ADD sources, bind mounts without from=."""
    if instr.cmd in ("COPY", "ADD"):
        excludes = tuple(f.split("=", 1)[1] for f in instr.flags if f.startswith("--exclude="))
        return instr.context_sources, excludes
    if instr.cmd == "RUN":
        return tuple(m.get("source") or m.get("src") or "." for m in instr.bind_mounts if not m.get("from")), ()
    return (), ()


def from_stage(model: DockerfileModel, instr: Instruction) -> str | None:
    names: list[str] = []
    if instr.cmd == "FROM":
        names = [instr.value[0]] if instr.value else []
    elif instr.cmd in ("COPY", "ADD") and instr.copy_from:
        names = [instr.copy_from]
    elif instr.cmd == "RUN":
        names = [m["from"] for m in instr.bind_mounts if m.get("from")]
    for n in names:
        s = model.stage_ref(n, instr.stage_index)
        if s is not None:
            return s.label
    return None


def sent_files(context_dir: Path, dockerfile: Path, builder: Builder) -> tuple[str, dict[str, os.stat_result]]:
    """(context root, {path: lstat}) of the regular files and symlinks a COPY can read, per builder.

    BuildKit without a session receives the Dockerfile even when .dockerignore excludes it; the classic
    daemon deletes an excluded Dockerfile and .dockerignore before the build.
    """
    root = resolve_context(context_dir)
    ignore = DockerIgnore.for_context(Path(root))
    rel = os.path.relpath(os.path.realpath(dockerfile), root).replace(os.sep, "/")
    if builder is Builder.BUILDKIT and not rel.startswith("../") and ignore.legacy_matches(rel):
        ignore = ignore.with_patterns(["!" + rel])
    out = {e.rel: e.st for e in walk_context(root, ignore if ignore else None)
           if stat.S_ISREG(e.st.st_mode) or stat.S_ISLNK(e.st.st_mode)}
    return root, out


def select(paths: Sequence[str], source: str, excludes: Sequence[str] = ()) -> list[str]:
    """The paths a COPY source (or bind-mount source) takes, minus its --exclude patterns."""
    src = clean_path("/" + source).lstrip("/")
    match = _path_matcher(src, bang_negates=False)
    picked = [p for p in paths if match(p)]
    if excludes:
        ex = DockerIgnore(excludes, source="COPY --exclude")
        picked = [p for p in picked if not ex.excluded(p)]
    return picked


@dataclass
class DigestCache:
    """File digests by (device, inode, size, mtime): a run reads each unchanged file once."""

    known: dict[tuple[int, int, int, int, int], str] = field(default_factory=dict)

    def digest(self, path: str, st: os.stat_result, extra: bytes | None) -> str:
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode)
        if extra is None and key in self.known:
            return self.known[key]
        h = hashlib.sha256(f"{stat.S_IMODE(st.st_mode):o}\0".encode())
        if stat.S_ISLNK(st.st_mode):
            h.update(b"L" + os.fsencode(os.readlink(path)))
        else:
            try:
                with open(path, "rb") as fh:
                    while chunk := fh.read(_CHUNK):
                        h.update(chunk)
            except OSError:
                h.update(b"\0unreadable")
            if extra:
                h.update(extra)
        d = h.hexdigest()[:16]
        if extra is None:
            self.known[key] = d
        return d


def _vars(text: str) -> set[str]:
    return {a or b for a, b in _VAR_RE.findall(text)}


def _expand(text: str, values: Mapping[str, str | None]) -> str:
    def sub(m: re.Match[str]) -> str:
        v = values.get(m.group(1) or m.group(2))
        return m.group(0) if v is None else v
    return _VAR_RE.sub(sub, text)


def record_inputs(
    model: DockerfileModel, context_dir: Path, dockerfile: Path, builder: Builder, build_args: Mapping[str, str],
    overrides: Mapping[tuple[int, int], bytes] | None = None, cache: DigestCache | None = None,
) -> tuple[tuple[StepInputs, ...], dict[str, str]]:
    """Per instruction its inputs, and {path: digest} of every context file some instruction reads."""
    cache = cache or DigestCache()
    overrides = overrides or {}
    root, sent = sent_files(context_dir, dockerfile, builder)
    paths = sorted(sent)
    files: dict[str, str] = {}

    def digest_of(rel: str) -> str:
        if rel not in files:
            st = sent[rel]
            files[rel] = cache.digest(os.path.join(root, rel), st, overrides.get((st.st_dev, st.st_ino)))
        return files[rel]

    globals_: dict[str, str | None] = {}
    for g in model.global_args:
        for kv in g.value:
            name, eq, default = kv.partition("=")
            globals_[name] = build_args.get(name, default.strip('"') if eq else None)
    out: list[StepInputs] = []
    stage_env: dict[str, dict[str, str]] = {}
    for st in model.stages:
        base = model.stage_ref(st.base, st.index)
        env: dict[str, str] = dict(stage_env.get(base.index, {})) if base is not None else {}
        args: dict[str, str | None] = {}
        parent: tuple[str, int] | None = None
        for ins in st.instructions:
            srcs, excludes = context_sources(ins)
            picked: list[str] = []
            for s in srcs:
                picked += [p for p in select(paths, s, excludes) if p not in picked]
            digest = None
            if srcs:
                h = hashlib.sha256()
                for p in sorted(picked):
                    h.update(f"{p}\0{digest_of(p)}\0".encode("utf-8", "surrogateescape"))
                digest = h.hexdigest()[:16]
            if ins.cmd == "ARG":
                for kv in ins.value:
                    name, eq, default = kv.partition("=")
                    args[name] = build_args.get(name, _expand(default.strip('"'), {**globals_, **args}) if eq
                                                else globals_.get(name))
            elif ins.cmd == "ENV":
                pairs = ins.value if len(ins.value) % 2 == 0 else ()
                for k in range(0, len(pairs), 2):
                    env[pairs[k]] = _expand(pairs[k + 1].strip('"'), {**args, **env})
            uses = _vars(ins.original)
            out.append(StepInputs(
                stage=st.label, position=ins.position, line=ins.line, instruction=ins.original,
                files_digest=digest, sources=srcs, excludes=excludes, file_count=len(picked) if srcs else None,
                from_stage=from_stage(model, ins),
                base=_expand(ins.value[0], globals_) if ins.cmd == "FROM" and base is None and ins.value else None,
                args={k: v for k, v in args.items() if ins.cmd == "RUN" or k in uses},
                env=dict(env) if ins.cmd == "RUN" else {k: v for k, v in env.items() if k in uses},
                parent=parent,
            ))
            parent = (st.label, ins.position)
        stage_env[st.index] = env
    return tuple(out), files
