"""What advise reports: findings with a stable rule id, and the rewrite each one offers (or why not).

The JSON shape (`--format json`) is documented in docs/advise-rules.md; ids never change meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ADVICE_SCHEMA = "cacheprof/advice/v2"

COPY_BEFORE_INSTALL = "copy-before-install"  # a reorder: the dependency step needs only the manifests
DEPS_IN_BUILD = "deps-in-build"  # a new step: the build resolves dependencies, no dependency-only step
VOLATILE_ARG = "volatile-arg"  # an expensive step's cache key depends on a value that may change per build
REMOTE_ADD = "remote-add"  # a remote ADD not pinned to a version or checksum
COPY_BEFORE_SETUP = "copy-before-setup"  # a reorder: system packages / tools installed after the sources
RULES = (COPY_BEFORE_INSTALL, DEPS_IN_BUILD, COPY_BEFORE_SETUP, VOLATILE_ARG, REMOTE_ADD)

PROBLEM, WARNING, INFO = "problem", "warning", "info"


@dataclass(frozen=True)
class Fix:
    """A reorder: `insert` (new COPY lines of the manifests) goes right before the step at `step_line`, and the
    instructions starting at `moved` (the COPYs that bring the sources) move to right after it."""

    step_line: int
    insert: tuple[str, ...]
    moved: tuple[int, ...]


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # PROBLEM | WARNING | INFO
    stage: str
    line: int  # the instruction that causes the waste
    instruction: str
    related_line: int | None  # the expensive step that pays for it
    related_instruction: str | None
    message: str
    suggestion: str  # what to do, with the exact snippet for a new step
    scenario: str | None = None  # the scenario that shows the waste, e.g. edit:app/main.py
    manifests: tuple[str, ...] = ()  # context paths the dependency step needs
    manifest_images: tuple[str, ...] = ()  # where they are in the image
    fix: Fix | None = None
    why_not: str | None = None  # why no rewrite is offered


def finding_to_dict(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule, "severity": f.severity, "stage": f.stage, "line": f.line, "instruction": f.instruction,
        "related_line": f.related_line, "related_instruction": f.related_instruction, "message": f.message,
        "suggestion": f.suggestion, "scenario": f.scenario, "manifests": list(f.manifests),
        # A reorder: `insert` goes right before the step at `step_line`; the COPYs at `moved_lines` right after it.
        "fix": None if f.fix is None else {"kind": "reorder", "step_line": f.fix.step_line,
                                           "insert": list(f.fix.insert), "moved_lines": list(f.fix.moved)},
        "why_not": f.why_not,
    }
