"""The CLI's commands, one module each. Add a command by adding its module to _MODULES."""

from __future__ import annotations

import importlib

import click

# module name -> attribute holding the click command
_MODULES: dict[str, str] = {
    "profile_cmd": "profile",
    "parse_cmd": "parse",
    "compare_cmd": "compare",
    "report_cmd": "report",
    "advise_cmd": "advise",
}


def all_commands() -> list[click.Command]:
    return [getattr(importlib.import_module(f"{__name__}.{m}"), attr) for m, attr in _MODULES.items()]
