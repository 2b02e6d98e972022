"""Rules of issue 14 on small logs: prefixes found from the log, compose/bake labels, classic ends."""

from __future__ import annotations

import io

from cacheprof.logparse import parse_log
from cacheprof.logparse.labels import service_of, split_service


def rows(log: bytes) -> list[list[tuple[str, str, str, float | None]]]:
    return [[(s.stage, s.instruction, str(s.status), s.duration_s) for s in b.steps]
            for b in parse_log(io.BytesIO(log)).builds]


def test_an_indented_paste_is_read():
    log = b"""Here is what I get:

    #1 [internal] load build definition from Dockerfile
    #1 DONE 0.0s
    #2 [1/2] FROM docker.io/library/alpine:3.19
    #2 DONE 0.0s
    #3 [2/2] RUN apk add curl
    #3 DONE 2.1s
    #4 exporting to image
    #4 DONE 0.1s

Any idea?
"""
    assert rows(log) == [[("0", "FROM docker.io/library/alpine:3.19", "CACHED", 0.0),
                          ("0", "RUN apk add curl", "RUN", 2.1)]]


def test_a_signal_in_prose_does_not_take_the_build_away():
    """Text before a signal on one line only is no prefix: the build after it is read as it is."""
    log = b"""The failing step is Step 2/2 : RUN make, see below.
Sending build context to Docker daemon  2.048kB
Step 1/2 : FROM busybox:1.36
 ---> 577e46a22b46
Step 2/2 : RUN make
 ---> Running in 3f2e1d0c9b8a
make: *** No targets specified and no makefile found.  Stop.
The command '/bin/sh -c make' returned a non-zero code: 2
"""
    assert [[r[:3] for r in b] for b in rows(log)] == [[("0", "FROM busybox:1.36", "CACHED"),
                                                         ("0", "RUN make", "ERROR")]]


def test_a_prefix_with_ticking_digits_is_stripped():
    lines = [b"Sending build context to Docker daemon  2.048kB", b"Step 1/2 : FROM busybox:1.36",
             b" ---> 577e46a22b46",
             b"Step 2/2 : RUN true", b" ---> Running in 3f2e1d0c9b8a", b" ---> 1b2c3d4e5f60",
             b"Successfully built 1b2c3d4e5f60"]
    log = b"".join(b"2024/03/29 14:03:%02d.%06d " % (n, n * 7919) + x + b"\n" for n, x in enumerate(lines))
    assert [[r[:3] for r in b] for b in rows(log)] == [[("0", "FROM busybox:1.36", "CACHED"),
                                                         ("0", "RUN true", "RUN")]]


def test_step_output_that_looks_like_the_end_does_not_end_a_classic_build():
    log = b"""Step 1/3 : FROM busybox:1.36
 ---> 577e46a22b46
Step 2/3 : RUN pip wheel gast
 ---> Running in 3f2e1d0c9b8a
Successfully built gast
Successfully built 0a1b2c3d4e5f
Removing intermediate container 3f2e1d0c9b8a
 ---> 1b2c3d4e5f60
Step 3/3 : RUN true
 ---> Running in 4e5f60718293
 ---> 2c3d4e5f6071
Successfully built 2c3d4e5f6071
"""
    result = parse_log(io.BytesIO(log))
    assert len(result.builds) == 1 and result.builds[0].ok and result.builds[0].complete
    assert [str(s.status) for s in result.builds[0].steps] == ["CACHED", "RUN", "RUN"]


def test_compose_and_bake_labels():
    services = {service_of("[web internal] load build definition from Dockerfile"),
                service_of("[api] exporting to image")}
    assert services == {"web", "api"}
    assert service_of("[internal] load .dockerignore") is None
    assert service_of("[10/13] RUN make") is None
    assert split_service("[web builder 2/6] RUN npm ci", services) == ("web", "[builder 2/6] RUN npm ci")
    assert split_service("[web stage-1 4/7] COPY . .", services) == ("web", "[stage-1 4/7] COPY . .")
    assert split_service("[api  2/4] WORKDIR /src", services) == ("api", "[2/4] WORKDIR /src")
    assert split_service("[web internal] load build context", services) == ("web", "[internal] load build context")
    # Without the service named elsewhere, a two-part label is a stage.
    assert split_service("[builder 2/6] RUN npm ci", services) == (None, "[builder 2/6] RUN npm ci")
    assert split_service("[builder 2/6] RUN npm ci", set()) == (None, "[builder 2/6] RUN npm ci")


def test_a_dockerfile_gives_tty_steps_their_whole_instruction():
    """The tty display cuts instructions at the terminal width; with -f the Dockerfile's text and lines
    come back (the step's `[stage i/n]` label is never cut)."""
    from pathlib import Path

    from cacheprof.dockerfile import load

    real = Path(__file__).resolve().parent / "data" / "logs" / "real"
    model = load(real / "src" / "app" / "Dockerfile")
    cut = parse_log(real / "tty_cold_w80.log").builds[0]
    whole = parse_log(real / "tty_cold_w80.log", model).builds[0]
    assert any(s.instruction.endswith("> /build/") for s in cut.steps)  # cut at 80 columns
    runs = {s.line: s.instruction for s in whole.steps}
    assert runs[6] == ('RUN sleep 0.8 && echo "compiling" && cat src/* > /build/app.bin '
                       '&& echo "Successfully built gast"')
    # BuildKit ran both stages' FROM as one vertex; with the Dockerfile each stage gets its FROM step.
    assert sorted(str(s.status) for s in whole.steps) == sorted([*(str(s.status) for s in cut.steps), "CACHED"])


def test_tty_warning_lines_are_no_vertices():
    """buildx shows build-check warnings as ` => WARN: …` lines; the header's done count leaves them out,
    so they must not make a finished step look still running."""
    log = b"""[+] Building 3.1s (6/8)
 => [internal] load build definition from Dockerfile                                     0.0s
 => => transferring dockerfile: 112B                                                     0.0s
 => WARN: FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)            0.0s
 => [internal] load metadata for docker.io/library/alpine:3.19                           0.4s
 => [internal] load .dockerignore                                                        0.0s
 => [build 1/3] FROM docker.io/library/alpine:3.19                                       0.0s
 => [internal] load build context                                                        0.0s
 => [build 2/3] COPY . /src                                                              0.1s
 => [build 3/3] RUN make -C /src                                                         2.4s
"""
    (build,) = parse_log(io.BytesIO(log)).builds
    assert [str(s.status) for s in build.steps] == ["CACHED", "RUN", "UNKNOWN"]
    assert not build.complete


def test_plain_builds_come_out_in_the_order_they_began():
    """A build cut off (never ended) stays open while the next one runs and ends: still listed first."""
    log = b"""#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#2 [1/2] FROM docker.io/library/alpine:3.19
#2 DONE 0.0s
#3 [2/2] RUN ./long-test-suite.sh
#3 12.001 ok 1 - parser
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#2 [1/2] FROM docker.io/library/alpine:3.19
#2 DONE 0.0s
#3 [2/2] RUN ./quick.sh
#3 DONE 0.4s
#4 exporting to image
#4 DONE 0.1s
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#2 [1/2] FROM docker.io/library/alpine:3.19
#2 DONE 0.0s
#3 [2/2] RUN ./quick.sh
#3 CACHED
#4 exporting to image
#4 DONE 0.0s
"""
    builds = parse_log(io.BytesIO(log)).builds
    assert [(b.steps[-1].instruction, str(b.steps[-1].status), b.complete) for b in builds] == [
        ("RUN ./long-test-suite.sh", "UNKNOWN", False), ("RUN ./quick.sh", "RUN", True),
        ("RUN ./quick.sh", "CACHED", True)]


def test_a_classic_step_line_wrapped_once_is_rejoined():
    """One wrapped line is too few to measure a console width; the engine's ` ---> ` always comes next
    after a Step line, so anything else there is the rest of it (the issue's `FROM ` / image case)."""
    log = b"""2024-03-29T14:03:39.1234567Z Sending build context to Docker daemon  3.072kB
2024-03-29T14:03:39.1234567Z Step 1/3 : FROM\x20
python:3.12-slim
2024-03-29T14:03:40.1234567Z 3.12-slim: Pulling from library/python
2024-03-29T14:03:44.1234567Z Digest: sha256:9c0e3a7f5d1b2c4e6a8b0d2f4e6a8c0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c
2024-03-29T14:03:44.1234567Z  ---> 6e2f1ad2f8c1
2024-03-29T14:03:44.1234567Z Step 2/3 : FROM busybox:1.36
2024-03-29T14:03:44.1234567Z  ---> 577e46a22b46
2024-03-29T14:03:44.1234567Z Step 3/3 : RUN pip install --no-cache-dir -r requirements.txt --index-url https://pypi.internal.exam
ple.com/simple
2024-03-29T14:03:44.1234567Z  ---> Running in 3f2e1d0c9b8a
2024-03-29T14:03:49.1234567Z  ---> 1b2c3d4e5f60
2024-03-29T14:03:49.1234567Z Successfully built 1b2c3d4e5f60
"""
    assert [[r[1:3] for r in b] for b in rows(log)] == [[
        ("FROM python:3.12-slim", "PULLED"),
        ("FROM busybox:1.36", "CACHED"),
        ("RUN pip install --no-cache-dir -r requirements.txt --index-url https://pypi.internal.example.com/simple",
         "RUN"),
    ]]


def test_a_classic_step_line_wrapped_twice_is_rejoined():
    long = b"RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev curl git"
    step = b"Step 2/2 : " + long
    wrapped = step[:40] + b"\n" + step[40:80] + b"\n" + step[80:]
    log = b"Step 1/2 : FROM busybox:1.36\n ---> 577e46a22b46\n" + wrapped + (
        b"\n ---> Running in 3f2e1d0c9b8a\nfetching\n ---> 1b2c3d4e5f60\nSuccessfully built 1b2c3d4e5f60\n")
    assert [[r[1:3] for r in b] for b in rows(log)] == [[("FROM busybox:1.36", "CACHED"), (long.decode(), "RUN")]]


def test_a_repeated_prefix_is_found_with_a_forced_format_too():
    from pathlib import Path

    real = Path(__file__).resolve().parent / "data" / "logs" / "real"
    for name, fmt in (("plain_tool_prefix.log", "plain"), ("classic_go_log.log", "classic")):
        auto, forced = parse_log(real / name), parse_log(real / name, fmt=fmt)
        assert auto.builds and forced.builds == auto.builds
