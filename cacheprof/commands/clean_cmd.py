"""`cacheprof clean`: remove what cacheprof runs left on an engine (after a SIGKILL, say), and only that."""

from __future__ import annotations

import click

from ..errors import CleanupIncomplete


@click.command("clean")
@click.option("--docker-host", help="Engine address (default: DOCKER_HOST and the SDK's environment).")
def clean(docker_host: str | None) -> None:
    """Remove the images and containers cacheprof runs left behind: images of runs that could not clean up
    (kept in a ledger under the user cache folder), images labelled org.cacheprof.run by their cacheprof
    tags, and labelled export containers. Runs still in progress and everything else are left alone."""
    from ..capture.cleanup import clean as clean_engine
    from ..capture.driver import DockerDriver

    driver = DockerDriver(docker_host)
    try:
        report = clean_engine(driver)
    finally:
        driver.close()
    for ref in report.removed:
        click.echo(f"removed {ref}")
    if report.running:
        click.echo(f"left alone: {len(report.running)} run(s) still in progress ({', '.join(report.running)})",
                   err=True)
    if not report.removed:
        click.echo("nothing of cacheprof's to remove", err=True)
    if report.left:
        raise CleanupIncomplete(
            f"could not remove {len(report.left)}: " + ", ".join(f"{x.ref} ({x.reason})" for x in report.left[:5]))
