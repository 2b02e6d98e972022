""".dockerignore matching with Docker's own semantics (moby/patternmatcher and the CLI's ignore-file reader).

Docker turns each pattern into a Go regular expression (or a plain exact/prefix/suffix test) and checks a
path, then each of its parent directories, against every pattern in order; the last pattern that matches
decides, and `!` patterns re-include. The quirks of that translation are kept on purpose (e.g. `**foo`
matches `barfoo`), because cacheprof must send exactly the files Docker sends. Go's regex syntax leaks
through only in `[...]` classes and `\\` escapes: those are translated for what they mean to Docker when
that is a literal, and refused with a clear error otherwise (`\\d`, `[[:alpha:]]`), never guessed.

Pure Python: no Docker, no Go.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError

# Go's unicode.IsSpace set (strings.TrimSpace); Python's str.strip() would also drop \x1c-\x1f.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
    "\u2028\u2029\u202f\u205f\u3000"

_EXACT, _PREFIX, _SUFFIX, _REGEXP = range(4)
# Regex metacharacters that mean nothing in a filepath.Match pattern, so moby escapes them.
_MOBY_ESCAPED = frozenset(".+()|{}$")


def clean_path(path: str) -> str:
    """Go's filepath.Clean for slash paths (posixpath.normpath keeps a leading `//`; Go does not)."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(comp)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def _go_dir(path: str) -> str:
    return clean_path(path[: path.rfind("/") + 1])


def read_patterns(text: str) -> list[tuple[int, str]]:
    """The CLI's reading of a .dockerignore: (line number, pattern) for each pattern line.

    A `#` comment must start the line (before trimming: ` #x` is the pattern `#x`); lines are trimmed;
    the part after `!` is cleaned like a path and a leading `/` dropped.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out: list[tuple[int, str]] = []
    for n, line in enumerate(lines, 1):
        if line.endswith("\r"):
            line = line[:-1]
        if line.startswith("#"):
            continue
        pattern = line.strip(_GO_SPACE)
        if not pattern:
            continue
        invert = pattern[0] == "!"
        if invert:
            pattern = pattern[1:].strip(_GO_SPACE)
        if pattern:
            pattern = clean_path(pattern)
            if len(pattern) > 1 and pattern[0] == "/":
                pattern = pattern[1:]
        out.append((n, "!" + pattern if invert else pattern))
    return out


class _BadPattern(Exception):
    pass


# --- Go's filepath.Match syntax check (moby calls Match(p, ".") only to learn whether p is well formed) ---


def _get_esc(chunk: str, j: int) -> int:
    n = len(chunk)
    if j >= n:
        raise _BadPattern("unterminated character class")
    if chunk[j] in "-]":
        raise _BadPattern(f"unexpected {chunk[j]!r} in a character class")
    if chunk[j] == "\\":
        j += 1
        if j >= n:
            raise _BadPattern("trailing backslash")
    if 0xDC80 <= ord(chunk[j]) <= 0xDCFF:  # an undecodable byte: Go's RuneError
        raise _BadPattern("invalid UTF-8 in a character class")
    j += 1
    if j >= n:
        raise _BadPattern("unterminated character class")
    return j


def _check_chunk(chunk: str) -> None:
    j, n = 0, len(chunk)
    while j < n:
        c = chunk[j]
        if c == "[":
            j += 1
            if j < n and chunk[j] == "^":
                j += 1
            nrange = 0
            while True:
                if j < n and chunk[j] == "]" and nrange > 0:
                    j += 1
                    break
                j = _get_esc(chunk, j)
                if chunk[j] == "-":
                    j = _get_esc(chunk, j + 1)
                nrange += 1
        elif c == "\\":
            j += 1
            if j >= n:
                raise _BadPattern("trailing backslash")
            j += 1
        else:
            j += 1


def _check_match_syntax(pattern: str) -> None:
    rest = pattern
    while rest:
        rest = rest.lstrip("*")
        inrange = False
        i = 0
        while i < len(rest):
            c = rest[i]
            if c == "\\":
                if i + 1 < len(rest):
                    i += 1
            elif c == "[":
                inrange = True
            elif c == "]":
                inrange = False
            elif c == "*" and not inrange:
                break
            i += 1
        _check_chunk(rest[:i])
        rest = rest[i:]


# --- what moby's regex translation lets through: classes and escapes ---

_CLASS_SPECIAL = frozenset("\\]^-[")


def _literal(c: str, in_class: bool = False) -> str:
    if in_class:
        return "\\" + c if c in _CLASS_SPECIAL else c
    return re.escape(c)


def _escaped(c: str) -> str:
    """`\\c`: moby hands it to Go's regexp, where escaped punctuation is literal but an escaped letter or
    digit is a class (`\\d`), an anchor or an error. Only the literal case is accepted."""
    if c.isascii() and c.isalnum():
        raise _BadPattern(f"\\{c} is a regular-expression escape to Docker, not a literal; "
                          "write the characters (e.g. [0-9] for \\d)")
    return c


def _class(chunk: str, i: int) -> tuple[str, int]:
    """A `[...]` class at chunk[i] (its syntax already checked by _check_match_syntax), as a Python class."""
    i += 1
    out = "["
    if chunk[i] == "^":
        out += "^"
        i += 1
    if chunk.startswith("[:", i) or chunk.startswith("[=", i) or chunk.startswith("[.", i):
        raise _BadPattern("POSIX classes such as [[:alpha:]] are not supported; list the characters")
    first = True
    while first or chunk[i] != "]":
        first = False
        lo, i = (_escaped(chunk[i + 1]), i + 2) if chunk[i] == "\\" else (chunk[i], i + 1)
        out += _literal(lo, True)
        if chunk[i] == "-":
            hi, i = (_escaped(chunk[i + 2]), i + 3) if chunk[i + 1] == "\\" else (chunk[i + 1], i + 2)
            if hi < lo:
                raise _BadPattern(f"invalid character class range {lo}-{hi}")
            out += "-" + _literal(hi, True)
    return out + "]", i + 1


@dataclass(frozen=True)
class _Pattern:
    cleaned: str
    exclusion: bool
    kind: int
    regex: re.Pattern[str] | None

    def match(self, path: str) -> bool:
        if self.kind == _EXACT:
            return path == self.cleaned
        if self.kind == _PREFIX:
            return path.startswith(self.cleaned[:-2])
        if self.kind == _SUFFIX:
            suffix = self.cleaned[2:]
            if path.endswith(suffix):
                return True
            return suffix[:1] == "/" and path == suffix[1:]  # `**/foo` matches `foo`
        assert self.regex is not None
        return self.regex.search(path) is not None


def _compile(cleaned: str, exclusion: bool) -> _Pattern:
    """moby's Pattern.compile: pick exact/prefix/suffix matching when it can, else build a regex."""
    parts: list[str] = ["^"]
    kind = _EXACT
    pos, n = 0, len(cleaned)
    first = True
    while pos < n:
        ch = cleaned[pos]
        pos += 1
        if ch == "*":
            if pos < n and cleaned[pos] == "*":
                pos += 1
                if pos < n and cleaned[pos] == "/":
                    pos += 1  # `**/` is `**`
                if pos >= n:
                    if kind == _EXACT:
                        kind = _PREFIX
                    else:
                        parts.append(".*")
                        kind = _REGEXP
                else:
                    parts.append("(.*/)?")
                    kind = _REGEXP
                if first:
                    kind = _SUFFIX
            else:
                parts.append("[^/]*")
                kind = _REGEXP
        elif ch == "?":
            parts.append("[^/]")
            kind = _REGEXP
        elif ch in _MOBY_ESCAPED:
            parts.append("\\" + ch)
        elif ch == "\\":  # a trailing backslash was refused by _check_match_syntax
            parts.append(_literal(_escaped(cleaned[pos])))
            pos += 1
            kind = _REGEXP
        elif ch == "[":
            piece, pos = _class(cleaned, pos - 1)
            parts.append(piece)
            kind = _REGEXP
        elif ch == "^":
            parts.append("^")  # moby leaves it to Go's regexp: an anchor (so mid-pattern it never matches)
        else:
            parts.append(_literal(ch))
        first = False
    regex = None
    if kind == _REGEXP:
        parts.append(r"\Z")  # Go's $: the end of the text, not before a final newline
        regex = re.compile("".join(parts))
    return _Pattern(cleaned, exclusion, kind, regex)


class DockerIgnore:
    """The patterns of one .dockerignore, matched the way Docker matches them."""

    def __init__(
        self, patterns: Iterable[str], *, source: str = ".dockerignore", lines: Sequence[int] | None = None
    ) -> None:
        """`patterns` as the CLI reads them (see read_patterns); compiled like patternmatcher.New."""
        self.source = source
        self.raw: tuple[str, ...] = tuple(patterns)
        self._patterns: list[_Pattern] = []
        for k, raw in enumerate(self.raw):
            p = raw.strip(_GO_SPACE)
            if not p:
                continue
            p = clean_path(p)
            exclusion = p[0] == "!"
            where = f"{source}:{lines[k]}" if lines is not None and k < len(lines) else source
            if exclusion:
                if len(p) == 1:
                    raise UsageError(f'{where}: illegal exclusion pattern "!"; give a path after the !')
                p = p[1:]
            try:
                _check_match_syntax(p)
                self._patterns.append(_compile(p, exclusion))
            except _BadPattern as e:
                raise UsageError(f"{where}: invalid pattern {raw!r} ({e}); fix or remove it") from None
        self.has_exclusions = any(p.exclusion for p in self._patterns)

    @classmethod
    def from_text(cls, text: str, source: str = ".dockerignore") -> DockerIgnore:
        read = read_patterns(text)
        return cls([p for _, p in read], source=source, lines=[n for n, _ in read])

    @classmethod
    def from_file(cls, path: Path) -> DockerIgnore:
        """A missing file means no patterns, as for Docker."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return cls([], source=str(path))
        except IsADirectoryError:
            raise UsageError(f"{path} is a directory; .dockerignore must be a file") from None
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror}; fix its permissions") from None
        return cls.from_text(data.decode("utf-8", "surrogateescape"), source=str(path))

    @classmethod
    def for_context(cls, context_dir: Path) -> DockerIgnore:
        return cls.from_file(Path(context_dir) / ".dockerignore")

    def with_patterns(self, extra: Iterable[str]) -> DockerIgnore:
        """A copy with patterns appended (as the CLI appends `!Dockerfile`); compiled ones are reused."""
        more = DockerIgnore(extra, source=self.source)
        copy = DockerIgnore([], source=self.source)
        copy.raw = (*self.raw, *more.raw)
        copy._patterns = [*self._patterns, *more._patterns]
        copy.has_exclusions = self.has_exclusions or more.has_exclusions
        return copy

    @property
    def patterns(self) -> tuple[str, ...]:
        return self.raw

    def __bool__(self) -> bool:
        """False when there is no pattern at all (nothing can be excluded)."""
        return bool(self._patterns)

    def excluded(self, relpath: str, is_dir: bool = False) -> bool:
        """Whether Docker's matcher excludes this context-relative path (it or a parent directory matches).

        `is_dir` changes nothing: Docker matches directories and files alike (a pattern's trailing `/`
        is cleaned away). Note the tar walk can still leave out a non-excluded file whose directory is
        excluded (see may_reinclude_under).
        """
        path = clean_path(relpath.lstrip("/"))
        if path == ".":
            return False
        return self._matches_or_parent_matches(path)

    def _matches_or_parent_matches(self, path: str) -> bool:
        matched = False
        parent = _go_dir(path)
        parent_dirs = parent.split("/")
        for p in self._patterns:
            # An include pattern cannot change an already excluded path, nor an exception an included one.
            if p.exclusion != matched:
                continue
            match = p.match(path)
            if not match and parent != ".":
                match = any(p.match("/".join(parent_dirs[: i + 1])) for i in range(len(parent_dirs)))
            if match:
                matched = not p.exclusion
        return matched

    def legacy_matches(self, path: str) -> bool:
        """patternmatcher.Matches (deprecated, checks one parent level): what the CLI uses to decide
        whether to re-include the Dockerfile and .dockerignore."""
        path = clean_path(path)
        if path == ".":
            return False
        matched = False
        parent = _go_dir(path)
        parent_dirs = parent.split("/")
        for p in self._patterns:
            if p.exclusion != matched:
                continue
            match = p.match(path)
            if not match and parent != ".":
                depth = len(p.cleaned.split("/"))
                if depth <= len(parent_dirs):
                    match = p.match("/".join(parent_dirs[:depth]))
            if match:
                matched = not p.exclusion
        return matched

    def matches_using_parent(self, path: str, parent_info: list[bool] | None) -> tuple[bool, list[bool]]:
        """patternmatcher.MatchesUsingParentResults: the test the tar walk applies, reusing the
        per-pattern results of the parent directory (None at the context root)."""
        matched = False
        info = [False] * len(self._patterns)
        for k, p in enumerate(self._patterns):
            match = parent_info[k] if parent_info else False
            if not match:
                if p.exclusion != matched:
                    continue
                match = p.match(path)
                if not match and not parent_info:
                    parent = _go_dir(path)
                    if parent != ".":
                        dirs = parent.split("/")
                        match = any(p.match("/".join(dirs[: i + 1])) for i in range(len(dirs)))
            info[k] = match
            if match:
                matched = not p.exclusion
        return matched, info

    def may_reinclude_under(self, reldir: str) -> bool:
        """Whether the tar walk must still enter an excluded directory: only when an exception pattern
        starts with `reldir/` literally (`!*/keep` does not count: Docker skips the directory)."""
        if not self.has_exclusions:
            return False
        prefix = reldir + "/"
        return any(p.exclusion and (p.cleaned + "/").startswith(prefix) for p in self._patterns)
