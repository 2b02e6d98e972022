"""`cacheprof advise` without Docker: findings and exact rewritten Dockerfiles for hand-written projects,
and the command's output (table, JSON, --write, bad input)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cacheprof.advise.findings import COPY_BEFORE_INSTALL, EARLY_CACHE_BUST, find_problems, rewrite
from cacheprof.cli import main
from cacheprof.context.walk import context_fingerprint
from cacheprof.dockerfile import parse_text
from tests.conftest import FIXTURES

APP = {"app/main.py": "print('hi')\n", "app/util.py": "X = 1\n"}


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
    findings = find_problems(model, ctx)
    return findings, rewrite(model, text, findings)


# --- the main pattern ----------------------------------------------------------------------------------


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
    assert len(findings) == 1
    f = findings[0]
    assert (f.kind, f.severity, f.stage, f.line, f.related_line) == (COPY_BEFORE_INSTALL, "problem", "0", 4, 5)
    assert f.manifests == ("requirements.txt",)
    assert f.scenario == "edit:app/main.py"
    assert f.message == (
        "`COPY . .` (line 4) brings every file in before `RUN pip install --no-cache-dir -r requirements.txt` "
        "(line 5): any edit re-runs the install. Copy requirements.txt first, install, then copy the rest.")
    assert proposed == (
        "FROM python:3.12-slim\n"
        "WORKDIR /app\n"
        "COPY requirements.txt ./\n"
        "RUN pip install --no-cache-dir -r requirements.txt\n"
        "# everything in\n"
        "COPY . .\n"
        'CMD ["python", "app/main.py"]\n'
    )


def test_node_naive_copies_the_lock_file_too(tmp_path):
    ctx = project(tmp_path, {"package.json": "{}\n", "package-lock.json": "{}\n", "src/index.js": "1\n"}, (
        "FROM node:20\n"
        "WORKDIR /usr/src/app\n"
        "COPY . .\n"
        "RUN npm ci\n"
        "RUN npm run build\n"
        'CMD ["node", "src/index.js"]\n'
    ))
    findings, proposed = advise(ctx)
    assert [(f.line, f.related_line, f.scenario) for f in findings] == [(3, 4, "edit:src/index.js")]
    assert findings[0].manifests == ("package-lock.json", "package.json")
    assert proposed == (
        "FROM node:20\n"
        "WORKDIR /usr/src/app\n"
        "COPY package-lock.json package.json ./\n"
        "RUN npm ci\n"
        "COPY . .\n"
        "RUN npm run build\n"
        'CMD ["node", "src/index.js"]\n'
    )


def test_go_moves_the_download_and_leaves_the_build(tmp_path):
    ctx = project(tmp_path, {"go.mod": "module x\n", "go.sum": "", "cmd/app/main.go": "package main\n"}, (
        "FROM golang:1.22 AS build\n"
        "WORKDIR /src\n"
        "COPY . .\n"
        "RUN go mod download\n"
        "RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app\n"
        "\n"
        "FROM scratch\n"
        "COPY --from=build /out/app /app\n"
        'ENTRYPOINT ["/app"]\n'
    ))
    findings, proposed = advise(ctx)
    assert [(f.stage, f.line, f.related_line, f.manifests) for f in findings] == [
        ("build", 3, 4, ("go.mod", "go.sum"))]
    assert findings[0].scenario == "edit:cmd/app/main.go"
    assert proposed == (
        "FROM golang:1.22 AS build\n"
        "WORKDIR /src\n"
        "COPY go.mod go.sum ./\n"
        "RUN go mod download\n"
        "COPY . .\n"
        "RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app\n"
        "\n"
        "FROM scratch\n"
        "COPY --from=build /out/app /app\n"
        'ENTRYPOINT ["/app"]\n'
    )


def test_the_good_fixture_has_no_finding():
    findings, proposed = advise(FIXTURES / "python-app")
    assert findings == ()
    assert proposed == (FIXTURES / "python-app" / "Dockerfile").read_text()


def test_the_naive_fixture_and_its_edit_scenario():
    ctx = FIXTURES / "python-app"
    before = context_fingerprint(ctx)
    findings, proposed = advise(ctx, "Dockerfile.naive")
    assert [(f.line, f.related_line, f.scenario, f.manifests) for f in findings] == [
        (4, 6, "edit:app/main.py", ("requirements.txt",))]
    assert "which needs only requirements.txt: any edit re-runs it" in findings[0].message
    good = (ctx / "Dockerfile").read_text().splitlines()
    got = proposed.splitlines()
    # Same order as the hand-written good Dockerfile; only the comments and the final COPY differ.
    assert got[2:6] == [*good[2:3], "COPY requirements.txt ./", *good[4:6]]
    assert got[6:] == [*good[6:7], "COPY . .", good[-1]]
    assert context_fingerprint(ctx) == before


def test_multistage_pattern_in_the_builder_stage(tmp_path):
    ctx = project(tmp_path, {"package.json": "{}\n", "yarn.lock": "", "src/app.ts": "1\n", "README.md": "r\n"}, (
        "FROM node:20 AS builder\n"
        "WORKDIR /src\n"
        "COPY . .\n"
        "RUN yarn install --frozen-lockfile\n"
        "RUN yarn build\n"
        "\n"
        "FROM nginx:1.27 AS final\n"
        "WORKDIR /app\n"
        "COPY --from=builder /src/dist /usr/share/nginx/html\n"
        "RUN echo done\n"
    ))
    findings, proposed = advise(ctx)
    assert [(f.stage, f.line, f.related_line, f.manifests) for f in findings] == [
        ("builder", 3, 4, ("package.json", "yarn.lock"))]
    assert findings[0].scenario == "edit:README.md"
    assert proposed.splitlines()[2:6] == [
        "COPY package.json yarn.lock ./", "RUN yarn install --frozen-lockfile", "COPY . .", "RUN yarn build"]


def test_json_form_copy_without_workdir(tmp_path):
    ctx = project(tmp_path, {**APP, "requirements.txt": "flask\n"}, (
        "FROM python:3.12\n"
        'COPY --chown=1000:1000 [".", "/app"]\n'
        'RUN ["pip", "install", "-r", "/app/requirements.txt"]\n'
    ))
    findings, proposed = advise(ctx)
    assert len(findings) == 1 and findings[0].fix is not None
    assert proposed == (
        "FROM python:3.12\n"
        'COPY --chown=1000:1000 ["requirements.txt", "/app/"]\n'
        'RUN ["pip", "install", "-r", "/app/requirements.txt"]\n'
        'COPY --chown=1000:1000 [".", "/app"]\n'
    )


def test_a_source_folder_copy_maps_the_manifest_to_its_destination(tmp_path):
    ctx = project(tmp_path, {"src/requirements.txt": "flask\n", "src/main.py": "1\n"}, (
        "FROM python:3.12\n"
        "COPY src/ /srv/\n"
        "WORKDIR /srv\n"
        "ENV PIP_NO_CACHE_DIR=1\n"
        "RUN pip install -r requirements.txt\n"
    ))
    findings, _ = advise(ctx)
    # WORKDIR between them: the RUN would run elsewhere, so it is advice only.
    assert findings[0].fix is None and "stands between them" in (findings[0].why_no_fix or "")

    ctx = project(tmp_path / "b", {"src/requirements.txt": "flask\n", "src/main.py": "1\n"}, (
        "FROM python:3.12\n"
        "WORKDIR /srv\n"
        "COPY src/ ./\n"
        "ENV PIP_NO_CACHE_DIR=1\n"
        "LABEL org.example=1\n"
        "RUN pip install -r requirements.txt\n"
    ))
    findings, proposed = advise(ctx)
    assert findings[0].message.startswith("`COPY src/ ./` (line 3) brings every file of src/ in before")
    assert findings[0].scenario == "edit:src/main.py"
    assert proposed == (
        "FROM python:3.12\n"
        "WORKDIR /srv\n"
        "ENV PIP_NO_CACHE_DIR=1\n"
        "COPY src/requirements.txt ./\n"
        "RUN pip install -r requirements.txt\n"
        "COPY src/ ./\n"
        "LABEL org.example=1\n"
    )


def test_requirements_includes_are_copied_too(tmp_path):
    ctx = project(tmp_path, {**APP, "requirements.txt": "-r requirements/base.txt\nflask\n",
                             "requirements/base.txt": "-c ../constraints.txt\nclick\n", "constraints.txt": "x\n"}, (
        "FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\n"
    ))
    findings, proposed = advise(ctx)
    assert findings[0].manifests == ("constraints.txt", "requirements.txt", "requirements/base.txt")
    assert proposed.splitlines()[2:4] == ["COPY constraints.txt requirements.txt ./",
                                          "COPY requirements/base.txt ./requirements/"]


def test_dockerignored_lock_file_is_not_copied(tmp_path):
    ctx = project(tmp_path, {".dockerignore": "package-lock.json\n", "package.json": "{}\n",
                             "package-lock.json": "{}\n", "index.js": "1\n"},
                  "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm install\n")
    findings, proposed = advise(ctx)
    assert findings[0].manifests == ("package.json",)
    assert "COPY package.json ./\n" in proposed


def test_manifest_already_copied_moves_only_the_run(tmp_path):
    ctx = project(tmp_path, {**APP, "requirements.txt": "flask\n"}, (
        "FROM python:3.12\nWORKDIR /app\nCOPY requirements.txt .\nCOPY . .\nRUN pip install -r requirements.txt\n"
    ))
    findings, proposed = advise(ctx)
    assert "already copied" in findings[0].message
    assert findings[0].fix is not None and findings[0].fix.insert == ()
    assert proposed == (
        "FROM python:3.12\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\n"
    )


def test_a_requirement_file_glued_to_its_flag(tmp_path):
    ctx = project(tmp_path, {**APP, "reqs/prod.txt": "flask\n"},
                  "FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN pip install -rreqs/prod.txt\n")
    findings, proposed = advise(ctx)
    assert findings[0].manifests == ("reqs/prod.txt",)
    assert "COPY reqs/prod.txt ./reqs/\nRUN pip install -rreqs/prod.txt\nCOPY . .\n" in proposed


@pytest.mark.parametrize(("run", "why"), [
    ("RUN pip install -r requirements.txt && pip install .", "reads `.`"),
    ("RUN pip install -r requirements.txt && python manage.py collectstatic", "reads `manage.py`"),
    ("RUN poetry install", "without --no-root installs the project itself"),
    ("RUN pip install -r requirements.txt && make", "`make` in it"),
])
def test_a_run_that_needs_the_sources_is_advice_only(tmp_path, run, why):
    ctx = project(tmp_path, {**APP, "manage.py": "1\n", "requirements.txt": "flask\n", "pyproject.toml": "",
                             "poetry.lock": ""}, f"FROM python:3.12\nWORKDIR /app\nCOPY . .\n{run}\n")
    findings, proposed = advise(ctx)
    assert len(findings) == 1 and findings[0].fix is None
    assert why in (findings[0].why_no_fix or ""), findings[0].why_no_fix
    assert "cannot simply move" in findings[0].message
    assert proposed == (ctx / "Dockerfile").read_text()


def test_poetry_with_no_root_moves(tmp_path):
    ctx = project(tmp_path, {**APP, "pyproject.toml": "", "poetry.lock": ""},
                  "FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN poetry install --no-root\n")
    _, proposed = advise(ctx)
    assert proposed.splitlines()[2:5] == ["COPY poetry.lock pyproject.toml ./", "RUN poetry install --no-root",
                                         "COPY . ."]


def test_two_installs_after_one_copy_both_move_in_order(tmp_path):
    ctx = project(tmp_path, {**APP, "requirements.txt": "flask\n", "package.json": "{}\n"}, (
        "FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nRUN npm install\n"
    ))
    findings, proposed = advise(ctx)
    assert [f.related_line for f in findings] == [4, 5] and all(f.fix for f in findings)
    assert proposed == (
        "FROM python:3.12\nWORKDIR /app\nCOPY requirements.txt ./\nRUN pip install -r requirements.txt\n"
        "COPY package.json ./\nRUN npm install\nCOPY . .\n"
    )


def test_crlf_comments_and_a_missing_final_newline_are_kept(tmp_path):
    ctx = project(tmp_path, {**APP, "requirements.txt": "flask\n"}, (
        "FROM python:3.12\r\nWORKDIR /app\r\n\r\n# all of it\r\nCOPY . .\r\n# install\r\n"
        "RUN pip install \\\r\n    -r requirements.txt"
    ))
    _, proposed = advise(ctx)
    assert proposed == (
        "FROM python:3.12\r\nWORKDIR /app\r\n\r\nCOPY requirements.txt ./\r\n# install\r\n"
        "RUN pip install \\\r\n    -r requirements.txt\r\n# all of it\r\nCOPY . ."
    )


def test_cargo_is_advice_only(tmp_path):
    ctx = project(tmp_path, {"Cargo.toml": "", "Cargo.lock": "", "src/main.rs": "fn main(){}\n"},
                  "FROM rust:1\nWORKDIR /src\nCOPY . .\nRUN cargo build --release\n")
    findings, _ = advise(ctx)
    assert findings[0].fix is None and "stub src/main.rs" in (findings[0].why_no_fix or "")


def test_workdir_and_destination_from_env_are_followed(tmp_path):
    ctx = project(tmp_path, {**APP, "Gemfile": "source 'https://rubygems.org'\n", "Gemfile.lock": ""}, (
        'FROM ruby:3\nENV APP_HOME="/srv/app"\nWORKDIR $APP_HOME\nCOPY . $APP_HOME\nRUN bundle install\n'
    ))
    _, proposed = advise(ctx)
    assert proposed.endswith("COPY Gemfile Gemfile.lock $APP_HOME/\nRUN bundle install\nCOPY . $APP_HOME\n")


def test_a_gemspec_gemfile_is_advice_only(tmp_path):
    ctx = project(tmp_path, {**APP, "Gemfile": "gemspec\n", "Gemfile.lock": ""},
                  "FROM ruby:3\nWORKDIR /app\nCOPY . .\nRUN bundle install\n")
    findings, _ = advise(ctx)
    assert findings[0].fix is None and "gemspec" in (findings[0].why_no_fix or "")


def test_a_run_that_reads_no_manifest_is_not_a_finding(tmp_path):
    ctx = project(tmp_path, {**APP, "requirements.txt": "flask\n"},
                  "FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN python -m compileall app\n")
    assert advise(ctx)[0] == ()


# --- cache busters (warnings, no rewrite) -------------------------------------------------------------


def test_volatile_arg_and_remote_add_are_warnings(tmp_path):
    ctx = project(tmp_path, {"x.txt": "1\n"}, (
        "FROM busybox:1.36\n"
        "ARG BUILD_DATE\n"
        "ADD https://example.com/tool.tar.gz /opt/\n"
        "RUN echo one\n"
        "COPY x.txt /x\n"
        'LABEL built="$BUILD_DATE"\n'
    ))
    findings, proposed = advise(ctx)
    assert [(f.kind, f.severity, f.line) for f in findings] == [
        (EARLY_CACHE_BUST, "warning", 2), (EARLY_CACHE_BUST, "warning", 3)]
    arg, add = findings
    assert arg.scenario == "arg:BUILD_DATE=cacheprof-changed" and arg.related_line == 4
    assert "1 step(s) after it re-run" in arg.message
    assert add.scenario is None and "2 step(s) after it re-run" in add.message
    assert all(f.fix is None for f in findings)
    assert proposed == (ctx / "Dockerfile").read_text()


def test_a_date_in_a_run_is_no_cache_buster(tmp_path):
    # The RUN's text does not change, so it is CACHED like any other step (measured on both builders).
    ctx = project(tmp_path, {}, "FROM busybox:1.36\nRUN date > /built\nRUN sleep 1\n")
    assert advise(ctx)[0] == ()


# --- the command ---------------------------------------------------------------------------------------


def cli(*args: str):
    return CliRunner().invoke(main, ["advise", *args])


def test_cli_table_prints_the_finding_and_the_diff():
    r = cli(str(FIXTURES / "python-app"), "-f", str(FIXTURES / "python-app" / "Dockerfile.naive"))
    assert r.exit_code == 0, r.output
    assert "1 finding(s)" in r.stdout and "shows on: edit:app/main.py" in r.stdout
    assert "-COPY . .\n+COPY requirements.txt ./\n" in r.stdout and "+COPY . .\n" in r.stdout


def test_cli_json_and_write(tmp_path):
    out = tmp_path / "Dockerfile.fixed"
    r = cli(str(FIXTURES / "python-app"), "-f", str(FIXTURES / "python-app" / "Dockerfile.naive"),
            "--format", "json", "--write", str(out))
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["schema"] == "cacheprof/advice/v1"
    assert doc["changed"] is True and doc["measure"] is None
    assert out.read_text() == doc["proposed_dockerfile"]
    [f] = doc["findings"]
    assert (f["kind"], f["line"], f["related_line"], f["fixed"]) == ("copy-before-install", 4, 6, True)
    assert f["fix"] == {"before_line": 4, "insert": ["COPY requirements.txt ./"], "moved_lines": [6]}

    again = cli(str(FIXTURES / "python-app"), "-f", str(FIXTURES / "python-app" / "Dockerfile.naive"),
                "--write", str(out))
    assert again.exit_code == 2 and "never overwrites" in again.stderr


def test_cli_no_finding_exits_0():
    r = cli(str(FIXTURES / "python-app"), "--format", "json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["findings"] == [] and doc["changed"] is False and doc["diff"] == ""


@pytest.mark.parametrize(("files", "args", "needle"), [
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
