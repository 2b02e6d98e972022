"""Per-step layer sizes from an image's history (the Engine API's `GET /images/{id}/history`). Pure.

Both builders write one history entry per instruction of the final stage after its FROM (ARG, ENV and
other metadata included, with size 0), newest first, after the base image's own entries. The entries
are matched to the Dockerfile's instructions from the end and checked by keyword; when they do not line
up (ONBUILD triggers of a base image, an unknown Dockerfile) no size is given rather than a wrong one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from ..dockerfile import DockerfileModel, Stage
from ..model import Step


@dataclass(frozen=True)
class HistoryEntry:
    created_by: str
    size_bytes: int


@dataclass(frozen=True)
class ImageLayers:
    """What the engine says about a built image: history oldest first, total size, layer diff IDs."""

    history: tuple[HistoryEntry, ...]
    size_bytes: int | None
    layer_ids: tuple[str, ...]


def final_stage(model: DockerfileModel, target: str | None) -> Stage:
    """The stage whose image the build tags: --target's, else the last."""
    if target:
        for stage in model.stages:
            if target in (stage.name, str(stage.index)):
                return stage
    return model.stages[-1]


def _keyword(created_by: str) -> str:
    text = created_by.strip()
    if "#(nop)" in text:  # classic metadata and COPY/ADD: `/bin/sh -c #(nop)  ENV A=1`
        words = text.split("#(nop)", 1)[1].split()
        return words[0].upper() if words else ""
    first = text.split(None, 1)[0] if text else ""
    if first.isupper() and first.isalpha():  # BuildKit: `RUN |1 V=1 /bin/sh -c ...`, `COPY f . # buildkit`
        return first
    return "RUN"  # classic RUN: `/bin/sh -c cmd`, `|1 V=1 /bin/sh -c cmd`, or an exec form's argv


def step_sizes(history: Sequence[HistoryEntry], stage: Stage) -> dict[int, int] | None:
    """position -> layer size of the stage's instructions after FROM, or None when history does not match."""
    own = [i for i in stage.instructions if i.cmd != "FROM"]
    if len(history) < len(own):
        return None
    mine = history[len(history) - len(own):] if own else []
    sizes: dict[int, int] = {}
    for instr, entry in zip(own, mine, strict=True):
        if _keyword(entry.created_by) != instr.cmd:
            return None
        sizes[instr.position] = entry.size_bytes
    return sizes


def with_sizes(steps: tuple[Step, ...], layers: ImageLayers, model: DockerfileModel | None,
               target: str | None) -> tuple[Step, ...]:
    """The steps with `size_bytes` set for the final stage's instructions (others keep None)."""
    if model is None:
        return steps
    stage = final_stage(model, target)
    sizes = step_sizes(layers.history, stage)
    if sizes is None:
        return steps
    labels = {stage.label, stage.buildkit_label}
    return tuple(
        dataclasses.replace(s, size_bytes=sizes[s.position]) if s.stage in labels and s.position in sizes else s
        for s in steps
    )


def layers_to_json(layers: ImageLayers) -> dict[str, object]:
    return {"history": [[e.created_by, e.size_bytes] for e in layers.history], "size_bytes": layers.size_bytes,
            "layer_ids": list(layers.layer_ids)}


def layers_from_json(data: dict[str, object]) -> ImageLayers:
    history = data.get("history") or []
    size = data.get("size_bytes")
    assert isinstance(history, list)
    return ImageLayers(
        tuple(HistoryEntry(str(c), int(n)) for c, n in history),
        size if isinstance(size, int) else None,
        tuple(str(x) for x in data.get("layer_ids") or ()),  # type: ignore[union-attr]
    )
