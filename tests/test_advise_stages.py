"""The stage model advise (and prediction) reads: working directory, build args and ENV in scope through
`FROM <stage>`, and which context files each COPY/ADD puts where. Pure: contexts built from dicts."""

from __future__ import annotations

from cacheprof.advise.commands import BUILD, DEP, TOOL, Segment, classify, segments
from cacheprof.advise.scan import ContextFiles
from cacheprof.advise.stages import walk
from cacheprof.dockerfile import parse_text

CTX = ContextFiles.from_files({"package.json": "{}", "package-lock.json": "{}", "src/a.js": "1", "src/b/c.js": "2",
                               "Cargo.toml": "", "Cargo.lock": "", "README.md": "r"})


def views(text: str):
    return walk(parse_text(text), CTX)


def step(vs, line: int):
    return next(s for v in vs for s in v.steps if s.ins.line == line)


def test_quoted_workdir_and_relative_destinations():
    vs = views('FROM x\nWORKDIR "/srv/"\nWORKDIR app\nCOPY src ./code/\nCOPY package*.json ./\n')
    assert step(vs, 4).workdir == "/srv/app"
    assert dict(step(vs, 4).copy.files) == {"/srv/app/code/a.js": "src/a.js", "/srv/app/code/b/c.js": "src/b/c.js"}
    assert step(vs, 4).copy.broad
    wild = step(vs, 5).copy
    assert wild.wildcard and not wild.broad
    assert dict(wild.files) == {"/srv/app/package.json": "package.json",
                                "/srv/app/package-lock.json": "package-lock.json"}


def test_multi_file_copy_and_json_form_and_a_single_file_renamed():
    vs = views('FROM x\nWORKDIR /a\nCOPY package.json README.md ./\nCOPY ["src/a.js", "/opt/main.js"]\n')
    assert dict(step(vs, 3).copy.files) == {"/a/package.json": "package.json", "/a/README.md": "README.md"}
    assert dict(step(vs, 4).copy.files) == {"/opt/main.js": "src/a.js"}


def test_env_and_workdir_follow_from_stage_to_stage_and_args_do_not():
    vs = views("ARG BASE=1\nFROM x AS base\nARG GIT_SHA\nENV REV=$GIT_SHA HOME_DIR=/h\nWORKDIR /h\n"
               "FROM base AS build\nARG BASE\nCOPY . .\n")
    copy_step = step(vs, 8)
    assert copy_step.workdir == "/h"
    env = copy_step.env
    assert set(env) == {"REV", "HOME_DIR", "BASE"}
    assert (env["REV"].kind, env["REV"].line, env["REV"].args, env["REV"].defaulted, env["REV"].value) == (
        "ENV", 4, ("GIT_SHA",), False, None)
    assert env["HOME_DIR"].value == "/h" and env["HOME_DIR"].args == ()
    assert (env["BASE"].kind, env["BASE"].value, env["BASE"].defaulted) == ("ARG", "1", True)
    assert vs[1].parent == 0
    assert copy_step.copy.dest == "/h"


def test_a_destination_from_an_unknown_variable_is_not_mapped():
    vs = views("FROM x\nARG DEST\nCOPY . $DEST\n")
    assert step(vs, 3).copy is None


def run_of(text: str):
    return next(i for i in parse_text(text).instructions if i.cmd == "RUN")


def test_segments_follow_cd_and_heredocs_and_json_form():
    ins = run_of("FROM x\nWORKDIR /app\nRUN cd web && npm ci && cd /srv && go mod download\n")
    assert [(s.words[:2], s.cwd) for s in segments(ins, "/app")] == [
        (("npm", "ci"), "/app/web"), (("go", "mod"), "/srv")]
    heredoc = run_of("FROM x\nRUN <<EOT\nset -e\nPIP_NO_CACHE_DIR=1 pip install -r r.txt\nEOT\n")
    assert [s.words for s in segments(heredoc, "/")] == [("pip", "install", "-r", "r.txt")]
    json_form = run_of('FROM x\nRUN ["yarn", "install"]\n')
    assert [s.words for s in segments(json_form, "/")] == [("yarn", "install")]


def test_classify_tells_dependency_steps_builds_and_tools_apart():
    def kind(cmd: str):
        action = classify(Segment(tuple(cmd.split()), "/app"))
        return None if action is None else (action.eco, action.kind)

    assert kind("pip install -r requirements.txt") == ("pip", DEP)
    assert kind("pip install .") == ("pip", BUILD)
    assert kind("pip install poetry==1.8.3") == ("pip", TOOL)
    assert kind("npm install -g pnpm") == ("npm", TOOL)
    assert kind("npm ci --omit=dev") == ("npm", DEP)
    assert kind("npm run build") is None
    assert kind("poetry install --no-root") == ("poetry", DEP)
    assert kind("poetry install --only-root") is None
    assert kind("uv sync --locked") == ("uv", BUILD)
    assert kind("go install golang.org/x/tools/gopls@v0.15.0") == ("go", TOOL)
    assert kind("go mod verify") is None
    assert kind("cargo chef prepare --recipe-path r.json") is None
    assert kind("cargo install ripgrep") == ("cargo", TOOL)
    assert kind("cargo install --path .") == ("cargo", BUILD)
    assert kind("dotnet publish --no-restore -c Release") is None
    assert kind("./mvnw -B package") == ("maven", BUILD)
    assert kind("gradle dependencies --no-daemon") == ("gradle", DEP)
    assert kind("composer install --no-dev -o") == ("composer", BUILD)
    assert kind("bundle exec rake") is None
