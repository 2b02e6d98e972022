"""The advise corpus (fixtures/advise-corpus): every case's expected findings were written before the tool ran
on it. Recall and precision over the whole corpus, no finding on a clean file, a rewrite exactly where the
expert said one is safe, and every offered rewrite keeps every original line and parses."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from cacheprof.advise.rewrite import rewrite
from cacheprof.advise.rules import find_problems
from cacheprof.advise.scan import scan_context
from cacheprof.dockerfile import parse_text
from tests.conftest import FIXTURES

CORPUS = FIXTURES / "advise-corpus"
CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir())


def run_case(case: Path):
    text = (case / "Dockerfile").read_text()
    model = parse_text(text, str(case / "Dockerfile"))
    findings = find_problems(model, scan_context(case / "context"))
    return text, model, findings, json.loads((case / "expected.json").read_text())


def key(rule: str, line: int, related: int | None) -> tuple[str, int, int | None]:
    return (rule, line, related)


@pytest.fixture(scope="module")
def results():
    return {case.name: run_case(case) for case in CASES}


def test_the_corpus_is_what_the_issue_asks_for():
    expected = [json.loads((c / "expected.json").read_text()) for c in CASES]
    assert len(CASES) >= 40
    # git keeps no empty folder: a context without a tracked file would be missing from a clean clone.
    assert [c.name for c in CASES if not any((c / "context").iterdir())] == []
    assert sum(e["clean"] for e in expected) * 3 >= len(CASES)
    ecosystems = {e["ecosystem"] for e in expected}
    assert {"pip", "poetry", "uv", "npm", "yarn", "pnpm", "go", "cargo", "maven", "gradle", "bundler", "composer",
            "dotnet"} <= ecosystems
    rules = Counter(f["rule"] for e in expected for f in e["findings"])
    assert set(rules) == {"copy-before-install", "deps-in-build", "copy-before-setup", "volatile-arg", "remote-add"}


def test_recall_and_precision(results):
    expected = {(name, key(f["rule"], f["line"], f["related_line"]))
                for name, (_, _, _, exp) in results.items() for f in exp["findings"]}
    found = {(name, key(f.rule, f.line, f.related_line)) for name, (_, _, fs, _) in results.items() for f in fs}
    n_found = sum(len(fs) for _, _, fs, _ in results.values())
    recall = len(expected & found) / len(expected)
    precision = len(expected & found) / n_found if n_found else 1.0
    missed = sorted(expected - found)
    wrong = sorted(found - expected)
    assert recall >= 0.90, f"recall {recall:.0%} ({len(expected)} expected); missed {missed}"
    assert precision >= 0.95, f"precision {precision:.0%} ({n_found} found); wrong {wrong}"


@pytest.mark.parametrize("case", [c for c in CASES if json.loads((c / "expected.json").read_text())["clean"]],
                         ids=lambda c: c.name)
def test_a_clean_file_has_no_finding(case):
    _, _, findings, _ = run_case(case)
    assert [(f.rule, f.line, f.message) for f in findings] == []


def test_a_rewrite_exactly_where_the_expert_said_it_is_safe(results):
    wrong = []
    for name, (_, _, findings, exp) in results.items():
        by_key = {key(f.rule, f.line, f.related_line): f for f in findings}
        for e in exp["findings"]:
            f = by_key.get(key(e["rule"], e["line"], e["related_line"]))
            if f is not None and (f.fix is not None) != e["fix"]:
                wrong.append((name, e["rule"], e["line"], "offered" if f.fix else f"refused: {f.why_not}"))
        # Never a rewrite for a finding the expert did not expect.
        wrong += [(name, f.rule, f.line, "unexpected rewrite") for f in findings if f.fix is not None
                  and key(f.rule, f.line, f.related_line) not in
                  {key(e["rule"], e["line"], e["related_line"]) for e in exp["findings"]}]
    assert wrong == []


def test_every_refusal_says_why_and_new_steps_are_never_reorders(results):
    for name, (_, _, findings, _) in results.items():
        for f in findings:
            assert f.severity in ("problem", "warning", "info")
            if f.fix is None:
                assert f.why_not, (name, f.rule)
            if f.rule == "deps-in-build":
                assert f.fix is None and "new step" in f.message and "reorder" not in f.suggestion.split(
                    "(a new step, not a reorder)")[0], (name, f.suggestion)
                assert "\n    RUN " in f.suggestion, (name, f.suggestion)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_rewrite_keeps_every_line_and_parses(case):
    text, model, findings, _ = run_case(case)
    proposed = rewrite(model, text, findings)
    if not any(f.fix for f in findings):
        assert proposed == text
        return
    assert proposed != text
    parse_text(proposed, "proposed")
    before, after = Counter(text.splitlines()), Counter(proposed.splitlines())
    assert not before - after, "a line was lost"
    added = after - before
    assert all(line.startswith("COPY ") for line in added.elements()), added
