"""Options every building command takes, declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def build_options(target_help: str = "Build only up to this stage.") -> Callable[[F], F]:
    """--builder, --build-arg, --target and --docker-host, in that order."""

    def decorate(f: F) -> F:
        for option in reversed((
            click.option("--builder", type=click.Choice(["buildkit", "classic"]), default="buildkit",
                         show_default=True),
            click.option("--build-arg", "build_args", multiple=True, help="NAME=VALUE, repeatable."),
            click.option("--target", help=target_help),
            click.option("--docker-host", help="Engine address (default: DOCKER_HOST and the SDK's environment)."),
        )):
            f = option(f)
        return f

    return decorate
