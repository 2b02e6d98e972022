""".dockerignore semantics, checked against Docker's documented behaviour and moby/patternmatcher's answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from cacheprof.context.dockerignore import DockerIgnore, clean_path, read_patterns
from cacheprof.errors import UsageError


def excluded(text: str, path: str) -> bool:
    return DockerIgnore.from_text(text).excluded(path)


# --- the examples of Docker's .dockerignore documentation ---


DOCS_EXAMPLE = "# comment\n*/temp*\n*/*/temp*\ntemp?\n"


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("somedir/temporary.txt", True),  # */temp*
        ("somedir/temp", True),
        ("somedir/temp/inner.txt", True),  # a matching directory excludes what is beneath it
        ("temporary.txt", False),  # */temp* needs one directory level
        ("somedir/subdir/temporary.txt", True),  # */*/temp*
        ("a/b/c/temporary.txt", False),  # too deep for */*/temp*, and no parent is named temp*
        ("tempa", True),  # temp?
        ("tempb", True),
        ("temp", False),
        ("tempab", False),
        ("comment", False),  # the # line is a comment, not a pattern
        ("# comment", False),
    ],
)
def test_documented_example(path: str, want: bool) -> None:
    ignore = DockerIgnore.from_text(DOCS_EXAMPLE)
    assert ignore.excluded(path) is want


def test_double_star_matches_any_depth() -> None:
    ignore = DockerIgnore.from_text("**/*.go\n")
    assert ignore.excluded("main.go")
    assert ignore.excluded("cmd/tool/main.go")
    assert not ignore.excluded("cmd/tool/main.py")
    assert not ignore.excluded("go")


def test_exception_reincludes_readme() -> None:
    ignore = DockerIgnore.from_text("*.md\n!README.md\n")
    assert ignore.excluded("CHANGES.md")
    assert not ignore.excluded("README.md")
    assert ignore.has_exclusions


def test_last_matching_pattern_wins() -> None:
    # Docker's documented example: README-secret.md is excluded again by the last line.
    ignore = DockerIgnore.from_text("*.md\n!README*.md\nREADME-secret.md\n")
    assert ignore.excluded("CHANGES.md")
    assert not ignore.excluded("README.md")
    assert not ignore.excluded("README-public.md")
    assert ignore.excluded("README-secret.md")
    # The other order: the exception comes last and wins.
    ignore = DockerIgnore.from_text("*.md\nREADME-secret.md\n!README*.md\n")
    assert not ignore.excluded("README-secret.md")


def test_directory_pattern_excludes_contents_and_exceptions_reach_inside() -> None:
    ignore = DockerIgnore.from_text("docs\n!docs/README.md\n")
    assert ignore.excluded("docs")
    assert ignore.excluded("docs/guide.md")
    assert ignore.excluded("docs/deep/er/file.txt")
    assert not ignore.excluded("docs/README.md")
    assert not ignore.excluded("documentation.txt")


def test_trailing_slash_and_leading_slash_and_dots_are_cleaned() -> None:
    ignore = DockerIgnore.from_text("/build/\n./a/../tmp//cache/\n")
    assert ignore.patterns == ("build", "tmp/cache")
    assert ignore.excluded("build/out.o")
    assert ignore.excluded("tmp/cache/x")
    assert not ignore.excluded("a/tmp/cache/x")


def test_reading_rules() -> None:
    text = "\ufeff*.log\r\n  # not a comment  \r\n\r\n#comment\n   \n\t spaced.txt \t\n! keep.log\n"
    assert read_patterns(text) == [(1, "*.log"), (2, "# not a comment"), (6, "spaced.txt"), (7, "!keep.log")]
    ignore = DockerIgnore.from_text(text)
    assert ignore.excluded("x.log")  # BOM stripped, CR dropped
    assert not ignore.excluded("keep.log")  # "! keep.log": the space after ! is trimmed
    assert ignore.excluded("spaced.txt")
    assert ignore.excluded("# not a comment")  # only a # at the very start makes a comment
    assert not ignore.excluded("comment")


def test_go_match_syntax() -> None:
    ignore = DockerIgnore.from_text("file[0-9].txt\nx[^a-c]y\nq[!z]\nstar\\*\nmark?\n")
    assert ignore.excluded("file7.txt") and not ignore.excluded("filex.txt")
    assert ignore.excluded("xdy") and not ignore.excluded("xby")
    # Go negates a class with ^ only: in [!z] the ! is just a member.
    assert ignore.excluded("q!") and ignore.excluded("qz") and not ignore.excluded("qa")
    assert ignore.excluded("star*") and not ignore.excluded("starry")
    assert ignore.excluded("mark1") and not ignore.excluded("mark")
    assert ignore.excluded("mark1/inside.txt")  # through its parent directory


def test_star_and_question_mark_stay_in_one_segment() -> None:
    ignore = DockerIgnore.from_text("a*b\nc?d\n")
    assert not ignore.excluded("a/b")
    assert not ignore.excluded("c/d")
    assert ignore.excluded("axxb")


def test_regex_characters_are_literal() -> None:
    ignore = DockerIgnore.from_text("a.|)$(}+{bc\ndist/*.whl\n")
    assert ignore.excluded("a.|)$(}+{bc")
    assert not ignore.excluded("aX|)$(}+{bc")
    assert ignore.excluded("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl")


# moby/patternmatcher's own table: (pattern, path, 1 = the path itself matches, 2 = only a parent does,
# 0 = no match).
MOBY_TABLE = [
    ("**", "file", 1), ("**", "dir/file", 1), ("**/", "file", 1), ("**/**", "dir/file", 1),
    ("dir/**", "dir/file", 1), ("dir/**", "dir/dir2/file", 1), ("**/dir", "dir", 1), ("**/dir", "dir/file", 2),
    ("**/dir2/*", "dir/dir2/file", 1), ("**/dir2/*", "dir/dir2/file/", 2), ("**/dir2/**", "dir/dir2/dir3/file", 1),
    ("**file", "file", 1), ("**file", "dir/file", 1), ("**/file", "dir/dir/file", 1),
    ("**/file*", "dir/dir/file.txt", 1), ("**/file*txt", "dir/dir/file.txt", 1),
    ("**/**/*.txt", "dir/dir/file.txt", 1), ("**/**/*.txt2", "dir/dir/file.txt", 0), ("**/*.txt", "file.txt", 1),
    ("a**/*.txt", "a/file.txt", 1), ("a**/*.txt", "a/dir/dir/file.txt", 1), ("a/*.txt", "a/dir/file.txt", 0),
    ("a/*.txt", "a/file.txt", 1), ("a/*.txt**", "a/file.txt", 1), ("a[b-d]e", "ae", 0), ("a[b-d]e", "ace", 1),
    ("a[b-d]e", "aae", 0), ("a[^b-d]e", "aze", 1), (".*", ".foo", 1), (".*", "foo", 0),
    ("abc.def", "abcdef", 0), ("abc.def", "abc.def", 1), ("abc?def", "abcZdef", 1), ("abc?def", "abcdef", 0),
    ("**/foo/bar", "foo/bar", 1), ("**/foo/bar", "dir/dir2/foo/bar", 1), ("abc/**", "abc", 0),
    ("abc/**", "abc/def/ghi", 1), ("**/.foo", ".foo", 1), ("**/.foo", "bar.foo", 0),
    ("a(b)c/def", "a(b)c/def", 1), ("a(b)c/def", "a(b)c/xyz", 0), ("a\\\\", "a\\", 1), ("a\\*b", "a*b", 1),
    ("[\\]a]", "]", 1), ("[x\\-]", "-", 1), ("[x\\-]", "z", 0), ("a?b", "a☺b", 1), ("[a-\u03b6]*", "\u03b1", 1),
]


@pytest.mark.parametrize(("pattern", "path", "kind"), MOBY_TABLE)
def test_moby_patternmatcher_table(pattern: str, path: str, kind: int) -> None:
    ignore = DockerIgnore([pattern])
    assert ignore.excluded(path) is (kind != 0)
    # With parent results from the walk (the tar's test) the answer is the same.
    parent_info = None
    parents = path[: path.rfind("/")].split("/") if "/" in path else []
    for i in range(1, len(parents) + 1):
        _, parent_info = ignore.matches_using_parent("/".join(parents[:i]), parent_info)
    assert ignore.matches_using_parent(path, parent_info)[0] is (kind != 0)


def test_multi_pattern_table() -> None:
    assert not DockerIgnore(["**", "!util/docker/web"]).excluded("util/docker/web/foo")
    assert DockerIgnore(["**", "!util/docker/web", "util/docker/web/foo"]).excluded("util/docker/web/foo")
    assert not DockerIgnore(["**", "!dist/*.whl"]).excluded("dist/a-1.0-py3-none-any.whl")


@pytest.mark.parametrize("pattern", ["[", "[]a]", "[-]", "[x-]", "a[", "[^bc", "\\", "[a-b-c]", "[Local-Only]"])
def test_malformed_patterns_are_usage_errors(pattern: str) -> None:
    with pytest.raises(UsageError, match=r"\.dockerignore:2: invalid pattern"):
        DockerIgnore.from_text("ok\n" + pattern + "\n")


def test_lone_exclamation_mark_is_an_error() -> None:
    with pytest.raises(UsageError, match="illegal exclusion pattern"):
        DockerIgnore.from_text("!\n")


def test_from_file(tmp_path: Path) -> None:
    assert not DockerIgnore.from_file(tmp_path / ".dockerignore").excluded("anything")
    (tmp_path / ".dockerignore").write_text("secret*\n")
    ignore = DockerIgnore.for_context(tmp_path)
    assert ignore.excluded("secrets.env") and not ignore.excluded("public.env")
    (tmp_path / "dir").mkdir()
    with pytest.raises(UsageError, match="is a directory"):
        DockerIgnore.from_file(tmp_path / "dir")


def test_root_itself_is_never_excluded() -> None:
    ignore = DockerIgnore.from_text("*\n")
    assert not ignore.excluded(".")
    assert ignore.excluded("anything")


def test_legacy_matches_checks_one_parent_level() -> None:
    # What the CLI uses to decide whether to re-include the Dockerfile: patternmatcher.Matches.
    ignore = DockerIgnore.from_text("docker\n")
    assert ignore.legacy_matches("docker/Dockerfile")
    assert not ignore.legacy_matches("other/Dockerfile")


def test_exception_reachable_only_with_a_literal_prefix() -> None:
    assert DockerIgnore.from_text("build\n!build/keep.txt\n").may_reinclude_under("build")
    # A wildcard exception does not make Docker enter the excluded directory.
    assert not DockerIgnore.from_text("build\n!*/keep.txt\n").may_reinclude_under("build")
    assert not DockerIgnore.from_text("build\n").may_reinclude_under("build")


@pytest.mark.parametrize(
    ("raw", "want"),
    [("", "."), ("a//b/./c/", "a/b/c"), ("/../a", "/a"), ("../a/..", ".."), ("//x", "/x"), ("a/../..", "..")],
)
def test_clean_path_is_go_filepath_clean(raw: str, want: str) -> None:
    assert clean_path(raw) == want


def test_docker_quirks_are_kept() -> None:
    # A leading ** makes moby use a plain suffix test when nothing else is a wildcard: **file matches myfile.
    assert DockerIgnore(["**file"]).excluded("myfile")
    assert not DockerIgnore(["**/file*.txt"]).excluded("myfile.txt")
    # Go's $ is the end of the text: a name ending in a newline is not *.txt.
    assert not DockerIgnore(["*.txt"]).excluded("a.txt\n")
    assert DockerIgnore(["*.txt"]).excluded("a.txt")


@pytest.mark.parametrize(("pattern", "needle"), [
    ("file\\d.txt", r"\\d is a regular-expression escape"), ("[\\w]x", r"\\w is a regular-expression escape"),
    ("[[:alpha:]]", "POSIX classes"), ("[z-a]", "invalid character class range z-a"),
])
def test_what_docker_reads_as_regex_syntax_is_refused(pattern: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        DockerIgnore.from_text(pattern + "\n")


def test_classes_and_escapes_translate_to_their_literal_meaning() -> None:
    ignore = DockerIgnore(["a[+x]b", "c[\\^]d", "e\\.f", "g[^/]h", "^top"])
    assert ignore.excluded("a+b") and ignore.excluded("axb") and not ignore.excluded("ayb")
    assert ignore.excluded("c^d") and not ignore.excluded("ccd")
    assert ignore.excluded("e.f") and not ignore.excluded("exf")
    assert ignore.excluded("gxh") and not ignore.excluded("g/h")
    # Without a wildcard moby compares the text itself; with one, ^ is Go's start-of-text anchor.
    assert ignore.excluded("^top") and not ignore.excluded("top")
    assert DockerIgnore(["^x*"]).excluded("xy") and not DockerIgnore(["a^x*"]).excluded("a^xy")


def test_with_patterns_keeps_order_and_earlier_patterns() -> None:
    ignore = DockerIgnore(["*.md"]).with_patterns(["!README.md"])
    assert ignore.patterns == ("*.md", "!README.md")
    assert ignore.excluded("notes.md") and not ignore.excluded("README.md")


def test_many_patterns_compile_in_linear_time() -> None:
    # Issue 16: 40,000 patterns took 86 s on a 5-file context (each class compiled to a full-Unicode set).
    import time

    lines = [["build{}/", "**/*.tmp{}", "!keep{}.txt", "src/[a-c]{}?.py"][i % 4].format(i) for i in range(40_000)]
    t0 = time.perf_counter()
    ignore = DockerIgnore.from_text("\n".join(lines) + "\n")
    ignore = ignore.with_patterns(["!Dockerfile"])
    elapsed = time.perf_counter() - t0
    assert ignore.excluded("build4/x") and ignore.excluded("d/e.tmp1") and ignore.excluded("src/b3x.py")
    assert not ignore.excluded("keep6.txt") and not ignore.excluded("src/d3x.py")
    print(f"40,000 patterns compiled in {elapsed:.2f} s")
