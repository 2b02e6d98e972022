"""Build logs of every kind into the one step model (`cacheprof parse`).

    parse_log(source, model=None, fmt=None) -> ParseResult   # builds found in one log
    parse_recording(directory, model=None) -> ParseResult    # a `cacheprof profile --record` folder
    to_profile(result, model=None, log_name="") -> Profile   # the `source: "parse"` profile

Formats (detect.Format): Engine API JSON streams of either builder, classic `docker build` text, BuildKit
`--progress=plain`, `--progress=rawjson` and its terminal display (tty); detected from the first line that
tells, per channel. A channel is the log itself, or one docker-compose service (`service-a  | …` lines;
each service's lines are parsed on their own, so two services' builds may interleave).

Memory is bounded by the steps of the builds, not by the log: the log is read in 64 KiB chunks and no
more than MAX_LINE bytes of one line are kept (longer lines are dropped and counted). A fast path skips
lines that cannot change a build's state (BuildKit output lines, classic step output) without decoding
them, mostly without even splitting them out (see Parser.select).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import BinaryIO

from ..dockerfile import DockerfileModel
from ..errors import InputFormatError, UsageError
from ..model import Build, Builder, EngineInfo, Profile
from .base import Matcher, ParsedBuild, Parser
from .classic_text import ClassicTextParser
from .detect import Format, detect
from .engine_json import EngineJsonParser
from .noise import TIMESTAMP_BLOCK, TIMESTAMP_LINE, clean, split_channel
from .plain import PlainParser
from .prefix import PrefixFinder
from .rawjson import RawJsonParser
from .reader import LineSource, lines_of
from .tty import TtyParser
from .unwrap import unwrap, width_of

__all__ = ["MAX_LINE", "Format", "ParseResult", "parse_log", "parse_recording", "recording_engine", "to_profile"]

MAX_LINE = 4 << 20  # longer than any Engine API message seen; a longer line is dropped, not kept
_PARSERS: dict[Format, Callable[..., Parser]] = {
    Format.ENGINE_JSON: EngineJsonParser,
    Format.CLASSIC: ClassicTextParser,
    Format.PLAIN: PlainParser,
    Format.RAWJSON: RawJsonParser,
    Format.TTY: TtyParser,
}
_LOOKED_FOR = ("BuildKit `#N` plain lines, BuildKit tty `=> [stage i/n]` lines, classic `Step N/M :` lines, "
               "Engine API or rawjson JSON lines")


@dataclass(frozen=True)
class ParseResult:
    builds: tuple[Build, ...]
    formats: tuple[Format, ...]  # per build
    builders: tuple[Builder, ...]  # per build
    skipped_lines: int = 0  # over-long lines dropped
    cut: bool = False  # the log ends in the middle of a line

    @property
    def builder(self) -> str:
        kinds = {str(b) for b in self.builders}
        return kinds.pop() if len(kinds) == 1 else "mixed"


class _Channel:
    __slots__ = ("name", "order", "parser")

    def __init__(self, name: str, order: int) -> None:
        self.name = name
        self.order = order
        self.parser: Parser | None = None


class _LogReader:
    def __init__(self, model: DockerfileModel | None, fmt: Format | None, max_line: int) -> None:
        self.model = model
        self.forced = fmt
        self.max_line = max_line
        self.default = _Channel("", 0)
        self.channels: dict[str, _Channel] = {}
        self.parsed: list[tuple[int, int, ParsedBuild]] = []
        self.skipped = 0
        self.binary = 0
        self.cut = False
        self.empty = False
        self.seen = False
        self.strip: Callable[[bytes, bytes], bytes] | None = None  # block-level noise removal, once seen
        self.block_noise: list[re.Pattern[bytes]] = []
        self.prefix = PrefixFinder()
        self.claimed = False  # a line of some format came without a prefix: stop looking for one

    # --- the line loop (hot path) ---------------------------------------------------------------

    def consume(self, source: LineSource | Iterator[bytes]) -> None:
        if isinstance(source, LineSource):
            source.on_drop = self._lost
            blocks = source.blocks()
        else:
            blocks = source
        first = next(blocks, None)
        if first is not None:
            blocks = itertools.chain([first], blocks)
            width = width_of(first)
            if width is not None:  # a console wrapped the lines: rejoin them first
                blocks = unwrap(blocks, width)
        slow = self._slow
        skip_if, keep_first, select = self._fast()
        for block in blocks:
            todo: bytes | None = block
            while todo is not None:
                if self.strip is not None:
                    todo = self.strip(b"\n", todo)
                if select is None:
                    # Every line goes to the slow path; when it finds noise to strip from whole blocks
                    # (a CI timestamp, a prefix), the rest of this block is stripped before going on.
                    lines = todo.split(b"\n")
                    noise = len(self.block_noise)
                    todo = None
                    for i, raw in enumerate(lines):
                        slow(raw)
                        skip_if, keep_first, select = self._fast()
                        if len(self.block_noise) != noise or select is not None:
                            if i + 1 < len(lines):
                                todo = b"\n" + b"\n".join(lines[i + 1 :])
                            break
                    continue
                todo_lines = select(todo)
                todo = None
                for raw in todo_lines:
                    if skip_if is not None:
                        if skip_if(raw) is not None:
                            continue
                    elif keep_first is not None:
                        keep = keep_first.get(raw[:1])  # one-byte slices are cached objects: no allocation
                        if keep is None or keep(raw) is None:
                            continue
                    slow(raw)
                    skip_if, keep_first, select = self._fast()
        if isinstance(source, LineSource):
            self.skipped, self.cut, self.empty = source.skipped, source.cut, source.empty
        else:
            self.empty = not self.seen

    def _fast(self) -> tuple[Matcher | None, dict[bytes, Matcher] | None, Callable[[bytes], list[bytes]] | None]:
        p = self.default.parser
        if p is None or self.channels:
            # Undetected yet, or compose services: every line may open or feed a channel.
            return None, None, None
        return p.skip_if, p.keep_first, p.select

    def _lost(self) -> None:
        for ch in (self.default, *self.channels.values()):
            if ch.parser is not None:
                ch.parser.lost_line()

    # --- one line that may matter ---------------------------------------------------------------

    def _slow(self, raw: bytes) -> None:
        self.seen = True
        if b"\x00" in raw:
            self.binary += 1
        if not self.block_noise and raw[:1].isdigit() and TIMESTAMP_LINE.match(raw):
            self._strip_blocks(TIMESTAMP_BLOCK)
        line = clean(raw)
        if line is None:
            return
        if self.prefix.found is not None:
            line = self.prefix.strip(line)
        elif not self.claimed and not self.channels:
            if detect(line) is not None:
                self.claimed = True
            else:
                # No format claims the line: maybe a prefix nobody listed stands before the build's lines
                # (also with --format-in, which skips detection but not this).
                confirmed = self.prefix.offer(line)
                if confirmed:
                    self._strip_blocks(self.prefix.block_pattern())
                    for x in confirmed:
                        self._route(x)
                    return
        self._route(line)

    def _strip_blocks(self, pattern: re.Pattern[bytes]) -> None:
        self.block_noise.append(pattern)
        subs = [p.sub for p in self.block_noise]
        if len(subs) == 1:
            self.strip = subs[0]
        else:
            def strip(repl: bytes, block: bytes) -> bytes:
                for sub in subs:
                    block = sub(repl, block)
                return block
            self.strip = strip

    def _route(self, line: bytes) -> None:
        chan = self.default
        split = split_channel(line)
        if split is not None:
            name, rest = split
            ch = self.channels.get(name)
            if ch is None and detect(rest) is not None:  # a service's build line opens its channel
                ch = self.channels[name] = _Channel(name, len(self.channels) + 1)
            if ch is not None:
                chan, line = ch, rest
        if chan.parser is None:
            # A forced format too starts at the first line some format claims (a log's prose before the
            # build, or a prefix still to be found, would otherwise send everything down its fast path).
            seen = detect(line)
            if seen is None:
                return
            chan.parser = _PARSERS[self.forced or seen](self.model, partial(self._emit, chan), chan.name)
        chan.parser.feed(line)

    def _emit(self, chan: _Channel, pb: ParsedBuild) -> None:
        self.parsed.append((chan.order, len(self.parsed), pb))

    def finish(self) -> list[ParsedBuild]:
        for ch in (self.default, *self.channels.values()):
            if ch.parser is not None:
                ch.parser.close(cut=self.cut)
        return [pb for _, _, pb in sorted(self.parsed, key=lambda x: (x[0], x[1]))]


# --- sources ------------------------------------------------------------------------------------


def parse_log(
    source: str | Path | BinaryIO | Iterable[str | bytes],
    model: DockerfileModel | None = None,
    fmt: Format | str | None = None,
    *,
    name: str | None = None,
    max_line: int = MAX_LINE,
) -> ParseResult:
    """Every build in one log. `source`: a path, a binary file, or lines (str or bytes).

    Raises InputFormatError (one line) for a missing, empty, binary or build-less log."""
    forced = Format(fmt) if fmt is not None else None
    reader = _LogReader(model, forced, max_line)
    label = name or (str(source) if isinstance(source, str | Path) else "log")
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise UsageError(f"log file not found: {path}; pass a build log, or - for stdin") from None
        except IsADirectoryError:
            raise UsageError(f"{path} is a folder; pass a log file, or a `--record` folder with builds.jsonl") from None
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror}") from None
        with fh:
            reader.consume(LineSource.of_file(fh, max_line))
    elif hasattr(source, "read"):
        reader.consume(LineSource.of_file(source, max_line))  # type: ignore[arg-type]
    else:
        reader.consume(lines_of(source))  # type: ignore[arg-type]
    parsed = reader.finish()
    if not parsed:
        raise InputFormatError(_nothing_found(label, reader))
    return _result(parsed, reader.skipped, reader.cut)


def _nothing_found(label: str, reader: _LogReader) -> str:
    fmts = {str(ch.parser.fmt) for ch in (reader.default, *reader.channels.values()) if ch.parser is not None}
    if reader.empty:
        return f"{label}: empty; nothing to parse (pass a docker build log)"
    if reader.binary:
        return f"{label}: binary data, not a build log; pass the text output of docker build"
    if fmts:
        return f"{label}: looks like a {'/'.join(sorted(fmts))} log but holds no build step; is it complete?"
    extra = f" ({reader.skipped} line(s) over {reader.max_line >> 20} MiB skipped)" if reader.skipped else ""
    return (f"{label}: no Docker build found{extra}; looked for {_LOOKED_FOR} "
            "(pass --format-in to force a format)")


def _result(parsed: list[ParsedBuild], skipped: int, cut: bool, names: list[tuple[str, int]] | None = None
            ) -> ParseResult:
    if names is None:
        names = _scenario_names(parsed)
    builds = tuple(_build(pb, scenario, repeat) for pb, (scenario, repeat) in zip(parsed, names, strict=True))
    return ParseResult(
        builds=builds,
        formats=tuple(pb.fmt for pb in parsed),
        builders=tuple(pb.builder for pb in parsed),
        skipped_lines=skipped,
        cut=cut,
    )


def _scenario_names(parsed: list[ParsedBuild]) -> list[tuple[str, int]]:
    """`log` for a single build; `build-1`, `build-2`… ; a compose service's builds by its name."""
    if len(parsed) == 1:
        return [(parsed[0].channel or "log", 1)]
    per_channel: dict[str, int] = {}
    for pb in parsed:
        per_channel[pb.channel] = per_channel.get(pb.channel, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for pb in parsed:
        n = seen[pb.channel] = seen.get(pb.channel, 0) + 1
        if not pb.channel:
            out.append((f"build-{n}", 1))
        else:
            out.append((pb.channel if per_channel[pb.channel] == 1 else f"{pb.channel}-{n}", 1))
    return out


def _build(pb: ParsedBuild, scenario: str, repeat: int) -> Build:
    o = pb.outcome
    timed = pb.timed and o.started is not None and o.finished is not None
    return Build(
        scenario=scenario,
        repeat=repeat,
        ok=o.ok,
        error=o.error,
        duration_s=max(0.0, o.finished - o.started) if timed else None,  # type: ignore[operator]
        image_id=o.image_id,
        steps=o.steps,
        internal=o.internal,
        started=o.started if pb.timed else None,
        complete=o.complete,
    )


# --- cacheprof recordings -----------------------------------------------------------------------


def parse_recording(directory: Path, model: DockerfileModel | None = None) -> ParseResult:
    """The builds of a `cacheprof profile --record DIR` folder, with the recorded scenario names."""
    index = directory / "builds.jsonl"
    try:
        entries = [json.loads(x) for x in index.read_text(encoding="utf-8").splitlines() if x.strip()]
    except (OSError, ValueError, RecursionError):
        raise InputFormatError(f"{index}: not a cacheprof recording index; record one with --record DIR") from None
    parsed: list[ParsedBuild] = []
    names: list[tuple[str, int]] = []
    skipped = 0
    for n, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("stream"), str):
            raise InputFormatError(f"{index}:{n}: no stream file named; is this a cacheprof recording?")
        builder = Builder(entry["builder"]) if entry.get("builder") in ("buildkit", "classic") else None
        found: list[ParsedBuild] = []
        reader = _LogReader(model, Format.ENGINE_JSON, MAX_LINE)
        reader.default.parser = EngineJsonParser(model, found.append, builder=builder)
        stream = directory / Path(entry["stream"]).name
        try:
            with stream.open("rb") as fh:
                reader.consume(LineSource.of_file(fh, MAX_LINE))
        except OSError as e:
            raise InputFormatError(f"{stream}: cannot read the recorded stream ({e.strerror})") from None
        reader.finish()
        skipped += reader.skipped
        scenario = str(entry.get("scenario") or f"build-{n}")
        repeat = entry["repeat"] if isinstance(entry.get("repeat"), int) and entry["repeat"] >= 1 else 1
        lost = entry.get("lost_engine")
        for pb in found or [_empty(builder)]:
            if isinstance(lost, str):  # the runner noted that the engine went away mid-build
                pb = replace(pb, outcome=replace(pb.outcome, ok=False, error=lost, complete=False))
            parsed.append(pb)
            names.append((scenario, repeat))
    if not parsed:
        raise InputFormatError(f"{index}: the recording holds no builds")
    return _result(parsed, skipped, False, names)


def _empty(builder: Builder | None) -> ParsedBuild:
    from ..model import BuildOutcome

    outcome = BuildOutcome(ok=False, error="the recorded stream holds no build output", steps=(), internal=(),
                           image_id=None, complete=False, started=None, finished=None)
    return ParsedBuild(outcome, builder or Builder.BUILDKIT, Format.ENGINE_JSON, timed=False)


def recording_engine(directory: Path) -> EngineInfo | None:
    try:
        meta = json.loads((directory / "engine.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(meta, dict):
        return None
    return EngineInfo(version=str(meta.get("version", "")), api_version=str(meta.get("api_version", "")),
                      os=str(meta.get("os", "")), arch=str(meta.get("arch", "")), host=str(meta.get("host", "")))


# --- the profile --------------------------------------------------------------------------------


def to_profile(result: ParseResult, model: DockerfileModel | None = None, log_name: str = "",
               engine: EngineInfo | None = None) -> Profile:
    """The parsed builds as a `cacheprof/profile/v2` profile with `source: "parse"`; `context` names the
    log (a log has no build context)."""
    return Profile(
        builder=result.builder,
        dockerfile=model.path if model is not None else "",
        context=log_name,
        builds=result.builds,
        engine=engine,
        scenarios=tuple(dict.fromkeys(b.scenario for b in result.builds)),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        source="parse",
    )

