"""`docker build` CLI text of the classic builder (`DOCKER_BUILDKIT=0`): `Step N/M : …`, ` ---> …`.

Lines go to ClassicAssembler.feed_line without arrival times (the text has no clock). A new build starts
at `Sending build context to Docker daemon`, at a Step number not above the last one (numbering
restarted), or at any Step after the previous build ended (the engine's `Successfully built <id>` after the
last step, or a CLI error line).

The fast path keeps only lines that can matter to a classic build, so a docker-compose `service  | …`
line that follows an unprefixed classic build is not seen (compose logs start with prefixed lines).
"""

from __future__ import annotations

import re

from ..dockerfile import DockerfileModel
from ..model import Builder
from ..steps.classic import ClassicAssembler
from .base import Emit, Matcher, ParsedBuild, ParserBase
from .detect import Format

STEP = re.compile(rb"Step (\d{1,9})(?:/(\d{1,9}))? : ")
# What the CLI prints when a classic build fails (compose v1 wraps it in `ERROR: Service 'x' failed…`).
FAILURE = re.compile(
    rb"(?:ERROR: )?(?:Service '[^']*' failed to build\s*:?\s*)?"
    rb"(?:The command .* returned a non-zero code|(?:COPY|ADD) failed: |Error response from daemon: |"
    rb"unable to prepare context: |error checking context: |Cannot locate specified Dockerfile)"
)
# Fast path: outside a FROM step (whose pull progress is read line by line), only lines starting like
# these can change a classic build's state, or carry a noise prefix to clean first (` ---> Removed
# intermediate container` changes nothing). Keyed by first byte: one dict lookup rejects most output
# lines without running a regex.
_ALWAYS = re.compile(b"").match
_TIMESTAMP = re.compile(rb"\d{4}-\d\d-\d\d").match
KEEP_FIRST: dict[bytes, Matcher] = {
    b"S": re.compile(rb"Step \d|Sending build context|Successfully built |Service '").match,
    b" ": re.compile(rb" --->(?! Removed)|\s+(?:```|~~~)").match,
    b"\t": re.compile(rb"\s+(?:```|~~~)").match,
    b"T": re.compile(rb"The command ").match,
    b"C": re.compile(rb"COPY failed|Cannot locate").match,
    b"A": re.compile(rb"ADD failed").match,
    b"E": re.compile(rb"Error response|ERROR").match,
    b"u": re.compile(rb"unable to prepare").match,
    b"e": re.compile(rb"error checking context").match,
    b"r": re.compile(rb"remote:").match,
    b"s": re.compile(rb"section_").match,
    b"[": re.compile(rb"\[\d{4}-").match,
    b"`": re.compile(rb"```").match,
    b"~": re.compile(rb"~~~").match,
    b"\x1b": _ALWAYS,
    b"\xef": _ALWAYS,  # a byte order mark
    **{bytes([d]): _TIMESTAMP for d in b"0123456789"},
}
# Lines that may matter in some state, found in a whole block by two searches that each start with a
# literal (so the regex engine skips ahead): a line start KEEP_FIRST knows, or pull progress anywhere
# in a line (`latest: Pulling from …`). One regex with both would try every byte.
_LINE_START = re.compile(
    rb"\n(?=Step \d|Sending build|Successfully built |Service '| --->(?! Removed)|The command |COPY failed|ADD failed|"
    rb"Cannot locate|Error response|ERROR|unable to prepare|error checking|remote:|section_|[\x1b\xef]|"
    rb"\d{4}-\d\d-\d\d|\[\d{4}-|\s*```|\s*~~~|Pulling|Download)"
)
_PULL = re.compile(rb": Pulling from ")
# What may follow a Step line and is a line of its own, not the rest of a wrapped one.
OWN_LINE = re.compile(
    rb"\s*$|\s?--->|Step \d|\S*: Pulling from |Pulling |Digest: |Status: |# Executing|Successfully |"
    rb"Removing intermediate|Sending build|WARNING|ERROR|Error|\[Warning\]"
)


def select(block: bytes) -> list[bytes]:
    """The block's first line (left to KEEP_FIRST), and every line that may matter, in order; also the
    line after a Step line when it is not the usual ` --->` (it may be the rest of a wrapped Step line)."""
    first = block.find(b"\n")
    if first < 0:
        return [block]
    starts = [m.end() for m in _LINE_START.finditer(block)]
    pulls = [block.rfind(b"\n", 0, m.start()) + 1 for m in _PULL.finditer(block)]
    if pulls:
        starts = sorted(set(starts).union(p for p in pulls if p > 0))
    out = [block[:first]]
    find, startswith = block.find, block.startswith
    if startswith(b"Step ") and not startswith(b" --->", first + 1) and (not starts or starts[0] != first + 1):
        starts.insert(0, first + 1)
    k, n = 0, len(starts)
    while k < n:
        start = starts[k]
        end = find(b"\n", start)
        if end < 0:
            out.append(block[start:])
            break
        out.append(block[start:end])
        k += 1
        if startswith(b"Step ", start) and not startswith(b" --->", end + 1):
            # Rare: the next lines (up to 3: a line wrapped more than once) go to the parser, which tells
            # the rest of a Step line from a line of its own; KEEP_FIRST filters them again after that.
            at, stop = end + 1, starts[k] if k < n else len(block)
            extra = []
            while at < stop and len(extra) < 3:
                extra.append(at)
                nl = find(b"\n", at)
                at = len(block) if nl < 0 else nl + 1
            starts[k:k] = extra
            n += len(extra)
    return out


class ClassicTextParser(ParserBase):
    fmt = Format.CLASSIC

    def __init__(self, model: DockerfileModel | None, emit: Emit, channel: str = "") -> None:
        super().__init__(model, emit, channel)
        self.keep_first = KEEP_FIRST
        self.select = select
        self.asm: ClassicAssembler | None = None
        self.marker = False  # `Sending build context` seen: a build began even if no step follows
        self.ended = False
        self.offset = 0
        self.last = -1
        self.pending: bytes | None = None  # a Step line, held until the next line tells whether it wrapped

    def _assembler(self) -> ClassicAssembler:
        if self.asm is None:
            self.asm = ClassicAssembler(self.model)
        return self.asm

    def feed(self, line: bytes) -> None:
        if self.pending is not None:
            if not OWN_LINE.match(line) and not FAILURE.match(line):
                self.pending += line  # the rest of a Step line a console wrapped; it may go on again
                return
            self._take_step()
        if line.startswith(b" --->"):  # most lines that get here: a step's cache/container/close line
            if self.asm is not None:
                self.asm.feed_line(line.decode("utf-8", "replace"), None)
            return
        if line.startswith(b"Step "):
            if STEP.match(line) is not None:
                self.pending = line
                self.keep_first = None  # see the next line whatever it starts with
                return
        elif line.startswith(b"Sending build context"):
            if self.asm is not None and (self.asm.saw_step or self.ended or self.asm.error):
                self._finish()
            self._assembler()
            self.marker = True
            return
        elif FAILURE.match(line):
            asm = self._assembler()
            asm.fail(line.decode("utf-8", "replace"), None)
            self.ended = True
            return
        if self.asm is None:
            return
        self.asm.feed_line(line.decode("utf-8", "replace"), None)
        if self.asm.succeeded and not self.ended:
            # Only the engine's `Successfully built <id>` after the last step: a step's own output
            # saying `Successfully built gast` does not end the build.
            self.ended = True
            self.keep_first = KEEP_FIRST

    def _take_step(self) -> None:
        line, self.pending = self.pending, None
        m = STEP.match(line)  # type: ignore[arg-type]
        self._step(int(m.group(1)), m.group(2), line, m.end())  # type: ignore[union-attr, arg-type]

    def _step(self, n: int, total: bytes | None, line: bytes, end: int) -> None:
        if self.asm is not None and (self.ended or (self.asm.saw_step and n <= self.last)):
            self._finish()  # numbers only grow within a build
        asm = self._assembler()
        if not asm.saw_step:
            self.offset = 1 if n == 0 else 0  # Docker < 1.8 counted steps from 0
        self.last = n
        text = line[end:].decode("utf-8", "replace")
        if self.offset:
            n += self.offset
            total_s = f"/{int(total) + self.offset}" if total else ""
            asm.feed_line(f"Step {n}{total_s} : {text}", None)
        else:
            asm.feed_line(line.decode("utf-8", "replace"), None)
        # A FROM step's pull progress decides its status: read every line until the next step.
        self.keep_first = None if text.lstrip()[:4].upper() == "FROM" else KEEP_FIRST

    def close(self, *, cut: bool) -> None:
        if self.pending is not None:
            self._take_step()
        self._finish()

    def _finish(self) -> None:
        asm = self.asm
        if asm is not None and (asm.saw_step or self.marker or asm.error):
            outcome = asm.outcome(ended=True)
            self.emit(ParsedBuild(outcome, Builder.CLASSIC, self.fmt, timed=False, channel=self.channel))
        self.asm = None
        self.marker = False
        self.ended = False
        self.offset = 0
        self.last = -1
        self.keep_first = KEEP_FIRST
