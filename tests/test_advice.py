"""`cacheprof advise` without Docker: findings and exact rewritten Dockerfiles for hand-written projects,
and the command's output (table, JSON, --write, bad input). The corpus test covers the breadth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cacheprof.advise.findings import COPY_BEFORE_INSTALL, DEPS_IN_BUILD, REMOTE_ADD, VOLATILE_ARG
from cacheprof.advise.rewrite import plan, rewrite
from cacheprof.advise.rules import find_problems
from cacheprof.advise.scan import scan_context
from cacheprof.cli import main
from cacheprof.dockerfile import parse_text
from tests.conftest import FIXTURES

APP = {"app/main.py": "print('hi')\n", "app/util.py": "X = 1\n"}
CORPUS = FIXTURES / "advise-corpus"


def project(tmp_path: Path, files: dict[str, str], dockerfile: str) -> Path:
    ctx = tmp_path / "ctx"
    for rel, text in {**files, "Dockerfile": dockerfile}.items():
        p = ctx / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.encode())
    return ctx


def advise(ctx: Path, name: str = "Dockerfile"):
    text = (ctx / name).read_bytes().decode()
    model = parse_text(text, str(ctx / name))
    findings = find_problems(model, scan_context(ctx))
    return findings, rewrite(model, text, findings)


# --- reorders ------------------------------------------------------------------------------------------


def test_python_naive(tmp_path):
    ctx = project(tmp_path, {**APP, "requirements.txt": "flask\n"}, (
        "FROM python:3.12-slim\n"
        "WORKDIR /app\n"
        "# everything in\n"
        "COPY . .\n"
        "RUN pip install --no-cache-dir -r requirements.txt\n"
        'CMD ["python", "app/main.py"]\n'
    ))
    findings, proposed = advise(ctx)
    [f] = findings
    assert (f.rule, f.severity, f.stage, f.line, f.related_line) == (COPY_BEFORE_INSTALL, "problem", "0", 4, 5)
    assert f.manifests == ("requirements.txt",) and f.scenario == "edit:app/main.py"
    assert f.message == (
        "`COPY . .` (line 4) brings the sources in before `RUN pip install --no-cache-dir -r requirements.txt` "
        "(line 5), which needs only requirements.txt: any source edit re-runs the install.")
    assert proposed == (
        "FROM python:3.12-slim\n"
        "WORKDIR /app\n"
        "COPY requirements.txt ./\n"
        "RUN pip install --no-cache-dir -r requirements.txt\n"
        "# everything in\n"
        "COPY . .\n"
        'CMD ["python", "app/main.py"]\n'
    )


def test_go_download_moves_and_the_build_stays(tmp_path):
    ctx = project(tmp_path, {"go.mod": "module x\n", "go.sum": "", "cmd/app/main.go": "package main\n"}, (
        "FROM golang:1.22 AS build\nWORKDIR /src\nCOPY . .\nRUN go mod download\n"
        "RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app\n\nFROM scratch\nCOPY --from=build /out/app /app\n"
    ))
    findings, proposed = advise(ctx)
    assert [(f.rule, f.stage, f.line, f.related_line, f.manifests) for f in findings] == [
        (COPY_BEFORE_INSTALL, "build", 3, 4, ("go.mod", "go.sum"))]
    assert proposed == (
        "FROM golang:1.22 AS build\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\n"
        "RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app\n\nFROM scratch\nCOPY --from=build /out/app /app\n"
    )


def test_json_form_copy_without_workdir_keeps_its_flags(tmp_path):
    ctx = project(tmp_path, {**APP, "requirements.txt": "flask\n"}, (
        "FROM python:3.12\n"
        'COPY --chown=1000:1000 [".", "/app"]\n'
        'RUN ["pip", "install", "-r", "/app/requirements.txt"]\n'
    ))
    findings, proposed = advise(ctx)
    assert findings[0].fix is not None
    assert proposed == (
        "FROM python:3.12\n"
        "COPY --chown=1000:1000 requirements.txt /app/\n"
        'RUN ["pip", "install", "-r", "/app/requirements.txt"]\n'
        'COPY --chown=1000:1000 [".", "/app"]\n'
    )


def test_a_source_folder_copy_moves_past_workdir_env_and_label(tmp_path):
    ctx = project(tmp_path, {"src/requirements.txt": "flask\n", "src/main.py": "1\n"}, (
        "FROM python:3.12\nCOPY src/ /srv/\nWORKDIR /srv\nENV PIP_NO_CACHE_DIR=1\nLABEL a=1\n"
        "RUN pip install -r requirements.txt\n"
    ))
    findings, proposed = advise(ctx)
    assert findings[0].scenario == "edit:src/main.py"
    assert proposed == (
        "FROM python:3.12\nWORKDIR /srv\nENV PIP_NO_CACHE_DIR=1\nLABEL a=1\nCOPY src/requirements.txt ./\n"
        "RUN pip install -r requirements.txt\nCOPY src/ /srv/\n"
    )


def test_a_relative_copy_does_not_move_past_a_workdir(tmp_path):
    ctx = project(tmp_path, {**APP, "requirements.txt": "flask\n"},
                  "FROM python:3.12\nCOPY . app\nWORKDIR /app\nRUN pip install -r requirements.txt\n")
    [f] = advise(ctx)[0]
    assert f.fix is None and "would copy elsewhere" in (f.why_not or "")


def test_requirements_includes_are_copied_too(tmp_path):
    ctx = project(tmp_path, {**APP, "requirements.txt": "-r requirements/base.txt\nflask\n",
                             "requirements/base.txt": "-c ../constraints.txt\nclick\n", "constraints.txt": "x\n"}, (
        "FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\n"
    ))
    findings, proposed = advise(ctx)
    assert findings[0].manifests == ("constraints.txt", "requirements.txt", "requirements/base.txt")
    assert proposed.splitlines()[2:4] == ["COPY constraints.txt requirements.txt ./",
                                          "COPY requirements/base.txt requirements/"]


def test_dockerignored_lock_file_is_not_copied(tmp_path):
    ctx = project(tmp_path, {".dockerignore": "package-lock.json\n", "package.json": "{}\n",
                             "package-lock.json": "{}\n", "index.js": "1\n"},
                  "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm install\n")
    findings, proposed = advise(ctx)
    assert findings[0].manifests == ("package.json",)
    assert "COPY package.json ./\nRUN npm install\nCOPY . .\n" in proposed


def test_a_requirement_file_glued_to_its_flag(tmp_path):
    ctx = project(tmp_path, {**APP, "reqs/prod.txt": "flask\n"},
                  "FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN pip install -rreqs/prod.txt\n")
    findings, proposed = advise(ctx)
    assert findings[0].manifests == ("reqs/prod.txt",)
    assert "COPY reqs/prod.txt reqs/\nRUN pip install -rreqs/prod.txt\nCOPY . .\n" in proposed


@pytest.mark.parametrize(("run", "why"), [
    ("RUN pip install -r requirements.txt && python manage.py collectstatic", "manage.py"),
    ("RUN pip install -r requirements.txt && make", "`make` reads the sources"),
    ("RUN pip install -r requirements.txt && cp *.cfg /etc/", "*.cfg"),
    ("RUN pip install -r requirements.txt && sh ${PWD}/post.sh", "post.sh"),
    ("RUN pip install -r requirements.txt && ./post.sh", "post.sh"),
    ("RUN pip install -r requirements.txt && bash -c 'python manage.py migrate'", "manage.py"),
    ("RUN pip install -r requirements.txt && cp $APP/a.cfg /etc/", "a.cfg"),
])
def test_a_run_that_needs_the_sources_gets_no_rewrite(tmp_path, run, why):
    ctx = project(tmp_path, {**APP, "manage.py": "1\n", "requirements.txt": "flask\n", "a.cfg": "",
                             "post.sh": "true\n"}, f"FROM python:3.12\nENV APP=/app\nWORKDIR /app\nCOPY . .\n{run}\n")
    findings, proposed = advise(ctx)
    assert len(findings) == 1 and findings[0].fix is None
    assert why in (findings[0].why_not or ""), findings[0].why_not
    assert proposed == (ctx / "Dockerfile").read_text()


def test_two_installs_after_one_copy_both_get_their_manifests(tmp_path):
    ctx = project(tmp_path, {**APP, "requirements.txt": "flask\n", "package.json": "{}\n"}, (
        "FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nRUN npm install\n"
    ))
    findings, proposed = advise(ctx)
    assert [f.related_line for f in findings] == [4, 5] and all(f.fix for f in findings)
    assert proposed == (
        "FROM python:3.12\nWORKDIR /app\nCOPY requirements.txt ./\nRUN pip install -r requirements.txt\n"
        "COPY package.json ./\nRUN npm install\nCOPY . .\n"
    )


def test_fixes_that_move_the_same_copy_differently_keep_only_the_first(tmp_path):
    ctx = project(tmp_path, {**APP, "src/x.py": "1\n", "src/requirements.txt": "flask\n", "package.json": "{}\n"}, (
        "FROM python:3.12\nWORKDIR /app\nCOPY src ./\nRUN pip install -r requirements.txt\nCOPY . .\n"
        "RUN npm install\n"
    ))
    text = (ctx / "Dockerfile").read_text()
    model = parse_text(text)
    found = find_problems(model, scan_context(ctx))
    assert [(f.line, f.fix.moved if f.fix else None) for f in found] == [(3, (3,)), (3, (3, 5))]
    proposed, findings = plan(model, text, found)
    assert findings[0].fix is not None and findings[1].fix is None
    assert "moves the same lines" in (findings[1].why_not or "")
    assert proposed == ("FROM python:3.12\nWORKDIR /app\nCOPY src/requirements.txt ./\n"
                        "RUN pip install -r requirements.txt\nCOPY src ./\nCOPY . .\nRUN npm install\n")


def test_crlf_comments_and_a_missing_final_newline_are_kept(tmp_path):
    ctx = project(tmp_path, {**APP, "requirements.txt": "flask\n"}, (
        "FROM python:3.12\r\nWORKDIR /app\r\n\r\n# all of it\r\nCOPY . .\r\n# install\r\n"
        "RUN pip install \\\r\n    -r requirements.txt"
    ))
    _, proposed = advise(ctx)
    assert proposed == (
        "FROM python:3.12\r\nWORKDIR /app\r\n\r\n# install\r\nCOPY requirements.txt ./\r\n"
        "RUN pip install \\\r\n    -r requirements.txt\r\n# all of it\r\nCOPY . ."
    ) or proposed == (
        "FROM python:3.12\r\nWORKDIR /app\r\n\r\nCOPY requirements.txt ./\r\n# install\r\n"
        "RUN pip install \\\r\n    -r requirements.txt\r\n# all of it\r\nCOPY . ."
    )


def test_workdir_and_destination_from_env_are_followed(tmp_path):
    ctx = project(tmp_path, {**APP, "Gemfile": "source 'https://rubygems.org'\n", "Gemfile.lock": ""}, (
        'FROM ruby:3\nENV APP_HOME="/srv/app" BUNDLE_FROZEN=true\nWORKDIR $APP_HOME\nCOPY . $APP_HOME\n'
        "RUN bundle install\n"
    ))
    _, proposed = advise(ctx)
    assert proposed.endswith("COPY Gemfile Gemfile.lock ./\nRUN bundle install\nCOPY . $APP_HOME\n")


def test_a_run_that_is_no_dependency_step_is_not_a_finding(tmp_path):
    ctx = project(tmp_path, {**APP, "requirements.txt": "flask\n"},
                  "FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN python -m compileall app\n"
                  "RUN cat requirements.txt > /installed.txt\n")
    assert advise(ctx)[0] == ()


# --- new steps, build args, remote ADD -------------------------------------------------------------


def test_a_build_that_resolves_dependencies_is_a_new_step_with_its_snippet(tmp_path):
    ctx = project(tmp_path, {"pom.xml": "<project/>\n", "src/main/java/App.java": "class App {}\n"},
                  "FROM maven:3.9\nWORKDIR /b\nCOPY pom.xml .\nCOPY src ./src\nRUN mvn -B package\n")
    findings, proposed = advise(ctx)
    [f] = findings
    assert (f.rule, f.line, f.related_line, f.fix) == (DEPS_IN_BUILD, 4, 5, None)
    assert "this needs a new step, not a reorder" in f.message
    assert f.suggestion.splitlines()[1:] == ["    RUN mvn -B dependency:go-offline",
                                             "then, after the sources: mvn -B -o package"]
    assert proposed == (ctx / "Dockerfile").read_text()


@pytest.mark.parametrize(("cargo", "flagged"), [
    ("[package]\nname = 'x'\n\n[dependencies]\n# none yet\n", False),
    ("[package]\nname = 'x'\n\n[dependencies]\nserde = '1'\n", True),
    ("[package]\nname = 'x'\n\n[dependencies.serde]\nversion = '1'\n", True),
    ("[package]\nname = 'x'\n\n[target.'cfg(unix)'.dependencies]\nlibc = '0.2'\n", True),
    ("[workspace]\nmembers = ['a']\n", True),
])
def test_a_cargo_build_with_nothing_to_fetch_is_no_finding(tmp_path, cargo, flagged):
    ctx = project(tmp_path, {"Cargo.toml": cargo, "src/main.rs": "fn main() {}\n"},
                  "FROM rust\nWORKDIR /app\nCOPY . .\nRUN cargo build --release\n")
    assert [f.rule for f in advise(ctx)[0]] == ([DEPS_IN_BUILD] if flagged else [])


def test_volatile_arg_through_env_and_stages_and_remote_add(tmp_path):
    ctx = project(tmp_path, {"x.txt": "1\n"}, (
        "FROM busybox:1.36 AS base\n"
        "ARG GIT_SHA\n"
        "ENV REVISION=$GIT_SHA\n"
        "ADD https://example.com/latest/tool.tar.gz /opt/\n"
        "FROM base\n"
        "RUN apt-get install -y curl\n"
        "COPY x.txt /x\n"
    ))
    findings, proposed = advise(ctx)
    assert [(f.rule, f.severity, f.line, f.related_line) for f in findings] == [
        (VOLATILE_ARG, "warning", 3, 6)]
    # The ADD has no step after it in its own stage; the next stage only inherits its result.
    assert "if this value changes per build" in findings[0].message
    assert findings[0].suggestion == (
        "Set REVISION (from GIT_SHA) after line 6 (nothing after it names REVISION), or drop it.")
    assert all(f.fix is None and f.why_not for f in findings)
    assert proposed == (ctx / "Dockerfile").read_text()

    ctx = project(tmp_path / "b", {}, "FROM busybox:1.36\nADD https://example.com/latest/tool.tar.gz /opt/\n"
                                      "RUN tar -xzf /opt/tool.tar.gz\n"
                                      "ADD https://example.com/tool-1.2.3.tar.gz /opt/\nRUN true\n")
    assert [(f.rule, f.line) for f in advise(ctx)[0]] == [(REMOTE_ADD, 2)]


def test_an_arg_is_never_advised_past_the_step_that_uses_it():
    [f] = advise(CORPUS / "58-arg-version-used-late" / "context", "../Dockerfile")[0]
    assert (f.severity, f.line, f.related_line) == ("warning", 3, 5)
    assert f.suggestion.startswith("Declare it after line 5, just before line 7, the first step that uses it")


def test_an_arg_with_a_fixed_default_is_info_only(tmp_path):
    ctx = project(tmp_path, {}, "FROM python:3.12\nARG APP_HOME=/srv\nRUN apt-get install -y git\nWORKDIR $APP_HOME\n")
    [f] = advise(ctx)[0]
    assert (f.rule, f.severity, f.line, f.related_line) == (VOLATILE_ARG, "info", 2, 3)


@pytest.mark.parametrize(("run", "lock", "why"), [
    ("RUN npm install", "package-lock.json", "`npm install` may rewrite package-lock.json"),
    ("RUN yarn install", "yarn.lock", "without --frozen-lockfile may rewrite yarn.lock"),
    ("RUN bundle install", "Gemfile.lock", "may rewrite Gemfile.lock"),
    ("RUN pipenv install --system", "Pipfile.lock", "without --deploy may rewrite Pipfile.lock"),
])
def test_an_install_that_may_rewrite_a_sent_lock_file_gets_no_rewrite(tmp_path, run, lock, why):
    files = {**APP, "package.json": "{}\n", "Gemfile": "", "Pipfile": "", lock: "x\n"}
    ctx = project(tmp_path, files, f"FROM x\nWORKDIR /app\nCOPY . .\n{run}\n")
    [f] = advise(ctx)[0]
    assert f.fix is None and why in (f.why_not or ""), f.why_not
    frozen = {"RUN npm install": "RUN npm ci", "RUN yarn install": "RUN yarn install --frozen-lockfile",
              "RUN bundle install": "RUN bundle install --frozen",
              "RUN pipenv install --system": "RUN pipenv install --system --deploy"}[run]
    ctx = project(tmp_path / "frozen", files, f"FROM x\nWORKDIR /app\nCOPY . .\n{frozen}\n")
    [f] = advise(ctx)[0]
    assert f.fix is not None, f.why_not


def test_pip_reads_the_constraint_file_named_by_its_environment(tmp_path):
    ctx = project(tmp_path, {**APP, "requirements.txt": "flask\n", "constraints.txt": "flask<4\n"},
                  "FROM x\nENV PIP_CONSTRAINT=constraints.txt\nWORKDIR /app\nCOPY . .\n"
                  "RUN pip install -r requirements.txt\n")
    [f] = advise(ctx)[0]
    assert f.manifests == ("constraints.txt", "requirements.txt") and f.fix is not None
    assert f.fix.insert == ("COPY constraints.txt requirements.txt ./",)


@pytest.mark.parametrize(("files", "run", "why"), [
    ({"package.json": '{"dependencies": {"ui": "file:./libs/ui"}}', "package-lock.json": "{}", "libs/ui/x.js": ""},
     "RUN npm ci", "from a local folder"),
    ({"package.json": '{"pnpm": {"patchedDependencies": {"a@1": "patches/a.patch"}}}', "pnpm-lock.yaml": "",
      "patches/a.patch": ""}, "RUN pnpm install --frozen-lockfile", "patchedDependencies"),
    ({"pyproject.toml": '[tool.poetry.dependencies]\nlib = { path = "./lib", develop = true }\n', "poetry.lock": ""},
     "RUN poetry install --no-root", "local path"),
    ({"pyproject.toml": "[tool.uv.workspace]\nmembers = ['pkgs/*']\n", "uv.lock": ""},
     "RUN uv sync --locked --no-install-project", "uv workspace"),
    ({"composer.json": '{"repositories": [{"type": "path", "url": "./packages/*"}]}', "composer.lock": "{}"},
     "RUN composer install --no-scripts --no-autoloader", "path repository"),
    ({"build.gradle": "", "settings.gradle": "", "buildSrc/build.gradle": ""}, "RUN gradle dependencies",
     "buildSrc"),
    ({"build.gradle": "", "settings.gradle": "includeBuild('../plugins')\n"}, "RUN gradle dependencies",
     "multi-project"),
])
def test_a_dependency_from_a_local_folder_gets_no_rewrite(tmp_path, files, run, why):
    ctx = project(tmp_path, {**APP, **files}, f"FROM x\nWORKDIR /app\nCOPY . .\n{run}\n")
    [f] = advise(ctx)[0]
    assert f.rule == COPY_BEFORE_INSTALL and f.fix is None and why in (f.why_not or ""), f.why_not


def test_a_dependency_step_whose_manifests_are_not_sent_gets_no_rewrite(tmp_path):
    ctx = project(tmp_path, {**APP, ".dockerignore": "Gemfile*\n", "Gemfile": "", "Gemfile.lock": ""},
                  "FROM ruby:3\nWORKDIR /app\nCOPY . .\nRUN if test -f Gemfile.lock; then bundle install; fi\n")
    [f] = advise(ctx)[0]
    assert f.fix is None and "not in what the context sends" in (f.why_not or "")


def test_an_arg_used_by_the_expensive_step_or_read_by_the_tools_is_no_finding(tmp_path):
    ctx = project(tmp_path, {}, (
        "FROM python:3.12\nARG DEBIAN_FRONTEND=noninteractive\nARG TARGETARCH\nARG TOOL_VERSION=1.2\n"
        "RUN apt-get install -y build-essential-$TOOL_VERSION\n"
    ))
    assert advise(ctx)[0] == ()


def test_a_date_in_a_run_is_no_cache_buster(tmp_path):
    # The RUN's text does not change, so it is CACHED like any other step (measured on both builders).
    ctx = project(tmp_path, {}, "FROM busybox:1.36\nRUN date > /built\nRUN sleep 1\n")
    assert advise(ctx)[0] == ()


# --- the command ---------------------------------------------------------------------------------------


def cli(*args: str):
    return CliRunner().invoke(main, ["advise", *args])


CASE = CORPUS / "01-pip-copy-all"


def test_cli_table_prints_the_finding_and_the_diff():
    r = cli(str(CASE / "context"), "-f", str(CASE / "Dockerfile"))
    assert r.exit_code == 0, r.output
    assert "1 finding(s)" in r.stdout and "[problem] copy-before-install: stage 0, line 4" in r.stdout
    assert "shows on: edit:app/main.py" in r.stdout
    assert "+COPY requirements.txt ./\n+RUN pip install --no-cache-dir -r requirements.txt\n COPY . .\n" in r.stdout


def test_cli_table_says_why_there_is_no_rewrite():
    case = CORPUS / "24-maven-pom-alone-then-src"
    r = cli(str(case / "context"), "-f", str(case / "Dockerfile"))
    assert r.exit_code == 0, r.output
    assert "deps-in-build" in r.stdout and "    RUN mvn -B dependency:go-offline" in r.stdout
    assert "no rewrite: a new step, not a reorder" in r.stdout and "no automatic rewrite" in r.stdout


def test_cli_json_and_write(tmp_path):
    out = tmp_path / "Dockerfile.fixed"
    r = cli(str(CASE / "context"), "-f", str(CASE / "Dockerfile"), "--format", "json", "--write", str(out))
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["schema"] == "cacheprof/advice/v2"
    assert doc["changed"] is True and doc["measure"] is None
    assert out.read_text() == doc["proposed_dockerfile"]
    [f] = doc["findings"]
    assert {k: f[k] for k in ("rule", "severity", "line", "related_line", "why_not")} == {
        "rule": "copy-before-install", "severity": "problem", "line": 4, "related_line": 5, "why_not": None}
    assert f["message"] and f["suggestion"].startswith("Copy requirements.txt first")
    assert f["fix"] == {"kind": "reorder", "step_line": 5, "insert": ["COPY requirements.txt ./"],
                        "moved_lines": [4]}

    case = CORPUS / "40-npm-node-modules-sent"
    [f] = json.loads(cli(str(case / "context"), "-f", str(case / "Dockerfile"), "--format", "json").stdout)["findings"]
    assert f["fix"] is None and "node_modules" in f["why_not"]

    again = cli(str(CASE / "context"), "-f", str(CASE / "Dockerfile"), "--write", str(out))
    assert again.exit_code == 2 and "never overwrites" in again.stderr


SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "cacheprof" / "store" / "schemas" / "advice-v2.json")
                    .read_text())


@pytest.mark.parametrize("name", ["01-pip-copy-all", "24-maven-pom-alone-then-src", "56-arg-commit-before-install",
                                  "60-add-remote-unpinned", "42-npm-clean"])
def test_cli_json_follows_the_schema(name):
    import jsonschema

    case = CORPUS / name
    r = cli(str(case / "context"), "-f", str(case / "Dockerfile"), "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    jsonschema.validate(doc, SCHEMA)
    expected = json.loads((case / "expected.json").read_text())["findings"]
    assert [(f["rule"], f["line"]) for f in doc["findings"]] == [(e["rule"], e["line"]) for e in expected]


def test_cli_no_finding_exits_0():
    r = cli(str(FIXTURES / "python-app"), "--format", "json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["findings"] == [] and doc["changed"] is False and doc["diff"] == ""


@pytest.mark.parametrize(("files", "args", "needle"), [
    ({"Dockerfile": "FROM busybox\nRUN <<EOF\necho unterminated\n"}, ["{ctx}"], "parse error"),
    ({}, ["{tmp}/missing"], "build context not found"),
    ({"x": ""}, ["{ctx}"], "Dockerfile not found"),
    ({"Dockerfile": "FROM busybox\nBOGUS x\n"}, ["{ctx}"], "unknown instruction"),
    ({"Dockerfile": "RUN true\n"}, ["{ctx}"], "before the first FROM"),
    ({"Dockerfile": "FROM busybox\n"}, ["{ctx}", "--target", "nope"], "no stage of that name"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, files, args, needle):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for rel, text in files.items():
        (ctx / rel).write_text(text)
    r = cli(*[a.replace("{ctx}", str(ctx)).replace("{tmp}", str(tmp_path)) for a in args])
    assert r.exit_code == 2, r.output
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("cacheprof: error: ") and needle in lines[0], r.stderr
