"""CI outputs: the job summary renders as GitHub-flavoured Markdown with no relative image (a job summary has
no files beside it), and `compare A/profile.json B/profile.json` compares two saved profiles offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from cacheprof.analysis.compare import compare_profiles
from cacheprof.analysis.profile_stats import analyze
from cacheprof.cli import main
from cacheprof.render.summary import compare_summary, profile_summary, text_bar
from cacheprof.store.profile_json import dumps
from tests.conftest import DATA, FIXTURES
from tests.test_report_browser import good_profile, naive_profile


def rendered_tokens(md: str) -> list:
    gfm = MarkdownIt("gfm-like") if _has_linkify() else MarkdownIt("commonmark").enable("table")
    tokens = gfm.parse(md)
    return [t for tok in tokens for t in [tok, *(tok.children or [])]]


def _has_linkify() -> bool:
    try:
        import linkify_it  # noqa: F401
    except ImportError:
        return False
    return True


def assert_no_relative_images(md: str) -> None:
    images = [t for t in rendered_tokens(md) if t.type == "image"]
    relative = [t.attrGet("src") for t in images
                if not str(t.attrGet("src")).startswith(("https://", "http://", "data:"))]
    assert not relative, f"relative image links show as broken images in a job summary: {relative}"
    # And no raw <img> pointing at a file either.
    assert "<img" not in md


def test_profile_summary_is_gfm_with_the_answer_first_and_no_images():
    p = naive_profile()
    md = profile_summary(p, analyze(p))
    assert_no_relative_images(md)
    tokens = rendered_tokens(md)
    assert any(t.type == "table_open" for t in tokens)  # tables render as tables
    assert md.index("An edit of app/main.py") < md.index("| scenario |")
    assert "<details>" in md and "</details>" in md


def test_compare_summary_is_gfm_with_the_verdict_first():
    md = compare_summary(compare_profiles(naive_profile(), good_profile()))
    assert_no_relative_images(md)
    assert md.split("\n")[2].startswith("**AFTER is ") and "faster on edit:app/main.py" in md.split("\n")[2]
    assert sum(t.type == "table_open" for t in rendered_tokens(md)) == 1


def test_the_markdown_report_itself_would_fail_the_check(tmp_path: Path):
    """The check can fail: report.md links its PNG files relatively, which a job summary cannot show."""
    from cacheprof.render.writer import write_report

    write_report(naive_profile(), tmp_path / "r", workers=1)
    with pytest.raises(AssertionError, match="relative image"):
        assert_no_relative_images((tmp_path / "r" / "report.md").read_text())


def test_text_bars():
    assert text_bar(1.0, 1.0, 8) == "\u2588" * 8
    assert text_bar(0.5, 1.0, 8) == "\u2588" * 4
    assert text_bar(0.0, 1.0) == "" and text_bar(1.0, 0.0) == ""
    assert len(text_bar(0.3, 1.0, 10)) == 3


def test_profile_appends_its_summary_to_github_step_summary(tmp_path: Path):
    rec = DATA / "streams" / "buildkit-python-app"
    ctx = tmp_path / "ctx"
    shutil.copytree(FIXTURES / "python-app", ctx)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    r = CliRunner().invoke(main, ["profile", str(ctx), "-f", str(rec / "Dockerfile"), "--replay", str(rec), "-q",
                                  "-s", "cold", "-s", "warm", "-s", "edit:app/main.py", "--out", str(tmp_path / "o")],
                           env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert r.exit_code == 0, r.output
    text = summary.read_text()
    assert text.startswith("earlier step\n## cacheprof profile:")  # appended, as GitHub expects
    assert_no_relative_images(text)


def test_offline_compare_of_two_saved_profiles(tmp_path: Path):
    a, b = tmp_path / "a" / "profile.json", tmp_path / "b" / "profile.json"
    for path, prof in ((a, naive_profile()), (b, good_profile())):
        path.parent.mkdir()
        path.write_text(dumps(prof))
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["compare", str(a), str(b), "--out", str(out), "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    edit = next(s for s in doc["scenarios"] if s["scenario"] == "edit:app/main.py")
    assert edit["verdict"] == "faster"
    assert any("RUN pip install" in c["instruction"] for c in doc["step_changes"])
    assert (out / "compare.html").is_file() and (out / "compare.json").is_file()
    table = CliRunner().invoke(main, ["compare", str(a), str(b), "--out", str(tmp_path / "out2")])
    assert "AFTER is" in table.stdout and "faster on edit:app/main.py" in table.stdout


def test_offline_compare_refuses_a_mix(tmp_path: Path):
    a = tmp_path / "a.json"
    a.write_text(dumps(naive_profile()))
    r = CliRunner().invoke(main, ["compare", str(a), str(FIXTURES / "python-app" / "Dockerfile")])
    assert r.exit_code == 2 and "not one of each" in r.stderr
