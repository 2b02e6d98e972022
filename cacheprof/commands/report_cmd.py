"""`cacheprof report PROFILE.json`: render a report folder again from saved data, without Docker."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError


@click.command("report")
@click.argument("profile_path", metavar="PROFILE.json", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder to write the report into. Default: the folder holding PROFILE.json.")
def report(profile_path: Path, out_dir: Path | None) -> None:
    """Render report.html, report.md, charts and steps.csv from a saved profile.json."""
    from ..render.writer import write_report
    from ..store import profile_json

    # Our own checks (not click.Path(exists=True)) so every bad input is one line and exit 2.
    profile = profile_json.load(profile_path)
    out = out_dir if out_dir is not None else profile_path.resolve().parent
    # Never rewrite the file we read: it may hold fields this version does not know.
    target = out / "profile.json"
    in_place = target.exists() and target.resolve() == profile_path.resolve()
    if target.exists() and not in_place:
        raise UsageError(f"{out} already holds another run's profile.json; it is never overwritten: pass a new "
                         "or empty --out, or render in place with no --out")
    try:
        written = write_report(profile, out, write_profile=not in_place)
    except OSError as e:
        raise UsageError(f"cannot write the report folder {out}: {e.strerror}; pass a writable --out") from None
    click.echo(f"wrote {len(written)} files to {out}")
    click.echo(f"report: {out / 'report.html'}")
