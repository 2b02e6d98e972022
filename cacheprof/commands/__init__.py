"""The CLI's commands, one module each, loaded only when run (or listed by --help): `profile` must not
pay for importing the log parsers, the advice rules or the report stack before its builds."""

from __future__ import annotations

import importlib

import click

# command name -> module in this package holding a click command of that name
COMMANDS: dict[str, str] = {
    "profile": "profile_cmd",
    "parse": "parse_cmd",
    "compare": "compare_cmd",
    "report": "report_cmd",
    "advise": "advise_cmd",
    "bench": "bench_cmd",
    "explain": "explain_cmd",
    "history": "history_cmd",
    "clean": "clean_cmd",
}


def load(name: str) -> click.Command | None:
    module = COMMANDS.get(name)
    if module is None:
        return None
    command = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    assert isinstance(command, click.Command)
    return command
