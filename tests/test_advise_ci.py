"""advise for CI: SARIF 2.1.0 for code scanning, GitHub annotations, and --fail-on's exit status."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
from click.testing import CliRunner

from cacheprof.cli import main
from cacheprof.render.findings_ci import failing, github_annotations, sarif
from tests.conftest import FIXTURES

CASE = FIXTURES / "advise-corpus" / "01-pip-copy-all"
CLEAN = FIXTURES / "python-app"

# The parts of the SARIF 2.1.0 schema code scanning reads (the full schema is not fetched: no network).
SARIF_MIN = {
    "type": "object", "required": ["version", "runs"],
    "properties": {"version": {"const": "2.1.0"}, "runs": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["tool", "results"],
        "properties": {
            "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                "type": "object", "required": ["name", "rules"]}}},
            "results": {"type": "array", "items": {
                "type": "object", "required": ["ruleId", "level", "message", "locations"],
                "properties": {
                    "level": {"enum": ["none", "note", "warning", "error"]},
                    "message": {"type": "object", "required": ["text"]},
                    "locations": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": {
                        "physicalLocation": {"type": "object", "required": ["artifactLocation", "region"],
                                             "properties": {"region": {"type": "object", "required": ["startLine"],
                                                                       "properties": {"startLine": {
                                                                           "type": "integer", "minimum": 1}}}}}}}}}}}},
    }}},
}


def finding(rule: str = "copy-before-install", severity: str = "problem", line: int = 4,
            message: str = "COPY . . comes before RUN pip install", suggestion: str = "Copy requirements.txt first.",
            ) -> SimpleNamespace:
    return SimpleNamespace(rule=rule, severity=severity, line=line, message=message, suggestion=suggestion)


def test_sarif_document(tmp_path: Path):
    df = tmp_path / "app" / "Dockerfile"
    df.parent.mkdir()
    df.write_text("FROM x\n")
    doc = sarif([finding(), finding("early-cache-bust", "warning", 2)], df, "1.0", root=tmp_path)
    jsonschema.validate(doc, SARIF_MIN)
    results = doc["runs"][0]["results"]
    assert [r["level"] for r in results] == ["error", "warning"]
    loc = results[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "app/Dockerfile" and loc["region"]["startLine"] == 4
    assert [r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]] == ["copy-before-install", "early-cache-bust"]


def test_github_annotations_escape_what_would_break_the_command(tmp_path: Path):
    df = tmp_path / "Dockerfile"
    lines = github_annotations([finding(message="50% slower,\nsee: line 4")], df, root=tmp_path)
    assert lines == ["::warning file=Dockerfile,line=4,title=cacheprof copy-before-install::50%25 slower,%0Asee: "
                     "line 4 Copy requirements.txt first."]


def test_fail_on_thresholds():
    found = [finding(severity="warning"), finding(severity="problem")]
    assert len(failing(found, "warning")) == 2 and len(failing(found, "problem")) == 1
    assert failing([finding(severity="warning")], "problem") == [] and failing(found, None) == []


def run(*args: str):
    return CliRunner().invoke(main, ["advise", *args])


def test_advise_sarif_on_a_corpus_case_validates_and_names_the_line():
    r = run(str(CASE / "context"), "-f", str(CASE / "Dockerfile"), "--format", "sarif")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    jsonschema.validate(doc, SARIF_MIN)
    expected = json.loads((CASE / "expected.json").read_text())["findings"]
    assert [(x["ruleId"], x["locations"][0]["physicalLocation"]["region"]["startLine"])
            for x in doc["runs"][0]["results"]] == [(f["rule"], f["line"]) for f in expected]


@pytest.mark.parametrize("fail_on, code", [("problem", 1), ("warning", 1), (None, 0)])
def test_fail_on_exits_non_zero_and_annotations_print(fail_on: str | None, code: int):
    args = [str(CASE / "context"), "-f", str(CASE / "Dockerfile"), "--annotations", "github"]
    r = run(*args, *(["--fail-on", fail_on] if fail_on else []))
    assert r.exit_code == code, r.output
    assert any(line.startswith("::warning file=") and ",line=4," in line for line in r.stdout.splitlines())
    if code:
        assert "--fail-on" in r.stderr


def test_fail_on_passes_a_clean_dockerfile():
    r = run(str(CLEAN), "--fail-on", "warning", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["findings"] == []
