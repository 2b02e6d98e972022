"""One exception family. Every error a user can cause carries a one-line message and an exit status."""

from __future__ import annotations


class CacheprofError(Exception):
    """An error with a message fit to show a user as one line, and the process exit status."""

    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(CacheprofError):
    """Bad input: a missing file, a broken Dockerfile, a bad option value, a garbage log. Exit 2."""

    exit_code = 2


class InputFormatError(UsageError):
    """A file (log, profile.json, history) whose content cannot be read as what it should be. Exit 2."""


class EngineUnreachableError(CacheprofError):
    """The Docker engine does not answer. Exit 3."""

    exit_code = 3


class EngineError(CacheprofError):
    """The engine answered but refused or broke off the work. Exit 1."""

    exit_code = 1


class BuildFailedError(CacheprofError):
    """At least one measured build failed; results were still written. Exit 1."""

    exit_code = 1


class Interrupted(CacheprofError):
    """The user pressed Ctrl-C (or SIGTERM/SIGHUP came); what was measured so far was written. Exit 128+signal."""

    exit_code = 130


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled as Ctrl-C is (the CLI turns those signals into this)."""

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(name)
        self.signum, self.name = signum, name


class CleanupIncomplete(CacheprofError):
    """The run's images could not all be removed (the engine stopped answering, or a second Ctrl-C). Exit 3."""

    exit_code = 3


class HistoryUnreachableError(CacheprofError):
    """The history database server does not answer (or stays locked). Exit 3, like an unreachable engine."""

    exit_code = 3


class RegressionFound(CacheprofError):
    """bench: a confirmed regression against the baseline (the builds themselves succeeded). Exit 4."""

    exit_code = 4
