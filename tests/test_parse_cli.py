"""`cacheprof parse` as a command: table and JSON output, the JSON Schema, garbage input, noise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from cacheprof.cli import main
from cacheprof.logparse import parse_log
from cacheprof.logparse.noise import clean, split_channel
from cacheprof.store.profile_json import loads

LOGS = Path(__file__).resolve().parent / "data" / "logs"
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "cacheprof" / "store" / "schemas" / "profile-v2.json"
ALL_LOGS = sorted(p.name for p in LOGS.iterdir() if p.suffix in (".log", ".md"))


def cli(*args: str, input: bytes | None = None):
    return CliRunner().invoke(main, ["parse", *args], input=input, catch_exceptions=False)


def one_error_line(result) -> str:
    """The command failed with exit 2 and exactly one line on stderr, no traceback."""
    assert result.exit_code == 2, result.output
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cacheprof: error: ")
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


# --- output ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_LOGS)
def test_json_output_matches_the_schema_and_loads_back(name, validator):
    r = cli(str(LOGS / name), "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    validator.validate(doc)
    assert doc["source"] == "parse"
    assert doc["schema"] == "cacheprof/profile/v2"
    profile = loads(r.stdout)
    assert [b.scenario for b in profile.builds] == doc["scenarios"]
    assert doc["complete"] == all(b["complete"] for b in doc["builds"])


def test_json_with_a_dockerfile_matches_the_schema(validator):
    r = cli(str(LOGS / "plain_parallel_failure.log"), "-f", str(LOGS / "multi.Dockerfile"), "--format", "json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    validator.validate(doc)
    assert doc["dockerfile"].endswith("multi.Dockerfile")
    assert all(s["line"] is not None for s in doc["builds"][0]["steps"])


def test_schema_rejects_a_broken_profile(validator):
    doc = json.loads(cli(str(LOGS / "plain_padded.log"), "--format", "json").stdout)
    del doc["builds"][0]["steps"][0]["status"]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(doc)


def test_table_output():
    r = cli(str(LOGS / "plain_padded.log"))
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0] == f"cacheprof parse: {LOGS / 'plain_padded.log'} (buildkit builder; plain log)"
    assert any(x.startswith("== log ==") for x in lines)  # one table per build of the log
    assert any("RUN npm run build" in x and "RUN" in x.split() and "7.20" in x for x in lines)
    assert max(map(len, lines[1:])) < 80  # the tables fit a terminal (the first line names the log)


def test_stdin():
    r = cli("-", input=(LOGS / "classic_old.log").read_bytes())
    assert r.exit_code == 0
    assert "RUN make" in r.stdout and "ERROR" in r.stdout


def test_format_in_forces_a_parser():
    # Forced to classic, a BuildKit plain log holds no classic build.
    line = one_error_line(cli(str(LOGS / "plain_padded.log"), "--format-in", "classic"))
    assert "no build step" in line or "no Docker build" in line


# --- garbage ------------------------------------------------------------------------------------


def test_missing_file():
    assert "not found" in one_error_line(cli("/nonexistent/build.log"))


def test_missing_dockerfile():
    assert "Dockerfile not found" in one_error_line(cli(str(LOGS / "plain_padded.log"), "-f", "/nonexistent/Df"))


def test_empty_file(tmp_path):
    (tmp_path / "empty.log").write_bytes(b"")
    assert "empty" in one_error_line(cli(str(tmp_path / "empty.log")))


def test_binary_file(tmp_path):
    (tmp_path / "core").write_bytes(bytes(range(256)) * 4000)
    assert "binary" in one_error_line(cli(str(tmp_path / "core")))


def test_json_that_is_not_a_log(tmp_path):
    (tmp_path / "package.json").write_text(json.dumps({"name": "app", "version": "1.0.0",
                                                         "scripts": {"build": "tsc"}}, indent=2))
    assert "no Docker build found" in one_error_line(cli(str(tmp_path / "package.json")))
    (tmp_path / "one.json").write_text('{"name": "app", "status": "ok", "logs": "none"}\n')
    assert "no Docker build found" in one_error_line(cli(str(tmp_path / "one.json")))


def test_text_without_a_build(tmp_path):
    (tmp_path / "ci.log").write_text("Run actions/checkout@v4\nSyncing repository\nJob succeeded\n")
    assert "no Docker build found" in one_error_line(cli(str(tmp_path / "ci.log")))


def test_a_folder_that_is_not_a_recording(tmp_path):
    assert "folder" in one_error_line(cli(str(tmp_path)))


def test_binary_noise_inside_a_log_is_tolerated(tmp_path):
    text = (LOGS / "plain_padded.log").read_bytes()
    cut = text.index(b"#12 [ 8/13]")
    (tmp_path / "noisy.log").write_bytes(text[:cut] + b"\x00\xff\xfe garbage \x00\n" + text[cut:])
    build = parse_log(tmp_path / "noisy.log").builds[0]
    assert len(build.steps) == 13 and build.complete


def test_50mb_single_line_is_dropped_with_bounded_memory(tmp_path):
    """A 50 MB line alone: one clear line and exit 2; appended to a log: the build still parses."""
    big = tmp_path / "big.log"
    with big.open("wb") as fh:
        chunk = b"A" * (1 << 20)
        for _ in range(50):
            fh.write(chunk)
        fh.write(b"\n")
    # VmHWM, not ru_maxrss: a child started by vfork inherits the parent's (pytest's) peak in ru_maxrss.
    code = (
        "import re, sys\n"
        "from cacheprof.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:], standalone_mode=True)\n"
        "finally:\n"
        "    hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
        "    sys.stderr.write(f'RSS {hwm}\\n')\n"
    )

    def peak_kib(path: Path) -> tuple[subprocess.CompletedProcess, int]:
        r = subprocess.run([sys.executable, "-c", code, "parse", str(path)], capture_output=True, text=True,
                           env={**os.environ, "PYTHONUTF8": "1"}, timeout=120)
        return r, int(next(x for x in r.stderr.splitlines() if x.startswith("RSS ")).split()[1])

    r, rss_kib = peak_kib(big)
    assert r.returncode == 2
    err = [x for x in r.stderr.splitlines() if not x.startswith("RSS ")]
    assert len(err) == 1 and "over 4 MiB skipped" in err[0], r.stderr
    # Against the same command on a one-line log, not an absolute bound: the process peaks near 28 MB
    # (docs/benchmarks.md), so "< 100 MB" held even with the whole 50 MB line in memory. Reading the line
    # whole would add 50 MB; a bounded reader adds about its 4 MiB cap.
    small = tmp_path / "small.log"
    small.write_bytes(b"x\n")
    _, base_kib = peak_kib(small)
    assert rss_kib - base_kib < 16 * 1024, f"peak RSS {rss_kib} KiB against {base_kib} KiB for a one-line log"

    mixed = tmp_path / "mixed.log"
    with mixed.open("wb") as fh:
        text = (LOGS / "plain_padded.log").read_bytes()
        cut = text.index(b"#12 [ 8/13]")
        fh.write(text[:cut])
        fh.write(b"#11 0.123 ")
        with big.open("rb") as src:
            fh.write(src.read())
        fh.write(text[cut:])
    result = parse_log(mixed)
    assert result.skipped_lines == 1
    assert len(result.builds[0].steps) == 13 and result.builds[0].ok


def test_json_stream_cut_mid_line_is_incomplete(tmp_path):
    text = (LOGS / "engine_classic_curl.log").read_bytes()
    cut = text.index(b'{"stream":"Step 4/5')
    (tmp_path / "cut.log").write_bytes(text[: cut + 25])
    build = parse_log(tmp_path / "cut.log").builds[0]
    assert not build.complete and not build.ok
    assert [str(s.status) for s in build.steps] == ["CACHED", "CACHED", "RUN"]


# --- noise ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    (b"2024-05-01T10:00:00.1234567Z #5 [2/4] RUN x\n", b"#5 [2/4] RUN x"),
    (b"2024-05-01T10:00:00.1234567Z 2024-05-01T10:00:00.1234567Z Step 1/2 : FROM a\r\n", b"Step 1/2 : FROM a"),
    (b"[2024-05-01T10:00:00.123Z] Step 1/2 : FROM a\n", b"Step 1/2 : FROM a"),
    (b"section_start:1714557600:build_image\r\x1b[0K\x1b[36;1mBuilding\x1b[0;m\n", b"Building"),
    (b"section_end:1714557600:build_image\r\x1b[0K\n", b""),
    (b"remote: Step 3/8 : WORKDIR /app\r\n", b"Step 3/8 : WORKDIR /app"),
    (b"remote:  ---> Using cache\n", b" ---> Using cache"),
    (b"\x1b_bk;t=1714557600000\x07#3 DONE 0.1s\n", b"#3 DONE 0.1s"),
    (b"\x1b[0m\x1b[91mStep 2/3 : RUN false\x1b[0m\n", b"Step 2/3 : RUN false"),
    (b"Downloading 10%\rDownloading 100%\n", b"Downloading 100%"),
    (b"#8 1.412 Looking in indexes: ***\n", b"#8 1.412 Looking in indexes: ***"),
    (b"```console\n", None),
    (b"   ```\n", None),
])
def test_clean(raw, expected):
    assert clean(raw) == expected


def test_channels():
    assert split_channel(b"service-a  | #5 [2/4] RUN x") == ("service-a", b"#5 [2/4] RUN x")
    assert split_channel(b"web_1  | Step 1/3 : FROM a") == ("web_1", b"Step 1/3 : FROM a")
    assert split_channel(b"   5 | >>> RUN npm ci") is None  # a Dockerfile excerpt in a failure summary
    assert split_channel(b"#5 [2/4] RUN a | b") is None


def test_a_pipe_in_output_is_not_a_channel():
    lines = ["Step 1/2 : FROM busybox", " ---> 0123456789ab", "Step 2/2 : RUN echo a | tee b",
             " ---> Running in 123456789abc", "total | 5 | ok", " ---> 23456789abcd", "Successfully built 23456789abcd"]
    result = parse_log(lines)
    assert [(b.scenario, [str(s.status) for s in b.steps]) for b in result.builds] == [("log", ["CACHED", "RUN"])]


def test_step_zero_numbering_of_docker_1_7():
    lines = ["Step 0 : FROM ubuntu:14.04", " ---> 91e54dfb1179", "Step 1 : RUN apt-get update",
             " ---> Using cache", " ---> 7d3b2c1a0f9e", "Step 2 : CMD bash", " ---> Running in 8b7c6d5e4f3a",
             " ---> 4f3a2b1c0d9e", "Successfully built 4f3a2b1c0d9e"]
    build = parse_log(lines).builds[0]
    assert [(s.position, s.instruction, str(s.status)) for s in build.steps] == [
        (1, "FROM ubuntu:14.04", "CACHED"), (2, "RUN apt-get update", "CACHED"), (3, "CMD bash", "RUN"),
    ]
    assert build.ok


def test_utf16_log_from_powershell(tmp_path):
    text = (LOGS / "classic_old.log").read_text()
    (tmp_path / "ps.log").write_bytes(text.replace("\n", "\r\n").encode("utf-16"))
    build = parse_log(tmp_path / "ps.log").builds[0]
    assert [str(s.status) for s in build.steps] == ["CACHED", "CACHED", "RUN", "RUN", "ERROR"]


def test_mutated_logs_never_raise_anything_but_a_format_error():
    """Cut, flipped and spliced fixtures (and pathological lines): a result or InputFormatError only."""
    import io
    import random

    from cacheprof.dockerfile import load as load_dockerfile
    from cacheprof.errors import InputFormatError

    streams = LOGS.parent / "streams"
    sources = sorted(LOGS.glob("*.log")) + sorted(LOGS.glob("*.md")) + sorted(streams.glob("*/build-*.jsonl"))
    sources += sorted(p for p in (LOGS / "real").iterdir() if p.suffix in (".log", ".md", ".jsonl"))
    models = [None, load_dockerfile(LOGS / "webapp.Dockerfile"), load_dockerfile(LOGS / "multi.Dockerfile")]
    splices = [b"#", b"{", b"\n", b"\r", b"\x00", b"Step 1/2 : FROM x\n", b"#1 [1/2] FROM a\n",
               b"#" + b"9" * 5000 + b" [x 1/1] y\n", b'{"errorDetail":"x"}\n', b'{"stream": 5}\n',
               b'{"vertexes":[{"digest":"a","inputs":5,"started":"2024-13-45T99:99:99Z"}]}\n',
               b'{"id":"moby.buildkit.trace","aux":"!!"}\n', b"#1 DONE 1e999s\n", b'{"a":' + b"[" * 100000 + b"\n",
               b" => [x 1/2] RUN y 9e999s\n", b"[+] Building 1.0s (1/0) FINISHED\n", b" => => # x\n",
               b"#*** [1/2] FROM a\n", b"ERROR: target : failed to solve: x\n", b" \xe2\x9c\x94 Service  Built\n"]
    rng = random.Random(20240501)
    for _ in range(600):
        data = bytearray(rng.choice(sources).read_bytes())
        for _ in range(rng.randint(1, 12)):
            i = rng.randrange(len(data) + 1)
            op = rng.random()
            if op < 0.3:
                del data[i : i + rng.randint(1, 50)]
            elif op < 0.55 and i < len(data):
                data[i] = rng.randrange(256)
            elif op < 0.85:
                data[i:i] = rng.choice(splices)
            else:
                del data[i:]
        try:
            parse_log(io.BytesIO(bytes(data)), rng.choice(models))
        except InputFormatError:
            pass


def test_help_lists_every_format():
    from cacheprof.logparse import Format

    out = CliRunner().invoke(main, ["parse", "--help"]).output
    for f in Format:
        assert f"  {f}  " in out or f"  {f} " in out, f


def test_refusal_names_every_format_looked_for(tmp_path):
    (tmp_path / "ci.log").write_text("Run actions/checkout@v4\nSyncing repository\nJob succeeded\n")
    line = one_error_line(cli(str(tmp_path / "ci.log")))
    for what in ("`#N`", "tty", "Step N/M", "JSON"):
        assert what in line


REAL = LOGS / "real"


@pytest.mark.parametrize("name", sorted(p.name for p in REAL.iterdir() if p.suffix in (".log", ".md", ".jsonl")))
def test_corpus_json_matches_the_schema(name, validator):
    """Every corpus log holds steps: never refused; its profile (with the v2 statuses) is valid."""
    r = cli(str(REAL / name), "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    validator.validate(doc)
    assert any(b["steps"] for b in doc["builds"])


def test_lines_that_only_share_the_widest_length_are_not_rejoined():
    """Output lines of equal, widest length followed by lines of their own are no console wrap."""
    from cacheprof.logparse.unwrap import width_of

    same = b"#5 1.234 Get:12 http://deb.debian.org/debian bookworm/main amd64 libssl3 amd64 3.0.%d [2019 kB]"
    block = b"\n".join(x for n in range(5) for x in (same % n, b"#5 1.300 Setting up", b"")) + b"\n"
    assert width_of(block) is None
    lines = [b"#%d [stage-1 %d/9] RUN apt-get update && apt-get install -y --no-install-recommends curl" % (n, n)
             for n in range(1, 6)]
    wrapped = b"\n".join(x for line in lines for x in (line[:60], line[60:])) + b"\n"
    assert width_of(wrapped) == 60
