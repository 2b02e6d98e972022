"""`cacheprof parse LOGFILE|-`: the per-step cache table of builds someone already ran, from their log."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..logparse import Format


@click.command("parse")
@click.argument("logfile", type=str)
@click.option("-f", "--file", "dockerfile", type=click.Path(path_type=Path),
              help="The Dockerfile that was built: steps get its line numbers and full instructions.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="json: one cacheprof/profile/v2 document on stdout and nothing else.")
@click.option("--format-in", "fmt_in", type=click.Choice([str(f) for f in Format]),
              help="The log's format (default: detected).")
def parse(logfile: str, dockerfile: Path | None, fmt: str, fmt_in: str | None) -> None:
    """Read a build log (a file, - for stdin, or a `profile --record` folder) and show, per step,
    whether the cache was used.

    \b
    Formats (detected from the first line that tells, or forced with --format-in):
      engine-json  Engine API build stream (either builder; curl captures, cacheprof recordings)
      classic      `docker build` text of the classic builder (Step N/M : ...)
      plain        BuildKit --progress=plain
      rawjson      BuildKit --progress=rawjson
      tty          BuildKit's terminal display ([+] Building ... / => [stage 2/5] ... 1.2s),
                   also a terminal recording of every frame (the last one counts)

    CI timestamps, ANSI colours, GitLab sections, `remote:` prefixes, CRLF and Markdown fences are
    removed, as is any other prefix repeated on every line; lines a console wrapped are rejoined. A
    log of several builds gives one build record each (build-1, build-2, ...); lines prefixed
    `service  | ` (docker compose) and compose/bake labels (`[web builder 2/6]`) give one per service,
    named after it. Statuses: CACHED, RUN, ERROR, CANCELED (stopped by another step's failure), PULLED
    (a FROM that downloaded), UNKNOWN (the log ended while it ran). Exit 0 when the log was read
    (whatever the builds did), 2 when it holds no build or cannot be read."""
    from ..dockerfile import load as load_dockerfile
    from ..logparse import parse_log, parse_recording, recording_engine, to_profile

    model = load_dockerfile(dockerfile) if dockerfile is not None else None
    engine = None
    if logfile == "-":
        result = parse_log(sys.stdin.buffer, model, fmt_in, name="stdin")
    elif (Path(logfile) / "builds.jsonl").is_file():
        result = parse_recording(Path(logfile), model)
        engine = recording_engine(Path(logfile))
    else:
        result = parse_log(Path(logfile), model, fmt_in)
    profile = to_profile(result, model, logfile, engine)
    if fmt == "json":
        from ..store.profile_json import dumps

        sys.stdout.write(dumps(profile))
        return
    import shutil

    from ..render.terminal import fit_width, render_profile

    # One table per build of the log, steps by Dockerfile line when -f gave one, fitted to the terminal.
    table = render_profile(profile, fit_width(shutil.get_terminal_size((80, 24)).columns))
    formats = ", ".join(sorted({str(f) for f in result.formats}))
    sys.stdout.write(f"cacheprof parse: {logfile} ({profile.builder} builder; {formats} log)\n\n")
    sys.stdout.write(table)
    if result.skipped_lines:
        click.echo(f"cacheprof: skipped {result.skipped_lines} over-long line(s)", err=True)
