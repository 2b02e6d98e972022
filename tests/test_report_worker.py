"""The report worker: renders in a child process that loaded the report stack during the builds."""

from __future__ import annotations

from pathlib import Path

from cacheprof.model import Build, Profile, Step, StepStatus
from cacheprof.render.report_worker import ReportWorker
from cacheprof.render.writer import write_profile_file


def tiny_profile() -> Profile:
    step = Step(1, "0", 1, 1, "FROM busybox:1.36", StepStatus.CACHED, duration_s=0.0)
    return Profile("classic", "Dockerfile", ".", (Build("warm", 1, True, None, 1.0, None, (step,)),),
                   scenarios=("warm",))


def test_worker_writes_the_report_from_profile_json(tmp_path: Path) -> None:
    worker = ReportWorker()
    write_profile_file(tiny_profile(), tmp_path)
    assert worker.render(tmp_path) is None
    assert (tmp_path / "report.html").is_file() and (tmp_path / "report.md").is_file()
    assert (tmp_path / "steps.csv").is_file()


def test_worker_says_why_when_it_cannot(tmp_path: Path) -> None:
    (tmp_path / "profile.json").write_text("{ truncated")
    why = ReportWorker().render(tmp_path)
    assert why is not None and "not valid JSON" in why
    assert not (tmp_path / "report.html").exists()


def test_cancelled_worker_leaves_no_process(tmp_path: Path) -> None:
    worker = ReportWorker()
    proc = worker._proc
    worker.cancel()
    assert proc is not None and proc.poll() is not None
    assert worker.render(tmp_path) == "the report worker was already used"
