"""A Dockerfile as cacheprof needs it: instructions with stage, position and line, parsed by the official
parser (the `dockerfile` package wraps moby/buildkit's Go parser).

It answers the questions the step mapping asks: which instruction is the classic builder's `Step N`,
which is BuildKit's `[stage i/n]`, and which files each COPY/ADD reads from the context.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dockerfile as _official

from .errors import UsageError

KNOWN = frozenset(
    "ADD ARG CMD COPY ENTRYPOINT ENV EXPOSE FROM HEALTHCHECK LABEL MAINTAINER ONBUILD RUN SHELL "
    "STOPSIGNAL USER VOLUME WORKDIR".split()
)
# Instructions that make a BuildKit vertex (and so count in its `[i/n]`).
VERTEX_MAKING = frozenset({"FROM", "RUN", "COPY", "ADD", "WORKDIR"})


@dataclass(frozen=True)
class Instruction:
    cmd: str
    original: str
    line: int
    end_line: int
    stage_index: int
    stage: str
    position: int  # 1-based within the stage; FROM is 1
    flags: tuple[str, ...]
    value: tuple[str, ...]

    @property
    def copy_from(self) -> str | None:
        for f in self.flags:
            if f.startswith("--from="):
                return f.split("=", 1)[1]
        return None

    @property
    def bind_mounts(self) -> tuple[dict[str, str], ...]:
        """The `--mount=type=bind` options of a RUN (bind is the default mount type)."""
        out = []
        for f in self.flags:
            if not f.startswith("--mount="):
                continue
            opts: dict[str, str] = {}
            for part in f[len("--mount="):].split(","):
                k, _, v = part.partition("=")
                opts[k.strip().lower()] = v.strip()
            if opts.get("type", "bind") == "bind":
                out.append(opts)
        return tuple(out)

    @property
    def context_sources(self) -> tuple[str, ...]:
        """The build-context paths a COPY/ADD reads (none for COPY --from or remote ADD)."""
        if self.cmd not in ("COPY", "ADD") or self.copy_from is not None or len(self.value) < 2:
            return ()
        # A heredoc (`COPY <<EOF /dst`) is inline content, not a file of the context.
        srcs = tuple(s for s in self.value[:-1] if not s.startswith("<<"))
        if self.cmd == "ADD":
            srcs = tuple(s for s in srcs if "://" not in s and not s.startswith("git@"))
        return srcs


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None
    base: str
    instructions: tuple[Instruction, ...]

    @property
    def label(self) -> str:
        """The stage as cacheprof reports it: its name, else its index."""
        return self.name if self.name else str(self.index)

    @property
    def buildkit_label(self) -> str:
        return self.name if self.name else f"stage-{self.index}"


@dataclass(frozen=True)
class DockerfileModel:
    path: str
    stages: tuple[Stage, ...]
    global_args: tuple[Instruction, ...]

    @property
    def instructions(self) -> tuple[Instruction, ...]:
        return tuple(i for s in self.stages for i in s.instructions)

    def stage_ref(self, ref: str, before: int) -> Stage | None:
        """The earlier stage a FROM / --from names (by name, case-insensitively, or by index)."""
        for s in self.stages[:before]:
            if (s.name and s.name.lower() == ref.lower()) or ref == str(s.index):
                return s
        return None

    def stage(self, label: str) -> Stage | None:
        for s in self.stages:
            if label in (s.name, s.buildkit_label, str(s.index)):
                return s
        return None

    def buildkit_step(self, stage_label: str, vertex_number: int) -> Instruction | None:
        """The instruction behind BuildKit's `[stage i/n]`: the i-th vertex-making one of the stage."""
        stage = self.stage(stage_label)
        if stage is None:
            return None
        making = [i for i in stage.instructions if i.cmd in VERTEX_MAKING]
        if 1 <= vertex_number <= len(making):
            return making[vertex_number - 1]
        return None

    def classic_step(self, n: int, total: int | None = None) -> Instruction | None:
        """The instruction behind the classic builder's `Step n/total`.

        Global ARGs before the first FROM count as steps when the classic builder prints them; `total`
        tells which numbering this build used.
        """
        seq = list(self.instructions)
        if total is not None and total == len(seq) + len(self.global_args):
            seq = list(self.global_args) + seq
        if 1 <= n <= len(seq):
            return seq[n - 1]
        return None

    def copy_sources(self) -> tuple[tuple[Instruction, str], ...]:
        return tuple((i, src) for i in self.instructions for src in i.context_sources)


def _stage_name(value: tuple[str, ...]) -> str | None:
    if len(value) >= 3 and value[-2].upper() == "AS":
        return value[-1]
    return None


def parse_text(text: str, path: str = "Dockerfile") -> DockerfileModel:
    try:
        commands = _official.parse_string(text)
    except _official.GoParseError as e:
        raise UsageError(f"{path}: Dockerfile parse error: {e}; fix the Dockerfile") from None
    stages: list[Stage] = []
    global_args: list[Instruction] = []
    current: list[Instruction] = []
    stage_index = -1
    stage_name: str | None = None
    base = ""

    def close() -> None:
        if stage_index >= 0:
            stages.append(Stage(stage_index, stage_name, base, tuple(current)))

    for c in commands:
        cmd = c.cmd.upper()
        if cmd not in KNOWN:
            raise UsageError(
                f"{path}: Dockerfile parse error line {c.start_line}: unknown instruction: {c.cmd}; "
                "fix the Dockerfile"
            )
        if cmd == "FROM":
            close()
            stage_index += 1
            stage_name = _stage_name(c.value)
            base = c.value[0] if c.value else ""
            current = []
        elif stage_index < 0:
            if cmd != "ARG":
                raise UsageError(
                    f"{path}: line {c.start_line}: {cmd} before the first FROM; fix the Dockerfile"
                )
            global_args.append(
                Instruction(cmd, c.original, c.start_line, c.end_line, -1, "", 0, c.flags, c.value)
            )
            continue
        current.append(
            Instruction(
                cmd=cmd,
                original=c.original,
                line=c.start_line,
                end_line=c.end_line,
                stage_index=stage_index,
                stage=stage_name if stage_name else str(stage_index),
                position=len(current) + 1,
                flags=tuple(c.flags),
                value=tuple(c.value),
            )
        )
    close()
    if not stages:
        raise UsageError(f"{path}: no FROM instruction; a Dockerfile must start a stage with FROM")
    return DockerfileModel(path=path, stages=tuple(stages), global_args=tuple(global_args))


def load(path: Path) -> DockerfileModel:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"Dockerfile not found: {path}; pass the right path with -f") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a Dockerfile; pass the file with -f") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a UTF-8 text file; is this a Dockerfile?") from None
    except OSError as e:
        raise UsageError(f"cannot read Dockerfile {path}: {e.strerror}") from None
    return parse_text(text, str(path))
