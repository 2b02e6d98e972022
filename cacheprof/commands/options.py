"""Options every building command takes, declared once."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import click

from ..dockerfile import DockerfileModel
from ..errors import UsageError

F = TypeVar("F", bound=Callable[..., object])


# Build args every Dockerfile may use without declaring them (docker's predefined ARGs).
PREDEFINED_ARGS = frozenset({
    *(p for name in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY") for p in (name, name.lower())),
    "BUILDKIT_INLINE_CACHE", "BUILDKIT_MULTI_PLATFORM", "BUILDKIT_SANDBOX_HOSTNAME", "BUILDKIT_SYNTAX",
    "BUILDKIT_CONTEXT_KEEP_GIT_DIR", "SOURCE_DATE_EPOCH",
})


def _env_build_args(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """`--build-arg NAME` takes NAME's value from the environment; unset, it is left out (docker does the same)."""
    import os

    out = []
    for text in values:
        if "=" in text:
            out.append(text)
        elif text in os.environ:
            out.append(f"{text}={os.environ[text]}")
        else:
            click.echo(f"cacheprof: warning: --build-arg {text}: not set in the environment, left out", err=True)
    return tuple(out)


def unused_build_args(model: DockerfileModel, names: Iterable[str]) -> list[str]:
    """The build args no ARG instruction declares (and that docker does not predefine): they change nothing."""
    declared = {tok.split("=", 1)[0] for ins in (*model.global_args, *model.instructions) if ins.cmd.upper() == "ARG"
                for tok in ins.value}
    return sorted({n for n in names if n not in declared and n not in PREDEFINED_ARGS})


def warn_unused_build_args(model: DockerfileModel, build_args: Iterable[str], arg_scenarios: Iterable[str]) -> None:
    unused = unused_build_args(model, build_args)
    if unused:
        click.echo(f"cacheprof: warning: build-args {unused} are not consumed by any ARG in {model.path}: they "
                   "change nothing", err=True)
    for name in unused_build_args(model, arg_scenarios):
        click.echo(f"cacheprof: warning: scenario arg:{name}=... measures nothing: no ARG {name} in {model.path}",
                   err=True)


def build_options(target_help: str = "Build only up to this stage.") -> Callable[[F], F]:
    """--builder, --build-arg, --target and --docker-host, in that order."""

    def decorate(f: F) -> F:
        for option in reversed((
            click.option("--builder", type=click.Choice(["buildkit", "classic"]), default="buildkit",
                         show_default=True),
            click.option("--build-arg", "build_args", multiple=True, callback=_env_build_args,
                         help="NAME=VALUE, or NAME to take the value from the environment (as docker does); "
                              "repeatable."),
            click.option("--target", help=target_help),
            click.option("--docker-host", help="Engine address (default: DOCKER_HOST and the SDK's environment)."),
        )):
            f = option(f)
        return f

    return decorate


def warmup_option() -> Callable[[F], F]:
    """--warmup N: untimed builds that put the run's own cache in place before the first measured round."""
    return click.option(
        "--warmup", "warmup", default=1, show_default=True, type=click.IntRange(0, 20),
        help="Untimed warm-up builds (per Dockerfile) before the first measured round, so warm, edit: and "
             "arg: scenarios start from a warm cache as their names say; none when the first scenario is cold "
             "(that build puts the cache in place).",
    )


def parse_min_effect(text: str) -> tuple[float, float]:
    """`5%`, `0.3s`, or both: `5%,0.3s`. Returns (ratio, seconds); a part left out keeps its default."""
    ratio, seconds = 0.05, 0.3
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(%|s)", part)
        if not m:
            raise UsageError(f"--min-effect {text!r}: write a percentage, seconds, or both, e.g. 5%,0.3s")
        if m.group(2) == "%":
            ratio = float(m.group(1)) / 100
        else:
            seconds = float(m.group(1))
    return ratio, seconds


def report_options(default: str) -> Callable[[F], F]:
    """--out, --force and --open: where the report folder goes and what happens to it afterwards."""

    def decorate(f: F) -> F:
        for option in reversed((
            click.option("--out", "out_dir", type=click.Path(path_type=Path),
                         help=f"Report folder (default: {default}, never inside the build context: "
                              "reports/ in the current folder when that is outside it, else "
                              "$XDG_CACHE_HOME/cacheprof/reports/; a new folder per run)."),
            click.option("--force", is_flag=True, help="Write into an --out folder that already holds files."),
            click.option("--open", "open_report", is_flag=True, help="Open the HTML report when done."),
        )):
            f = option(f)
        return f

    return decorate


def progress_option() -> Callable[[F], F]:
    """--progress auto|tty|plain|quiet, and -q for quiet."""

    def decorate(f: F) -> F:
        f = click.option("--quiet", "-q", is_flag=True, help="No progress on stderr (= --progress quiet).")(f)
        return click.option("--progress", type=click.Choice(["auto", "tty", "plain", "quiet"]), default="auto",
                            show_default=True,
                            help="tty: one live view that disappears when done; plain: one line per build (CI "
                                 "logs); auto: tty on a terminal, else plain.")(f)

    return decorate


def summary_option() -> Callable[[F], F]:
    """--summary FILE: a GitHub job summary (Markdown) appended to FILE; default $GITHUB_STEP_SUMMARY."""
    return click.option(
        "--summary", type=click.Path(path_type=Path), envvar="GITHUB_STEP_SUMMARY", show_envvar=True,
        help="Append a job summary (GitHub-flavoured Markdown, no image files) to this file "
             "(default: $GITHUB_STEP_SUMMARY when set).")
