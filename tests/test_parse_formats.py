"""`cacheprof parse` on hand-written logs shaped like pastes from GitHub issues and CI systems.

Each fixture's exact step table is asserted: (stage, instruction or position, status) per build.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cacheprof.dockerfile import load as load_dockerfile
from cacheprof.logparse import Format, parse_log

LOGS = Path(__file__).resolve().parent / "data" / "logs"

WEBAPP = [
    ("0", "FROM docker.io/library/python:3.12-slim@sha256:"
          "9c0e3a7f5d1b2c4e6a8b0d2f4e6a8c0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c"),
    ("0", "WORKDIR /app"),
    ("0", "COPY requirements.txt ."),
    ("0", "RUN pip install --no-cache-dir -r requirements.txt"),
    ("0", "COPY . ."),
    ("0", "RUN python -m compileall -q ."),
]
CLASSIC_WEBAPP = [
    ("0", "FROM python:3.12-slim"),
    ("0", "ENV PYTHONDONTWRITEBYTECODE=1"),
    ("0", "WORKDIR /app"),
    ("0", "COPY requirements.txt ."),
    ("0", "RUN pip install --no-cache-dir -r requirements.txt"),
    ("0", "COPY . ."),
    ("0", "RUN python -m compileall -q ."),
    ('0', 'CMD ["python", "-m", "app"]'),
]


def table(steps, statuses: str) -> list[tuple[str, str, str]]:
    """Zip (stage, instruction) pairs with a status string: C = CACHED, R = RUN, E = ERROR."""
    names = {"C": "CACHED", "R": "RUN", "E": "ERROR", "P": "PULLED", "U": "UNKNOWN", "X": "CANCELED"}
    assert len(steps) == len(statuses)
    return [(stage, ins, names[c]) for (stage, ins), c in zip(steps, statuses, strict=True)]


def rows(build, by: str = "instruction") -> list[tuple[str, object, str]]:
    return [(s.stage, getattr(s, by), str(s.status)) for s in build.steps]


# fixture -> (format, [(scenario, ok, complete, step table)])
CASES = {
    "plain_padded.log": (Format.PLAIN, [("log", True, True, [
        ("0", "FROM docker.io/library/node:20-alpine@sha256:"
              "1f1a9b6c43d1c1b2a7f4e7f5b1e2c3d4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0", "CACHED"),
        ("0", "RUN apk add --no-cache git", "CACHED"),
        ("0", "WORKDIR /src", "CACHED"),
        ("0", "COPY package.json package-lock.json ./", "CACHED"),
        ("0", "RUN npm ci", "CACHED"),
        ("0", "COPY tsconfig.json ./", "CACHED"),
        ("0", "COPY src/ ./src/", "RUN"),
        ("0", "RUN npm run build", "RUN"),
        ("0", "RUN npm prune --omit=dev", "RUN"),
        ("0", "WORKDIR /srv", "RUN"),
        ("0", "RUN addgroup -S app && adduser -S app -G app", "RUN"),
        ("0", "COPY docker-entrypoint.sh /usr/local/bin/", "RUN"),
        ("0", "RUN chmod +x /usr/local/bin/docker-entrypoint.sh", "RUN"),
    ])]),
    # GitHub Actions: timestamps, ANSI, ##[group], masked *** registry, pulled base image, failure summary.
    "plain_github_actions.log": (Format.PLAIN, [("log", False, True, [
        ("0", "FROM ***.dkr.ecr.us-east-1.amazonaws.com/base/python:3.12-slim@sha256:"
              "9c0e3a7f5d1b2c4e6a8b0d2f4e6a8c0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c", "PULLED"),
        ("0", "WORKDIR /app", "RUN"),
        ("0", "COPY requirements.txt .", "RUN"),
        ("0", "RUN pip install --no-cache-dir -r requirements.txt", "ERROR"),
    ])]),
    # Parallel stages, `#N ...` switches, a failure in one stage cancels the other.
    "plain_parallel_failure.log": (Format.PLAIN, [("log", False, True, [
        ("2", "FROM gcr.io/distroless/base-debian12:latest@sha256:"
              "6ae5fe659f28c6afe9cc2903aebc78a5c6ad3aaa3d9d0369760ac6aaea2529c8", "CACHED"),
        ("builder", "FROM docker.io/library/golang:1.22@sha256:"
                    "0b55ab82ac2a54a6f8f85ec8b943b9e470c39e32c109b766bbc1b801f3fa8d3b", "CACHED"),
        ("web", "FROM docker.io/library/node:20@sha256:"
                "d0a9a2399581a9de1ff962a48a28b5cfe700678a6a5df8e31a63aaa47bebb923", "CACHED"),
        ("web", "WORKDIR /web", "CACHED"),
        ("builder", "WORKDIR /src", "CACHED"),
        ("builder", "COPY go.mod go.sum ./", "CACHED"),
        ("web", "COPY web/package.json web/package-lock.json ./", "RUN"),
        ("builder", "RUN go mod download", "CANCELED"),
        ("web", "RUN npm ci", "ERROR"),
    ])]),
    # Docker 20.10 format (digest lines, no #0), two builds; numbering restarts; #7 CACHED then DONE.
    "plain_two_builds.log": (Format.PLAIN, [
        ("build-1", True, True, table(WEBAPP, "CCRCRR")),
        ("build-2", True, True, table(WEBAPP, "CCCCRR")),
    ]),
    # A Markdown paste from an issue: prose, ```console fences, CRLF.
    "plain_issue_paste.md": (Format.PLAIN, [("log", True, True, table(WEBAPP, "CCRRRR"))]),
    # Cut off mid-line during a RUN: never finished.
    "plain_cut.log": (Format.PLAIN, [("log", False, False, table(WEBAPP[:4], "CCRU"))]),
    # Two compose services' builds interleaved, `service-x  | ` prefixes (coloured): one build each.
    "plain_compose.log": (Format.PLAIN, [
        ("service-a", True, True, [
            ("0", "FROM docker.io/library/python:3.12-slim", "CACHED"),
            *table(WEBAPP[1:], "CCCRR"),
        ]),
        ("service-b", True, True, [
            ("0", "FROM docker.io/library/python:3.12-slim", "CACHED"),
            ("0", "COPY worker.py /srv/worker.py", "RUN"),
            ("0", "RUN pip install --no-cache-dir redis==5.0.4", "RUN"),
            ("0", "RUN python -m compileall -q /srv", "RUN"),
        ]),
    ]),
    "rawjson_two_builds.log": (Format.RAWJSON, [
        ("build-1", True, True, [("0", "FROM docker.io/library/python:3.12-slim@sha256:9c0e", "CACHED"),
                                 *table(WEBAPP[1:], "CCCRR")]),
        ("build-2", False, True, [("0", "FROM docker.io/library/python:3.12-slim@sha256:9c0e", "CACHED"),
                                  *table(WEBAPP[1:4], "CRE")]),
    ]),
    # Classic CLI: deprecation banner, a pulled base image, then a rebuild after an edit.
    "classic_cli.log": (Format.CLASSIC, [
        ("build-1", True, True, table(CLASSIC_WEBAPP, "PRRRRRRR")),
        ("build-2", True, True, table(CLASSIC_WEBAPP, "CCCCCRRR")),
    ]),
    # Docker 1.12: `Step N :` without a total; a failing RUN.
    "classic_old.log": (Format.CLASSIC, [("log", False, True, [
        ("0", "FROM ubuntu:16.04", "CACHED"),
        ("0", "RUN apt-get update && apt-get install -y build-essential", "CACHED"),
        ("0", "COPY . /src", "RUN"),
        ("0", "WORKDIR /src", "RUN"),
        ("0", "RUN make", "ERROR"),
    ])]),
    # GitLab: section markers with \r ESC[0K, ANSI, stderr colour resets; the job timed out mid-build.
    "classic_gitlab.log": (Format.CLASSIC, [("log", False, False, table(CLASSIC_WEBAPP[:5], "CCCRU"))]),
    # git push deploy: `remote: ` prefixes, CRLF, a COPY failure.
    "classic_remote.log": (Format.CLASSIC, [("log", False, True, table(CLASSIC_WEBAPP[:6], "CCCCCE"))]),
    # curl -i of POST /build: HTTP headers, then JSON lines with \u003e escapes and an ANSI stderr line.
    "engine_classic_curl.log": (Format.ENGINE_JSON, [("log", False, True, [
        ("0", "FROM busybox:1.36", "CACHED"),
        ("0", "WORKDIR /app", "CACHED"),
        ("0", "COPY app.sh .", "RUN"),
        ("0", "RUN sh app.sh > /out.txt && test -s /out.txt", "ERROR"),
    ])]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture_step_table(name):
    fmt, expected = CASES[name]
    result = parse_log(LOGS / name)
    assert set(result.formats) == {fmt}
    got = [(b.scenario, b.ok, b.complete, rows(b)) for b in result.builds]
    assert got == expected
    assert all(b.repeat == 1 for b in result.builds)


@pytest.mark.parametrize("name", sorted(CASES))
def test_forced_format_gives_the_same_table(name):
    fmt, expected = CASES[name]
    result = parse_log(LOGS / name, fmt=fmt)
    assert [(b.scenario, rows(b)) for b in result.builds] == [(s, t) for s, _, _, t in expected]


def test_dockerfile_links_buildkit_steps_to_lines():
    model = load_dockerfile(LOGS / "webapp.Dockerfile")
    build = parse_log(LOGS / "plain_github_actions.log", model).builds[0]
    assert [(s.position, s.line, s.instruction, str(s.status)) for s in build.steps] == [
        (1, 1, "FROM python:3.12-slim", "PULLED"),
        (3, 3, "WORKDIR /app", "RUN"),
        (4, 4, "COPY requirements.txt .", "RUN"),
        (5, 5, "RUN pip install --no-cache-dir -r requirements.txt", "ERROR"),
    ]
    assert build.steps[-1].error == (
        'process "/bin/sh -c pip install --no-cache-dir -r requirements.txt" did not complete successfully: '
        "exit code: 1"
    )
    assert build.error is not None and build.error.startswith("failed to solve: process")


def test_dockerfile_links_parallel_stages():
    model = load_dockerfile(LOGS / "multi.Dockerfile")
    build = parse_log(LOGS / "plain_parallel_failure.log", model).builds[0]
    assert [(s.stage, s.position, s.line, str(s.status)) for s in build.steps] == [
        ("2", 1, 15, "CACHED"),
        ("builder", 1, 1, "CACHED"),
        ("web", 1, 8, "CACHED"),
        ("web", 2, 9, "CACHED"),
        ("builder", 2, 2, "CACHED"),
        ("builder", 3, 3, "CACHED"),
        ("web", 3, 10, "RUN"),
        ("builder", 4, 4, "CANCELED"),
        ("web", 4, 11, "ERROR"),
    ]
    errors = {s.stage: s.error for s in build.steps if s.error}
    assert errors == {"builder": "canceled",
                      "web": 'process "/bin/sh -c npm ci" did not complete successfully: exit code: 1'}
    assert build.error == 'failed to build: failed to solve: process "/bin/sh -c npm ci" did not complete ' \
                          "successfully: exit code: 1"


def test_dockerfile_links_padded_positions():
    model = load_dockerfile(LOGS / "node13.Dockerfile")
    build = parse_log(LOGS / "plain_padded.log", model).builds[0]
    assert [(s.position, s.line) for s in build.steps] == [(i, i) for i in range(1, 14)]
    assert build.steps[0].instruction == "FROM node:20-alpine"


def test_dockerfile_links_classic_steps():
    model = load_dockerfile(LOGS / "webapp.Dockerfile")
    builds = parse_log(LOGS / "classic_cli.log", model).builds
    assert [(s.position, s.line) for s in builds[1].steps] == [(i, i) for i in range(1, 9)]


def test_plain_timing_is_durations_only():
    build = parse_log(LOGS / "plain_padded.log").builds[0]
    durations = {s.instruction: s.duration_s for s in build.steps}
    assert durations["RUN npm run build"] == 7.2
    assert durations["COPY src/ ./src/"] == 0.1
    assert durations["RUN apk add --no-cache git"] is None  # CACHED: the log gives no time
    assert all(s.started is None and s.finished is None for s in build.steps)
    assert build.started is None and build.duration_s is None
    # Internal vertices are never steps, but are kept.
    assert [v.name for v in build.internal] == [
        "[internal] load build definition from Dockerfile",
        "[internal] load metadata for docker.io/library/node:20-alpine",
        "[internal] load .dockerignore",
        "[internal] load build context",
        "exporting to image",
    ]


def test_classic_text_has_no_timing():
    build = parse_log(LOGS / "classic_cli.log").builds[0]
    assert all(s.started is None and s.duration_s is None for s in build.steps)


def test_rawjson_times_are_buildkits_own():
    builds = parse_log(LOGS / "rawjson_two_builds.log").builds
    copy = next(s for s in builds[0].steps if s.instruction == "COPY . .")
    # 12:00:01.95+02:00 is 10:00:01.95Z.
    assert copy.started == pytest.approx(1714557601.95, abs=1e-6)
    assert copy.duration_s == pytest.approx(0.1, abs=1e-6)
    run = builds[0].steps[-1]
    assert run.duration_s == pytest.approx(0.927654321, abs=1e-6)
    assert builds[0].duration_s == pytest.approx(2.1, abs=1e-6)  # first vertex start to export end
    assert builds[1].steps[-1].duration_s == pytest.approx(2.02, abs=1e-6)


def test_engine_json_without_arrival_times_has_no_timing():
    build = parse_log(LOGS / "engine_classic_curl.log").builds[0]
    assert build.started is None and all(s.duration_s is None for s in build.steps)
    assert build.error == (
        "The command '/bin/sh -c sh app.sh > /out.txt && test -s /out.txt' returned a non-zero code: 1"
    )


def test_engine_json_classic_pull_progress_makes_from_pulled():
    """The classic builder sends a FROM's pull as `status` messages, not stream text."""
    messages = [
        {"stream": "Step 1/2 : FROM alpine:3.19"}, {"stream": "\n"},
        {"status": "Pulling from library/alpine", "id": "3.19"},
        {"status": "Pulling fs layer", "progressDetail": {}, "id": "4abcf2066143"},
        {"status": "Downloading", "progressDetail": {"current": 1, "total": 3}, "id": "4abcf2066143"},
        {"status": "Pull complete", "progressDetail": {}, "id": "4abcf2066143"},
        {"status": "Digest: sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b"},
        {"status": "Status: Downloaded newer image for alpine:3.19"},
        {"stream": " ---> 05455a08881e\n"},
        {"stream": "Step 2/2 : RUN true"}, {"stream": "\n"},
        {"stream": " ---> Running in 0123456789ab\n"}, {"stream": " ---> 123456789abc\n"},
        {"aux": {"ID": "sha256:123456789abc"}}, {"stream": "Successfully built 123456789abc\n"},
    ]
    import json

    build = parse_log([json.dumps(m) for m in messages]).builds[0]
    assert rows(build) == [("0", "FROM alpine:3.19", "PULLED"), ("0", "RUN true", "RUN")]
    assert build.ok and build.image_id == "sha256:123456789abc"


@pytest.mark.parametrize("name", sorted(CASES))
def test_ci_timestamps_on_every_line_change_nothing(name, tmp_path):
    """GitHub Actions / Azure prefix every line with a timestamp; the result is the same."""
    _, expected = CASES[name]
    data = (LOGS / name).read_bytes()
    lines = data.split(b"\n")
    stamped = b"\n".join(b"2024-05-01T10:00:%02d.%07dZ " % (n % 60, n) + line for n, line in enumerate(lines))
    (tmp_path / name).write_bytes(stamped)
    result = parse_log(tmp_path / name)
    assert [(b.scenario, b.ok, b.complete, rows(b)) for b in result.builds] == expected
