"""Apply the offered reorders to the Dockerfile text; every other line is kept byte for byte.

A reorder puts its new COPY lines right before the dependency step (before the comments above it) and moves
the sources COPYs, with the comment lines right above each, to right after that step. The result is parsed
again; a rewrite that does not parse is not offered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ..dockerfile import DockerfileModel, parse_text
from ..errors import UsageError
from .findings import Finding, Fix


def _apply(model: DockerfileModel, text: str, fixes: list[Fix]) -> str:
    lines = text.splitlines(keepends=True)
    nl = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    spans = sorted((i.line, i.end_line) for i in (*model.global_args, *model.instructions))
    prev_end = {start: (spans[k - 1][1] if k else 0) for k, (start, _) in enumerate(spans)}
    end_of = dict(spans)

    def block(start: int) -> tuple[int, int]:
        """0-based first and last line of the instruction starting at `start`, its comments included."""
        first = start - 1
        while first - 1 >= prev_end[start] and lines[first - 1].lstrip().startswith("#") \
                and not (first - 1 == 0 and "=" in lines[0]):  # a parser directive stays first
            first -= 1
        return first, end_of[start] - 1

    def ended(chunk: list[str]) -> list[str]:
        if chunk and not chunk[-1].endswith(("\n", "\r")):
            chunk[-1] += nl
        return chunk

    before: dict[int, list[str]] = {}
    after: dict[int, list[str]] = {}
    skipped: set[int] = set()
    # Reorders that move the same COPYs (two installs after one `COPY . .`): each step gets its manifests,
    # and the COPYs go after the last of them.
    groups: dict[tuple[int, ...], list[Fix]] = {}
    for fix in fixes:
        groups.setdefault(fix.moved, []).append(fix)
    for moved, group in groups.items():
        for fix in group:
            first, _ = block(fix.step_line)
            before.setdefault(first, []).extend(line + nl for line in fix.insert)
        _, last = block(max(f.step_line for f in group))
        for start in moved:
            a, b = block(start)
            after.setdefault(last, []).extend(ended(lines[a:b + 1]))
            skipped.update(range(a, b + 1))
    out: list[str] = []
    for k, line in enumerate(lines):
        out += before.get(k, [])
        if k not in skipped:
            out.append(line)
        if k in after:
            if out and not out[-1].endswith(("\n", "\r")):
                out[-1] += nl
            out += after[k]
    result = "".join(out)
    if not text.endswith(("\n", "\r")) and result.endswith(nl):
        result = result[: -len(nl)]
    return result


def plan(model: DockerfileModel, text: str, findings: Iterable[Finding]) -> tuple[str, tuple[Finding, ...]]:
    """`text` with the offered fixes applied, and the findings with every fix that could not be applied turned
    into a refusal that says why: a finding's `fix` is offered only when the proposed Dockerfile carries it."""
    findings = tuple(findings)
    applied: list[Finding] = []
    dropped: dict[int, str] = {}
    moved_by: dict[int, tuple[int, ...]] = {}
    for n, f in enumerate(findings):
        if f.fix is None:
            continue
        # A COPY moves once: fixes that move it must move the same set (then they merge), else the first wins.
        if any(moved_by.get(m, f.fix.moved) != f.fix.moved for m in f.fix.moved) \
                or any(f.fix.step_line in a.fix.moved for a in applied if a.fix):
            dropped[n] = "another rewrite in this Dockerfile moves the same lines; apply that one and run advise again"
            continue
        moved_by.update(dict.fromkeys(f.fix.moved, f.fix.moved))
        applied.append(f)
    result = _apply(model, text, [f.fix for f in applied if f.fix]) if applied else text
    try:
        parse_text(result, model.path)
    except UsageError:  # never offer what does not parse; say so instead
        result = text
        dropped.update({n: "the rewritten Dockerfile did not parse" for n, f in enumerate(findings) if f.fix})
    out = tuple(replace(f, fix=None, why_not=dropped[n]) if n in dropped else f for n, f in enumerate(findings))
    return result, out


def rewrite(model: DockerfileModel, text: str, findings: Iterable[Finding]) -> str:
    """`text` with every offered fix that can be applied (see `plan`)."""
    return plan(model, text, findings)[0]
