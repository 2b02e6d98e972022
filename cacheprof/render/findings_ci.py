"""Advice findings for CI: SARIF 2.1.0 (code scanning) and GitHub workflow-command annotations. Pure: text
and documents from the findings' fields (rule, severity, line, message, suggestion)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# Severities in order; --fail-on names the lowest that fails.
SEVERITY_RANK = {"INFO": 0, "WARNING": 1, "PROBLEM": 2}
_SARIF_LEVEL = {"PROBLEM": "error", "WARNING": "warning", "INFO": "note"}
_GITHUB_LEVEL = {"PROBLEM": "warning", "WARNING": "warning", "INFO": "notice"}


class FindingLike(Protocol):
    rule: str
    severity: str
    line: int
    message: str
    suggestion: str


def artifact_uri(dockerfile: Path, root: Path | None = None) -> str:
    """The Dockerfile relative to the repository root (the current folder), as code scanning wants it."""
    root = root or Path.cwd()
    rel = os.path.relpath(dockerfile.resolve(), root.resolve())
    return Path(rel).as_posix() if not rel.startswith("..") else dockerfile.resolve().as_uri()


def sarif(findings: Sequence[FindingLike], dockerfile: Path, version: str, root: Path | None = None) -> dict[str, Any]:
    uri = artifact_uri(dockerfile, root)
    rules = sorted({f.rule for f in findings})
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "cacheprof", "version": version,
                "rules": [{"id": r, "name": r, "shortDescription": {"text": f"cacheprof cache-order rule {r}"}}
                          for r in rules],
            }},
            "results": [{
                "ruleId": f.rule,
                "ruleIndex": rules.index(f.rule),
                "level": _SARIF_LEVEL.get(f.severity.upper(), "warning"),
                "message": {"text": f"{f.message} {f.suggestion}".strip()},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri},
                                                    "region": {"startLine": max(f.line, 1)}}}],
            } for f in findings],
        }],
    }


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(findings: Sequence[FindingLike], dockerfile: Path, root: Path | None = None) -> list[str]:
    """`::warning file=Dockerfile,line=N,title=...::message`, one per finding (GitHub workflow commands)."""
    uri = artifact_uri(dockerfile, root)
    file = uri if not uri.startswith("file:") else str(dockerfile)
    return [f"::{_GITHUB_LEVEL.get(f.severity.upper(), 'warning')} file={_escape_property(file)},line={max(f.line, 1)},"
            f"title={_escape_property('cacheprof ' + f.rule)}::{_escape_data(f'{f.message} {f.suggestion}'.strip())}"
            for f in findings]


def failing(findings: Sequence[FindingLike], fail_on: str | None) -> list[FindingLike]:
    """The findings at or above `fail_on` (problem | warning)."""
    if fail_on is None:
        return []
    floor = SEVERITY_RANK[fail_on.upper()]
    return [f for f in findings if SEVERITY_RANK.get(f.severity.upper(), 0) >= floor]
