"""The click CLI: thin. Each command parses options, calls the library, and renders.

Errors of the CacheprofError family become one line on stderr and their exit status; any other
exception too, unless --debug asks for the traceback.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from typing import Any

import click

from .errors import CacheprofError, Stopped


def _stop(signum: int, _frame: object) -> None:
    raise Stopped(signum, signal.Signals(signum).name)


def handle_stop_signals() -> None:
    """SIGTERM (CI timeouts, `kill`) and SIGHUP (a closed terminal) stop a run as Ctrl-C does: clean up,
    write what was measured, exit with 128+signal."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)


def _quiet_exit(code: int) -> None:
    """stdout/stderr is a closed pipe (`cacheprof ... | head`): nothing more can be said; exit quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        try:
            os.dup2(devnull, fd)
        except OSError:
            pass
    os._exit(code)


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        from .commands import COMMANDS

        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from .commands import load

        return load(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return self._invoke(ctx)
        finally:
            # Every object made so far lives until exit: spare the interpreter's last collection of
            # pandas' and matplotlib's many objects (~0.4 s at exit after a report).
            gc.freeze()

    def _invoke(self, ctx: click.Context) -> Any:
        handle_stop_signals()
        try:
            return self._invoke_reporting(ctx)
        except BrokenPipeError:
            _quiet_exit(128 + signal.SIGPIPE)

    def _invoke_reporting(self, ctx: click.Context) -> Any:
        def debug() -> bool:  # known only once the group's callback has run
            return bool(ctx.obj and ctx.obj.get("debug"))

        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # here, not at exit: a closed pipe is then ours to handle
            return result
        except BrokenPipeError:
            # `cacheprof ... | head -2`: the reader left. What was measured is on disk already (reports are
            # written before stdout); exit quietly, as a Ctrl-C would, without a traceback at shutdown.
            _quiet_stdout()
            ctx.exit(141)
        except CacheprofError as e:
            if debug():
                raise
            click.echo(f"cacheprof: error: {e.message}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt as e:
            if debug():
                raise
            if isinstance(e, Stopped):
                click.echo(f"cacheprof: stopped by {e.name}", err=True)
                ctx.exit(128 + e.signum)
            click.echo("cacheprof: interrupted", err=True)
            ctx.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as e:  # a bug: still one line, unless --debug
            if debug():
                raise
            click.echo(
                f"cacheprof: internal error: {type(e).__name__}: {e} (run again with --debug for the traceback)",
                err=True,
            )
            ctx.exit(70)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


@click.group(cls=_Group)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="cacheprof")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Measure what Docker's build cache does for a Dockerfile, on real builds."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
