"""Scenario specs: `cold`, `warm`, `edit:<glob>`, `arg:<NAME>=<VALUE>`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .errors import UsageError

ARG_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Kind(StrEnum):
    COLD = "cold"
    WARM = "warm"
    EDIT = "edit"
    ARG = "arg"


@dataclass(frozen=True)
class Scenario:
    kind: Kind
    glob: str | None = None
    arg_name: str | None = None
    arg_value: str | None = None

    @property
    def name(self) -> str:
        if self.kind is Kind.EDIT:
            return f"edit:{self.glob}"
        if self.kind is Kind.ARG:
            return f"arg:{self.arg_name}={self.arg_value}"
        return str(self.kind)


def parse_scenario(spec: str) -> Scenario:
    s = spec.strip()
    if s == "cold":
        return Scenario(Kind.COLD)
    if s == "warm":
        return Scenario(Kind.WARM)
    if s.startswith("edit:"):
        glob = s[5:].strip()
        if not glob:
            raise UsageError("scenario 'edit:' needs a glob of files to change, e.g. edit:src/*.py")
        if glob.startswith("/") or ".." in glob.split("/"):
            raise UsageError(f"scenario {spec!r}: the glob must be relative to the context, inside it")
        return Scenario(Kind.EDIT, glob=glob)
    if s.startswith("arg:"):
        body = s[4:]
        name, sep, value = body.partition("=")
        if not sep or not ARG_NAME_RE.match(name):
            raise UsageError(f"scenario {spec!r}: write it as arg:NAME=VALUE, e.g. arg:VERSION=2")
        return Scenario(Kind.ARG, arg_name=name, arg_value=value)
    raise UsageError(
        f"unknown scenario {spec!r}; use cold, warm, edit:<glob> or arg:<NAME>=<VALUE>"
    )


def parse_build_arg(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not ARG_NAME_RE.match(name):
        raise UsageError(f"--build-arg {text!r}: write it as NAME=VALUE")
    return name, value
