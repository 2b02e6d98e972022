"""docker compose / buildx bake vertex labels: `[web builder 2/6] RUN …` carries a service (or target) first.

A bake or compose build is one solve for several services; BuildKit's own names get the service put in
front: `[web internal] load …`, `[web] exporting to image`, `[web 2/5] …` (single stage), `[web builder
2/6] …`, `[web stage-1 4/7] …`. Two-part labels are ambiguous (`[builder 2/6]` is a plain stage), so a
first word counts as a service only once the log named it as one (`[web internal]`, `[web] …`).
"""

from __future__ import annotations

import re

SERVICE_NAME = re.compile(r"^\[([^\s\]]+)(?: internal)?\] ")
POSITION = re.compile(r"\d+/\d+$")
STEP_LABEL = re.compile(r"^\[([^\s\]]+) (?:([^\s\]]+) )?\s*(\d+/\d+)\] ", re.S)


def service_of(name: str) -> str | None:
    """The service an internal/export vertex names (`[web internal] load …`, `[web] exporting …`)."""
    m = SERVICE_NAME.match(name)
    if m is None or m.group(1) == "internal" or POSITION.match(m.group(1)):
        return None  # `[internal] …`, or a step of an unnamed stage (`[10/13] RUN …`)
    return m.group(1)


def split_service(name: str, services: set[str] | frozenset[str]) -> tuple[str | None, str]:
    """(service, the vertex name as BuildKit alone would print it) for a step or internal vertex."""
    if not services or not name.startswith("["):
        return None, name
    m = SERVICE_NAME.match(name)
    if m is not None and m.group(1) in services:
        rest = name[m.end():]
        internal = name[: m.end()].endswith(" internal] ")
        return m.group(1), ("[internal] " + rest) if internal else rest
    m = STEP_LABEL.match(name)
    if m is None or m.group(1) not in services:
        return None, name
    stage = f"{m.group(2)} " if m.group(2) else ""
    return m.group(1), f"[{stage}{m.group(3)}] {name[m.end():]}"
