"""What cacheprof created on an engine, and removing exactly that: never an image another tag or image names.

A run keeps a ledger (a small JSON file in the user's cache folder) of the tags and step images it made,
updated after every build, so `cacheprof clean` can remove them after a SIGKILL. Images are removed by
cacheprof's own tag; an intermediate (untagged) step image by ID only while no tag names it; the engine
itself refuses to remove an image another image builds on. The ledger is deleted once nothing is left.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

# The label every image cacheprof builds carries (BuildKit; the classic builder would need an extra
# LABEL step per build, so its images are known by cacheprof's tag and the ledger instead).
RUN_LABEL = "org.cacheprof.run"
EXPORT_LABEL = "org.cacheprof.export"
TAG_REPO = "cacheprof"


class Removal(StrEnum):
    REMOVED = "removed"
    ABSENT = "absent"
    IN_USE = "in use by a container"  # may go once the engine has removed a cancelled step's container
    SHARED = "named by another tag or image"  # not cacheprof's alone: left alone
    NO_ENGINE = "engine not answering"


class Remover(Protocol):
    def remove_image(self, ref: str, *, untagged_only: bool = False) -> Removal: ...


@dataclass(frozen=True)
class Leftover:
    ref: str
    reason: str


def state_dir() -> Path:
    """Where ledgers live: $CACHEPROF_STATE_DIR, else the user cache folder."""
    explicit = os.environ.get("CACHEPROF_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cacheprof" / "runs"


class Ledger:
    """The tags and step images one run created on one engine, kept on disk while any may be left."""

    def __init__(self, run_id: str, engine: str, directory: Path | None = None) -> None:
        self.run_id, self.engine = run_id, engine
        self.directory = directory or state_dir()
        self.path = self.directory / f"{run_id}.json"
        self.tags: list[str] = []
        self.images: list[str] = []
        self.writable = True

    def add(self, *, tags: Iterable[str] = (), images: Iterable[str] = ()) -> None:
        self.tags.extend(t for t in tags if t not in self.tags)
        self.images.extend(i for i in images if i not in self.images)
        self.save()

    def save(self) -> None:
        if not self.writable:
            return
        doc = {"run_id": self.run_id, "engine": self.engine, "pid": os.getpid(), "host": socket.gethostname(),
               "updated": time.time(), "tags": self.tags, "images": self.images}
        try:
            from ..store.atomic import write_text

            self.directory.mkdir(parents=True, exist_ok=True)
            write_text(self.path, json.dumps(doc) + "\n")
        except OSError:
            self.writable = False  # a ledger is a convenience for `clean`: never fail a run for it

    def forget(self, keep: Iterable[str] = ()) -> None:
        """Drop what was removed; delete the file when nothing is left."""
        keep = set(keep)
        self.tags = [t for t in self.tags if t in keep]
        self.images = [i for i in self.images if i in keep]
        if self.tags or self.images:
            self.save()
            return
        try:
            self.path.unlink()
        except OSError:
            pass


def remove_all(remover: Remover, tags: list[str], images: list[str], *, wait_s: float) -> list[Leftover]:
    """Remove tags, then step images (youngest first as given). Returns what was left and why.

    An image in use by a container (the engine still tearing down a cancelled step) is retried for up to
    `wait_s`; an engine that does not answer ends it at once; a second Ctrl-C ends it, naming the rest.
    """
    pending: list[tuple[str, bool]] = [(t, False) for t in tags] + [(i, True) for i in images]
    deadline = time.monotonic() + wait_s
    while pending:
        retry: list[tuple[str, bool]] = []  # in use by a container
        shared: list[tuple[str, bool]] = []  # a child image or another tag names it (maybe ours, removed later)
        progressed = False
        for n, (ref, untagged_only) in enumerate(pending):
            try:
                result = remover.remove_image(ref, untagged_only=untagged_only)
            except KeyboardInterrupt:  # a second Ctrl-C: stop here, and name what is left
                return [Leftover(r, "cleanup interrupted") for r, _ in (*retry, *shared, *pending[n:])]
            if result is Removal.NO_ENGINE:
                return [Leftover(r, str(Removal.NO_ENGINE)) for r, _ in (*retry, *shared, *pending[n:])]
            if result is Removal.IN_USE:
                retry.append((ref, untagged_only))
            elif result is Removal.SHARED:
                shared.append((ref, untagged_only))
            else:
                progressed = True
        pending = retry + shared
        if not pending:
            return []
        if progressed:
            continue  # a child removed in this pass may have freed its parent
        if not retry:
            return []  # another build's image builds on these, or another tag names them: not ours alone
        if time.monotonic() > deadline:
            return [Leftover(r, str(Removal.IN_USE)) for r, _ in retry]
        try:
            time.sleep(0.5)
        except KeyboardInterrupt:
            return [Leftover(r, "cleanup interrupted") for r, _ in pending]
    return []


def describe_leftovers(left: list[Leftover]) -> str:
    """One clause for the final line: what was left and how to remove it."""
    if not left:
        return ""
    tags = [x.ref for x in left if ":" in x.ref and not x.ref.startswith("sha256:")]
    images = [x.ref for x in left if x.ref not in tags]
    parts = []
    if tags:
        parts.append(f"{len(tags)} tag(s) ({', '.join(tags[:3])}{', ...' if len(tags) > 3 else ''})")
    if images:
        parts.append(f"{len(images)} step image(s)")
    reason = left[0].reason
    return f"left behind {' and '.join(parts)} ({reason}); remove them with `cacheprof clean`"


# --- `cacheprof clean`: leftovers of runs that could not clean up (SIGKILL, a dead engine, a second Ctrl-C).


class Engine(Remover, Protocol):
    address: str

    def labelled(self) -> tuple[list[tuple[str, list[str], str]], list[str]]: ...

    def remove_container(self, container_id: str) -> Removal: ...


@dataclass(frozen=True)
class CleanReport:
    removed: list[str]
    left: list[Leftover]
    running: list[str]  # runs still in progress, left alone


def _alive(doc: dict[str, object]) -> bool:
    """Is the run that wrote this ledger still running (same host, its process alive)?"""
    pid = doc.get("pid")
    if doc.get("host") != socket.gethostname() or not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_ledgers(engine: str, directory: Path | None = None) -> list[tuple[Path, dict]]:
    """Ledgers of runs on `engine`; unreadable ones are skipped (they are the user's cache, not input)."""
    out = []
    for path in sorted((directory or state_dir()).glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or doc.get("engine") != engine:
            continue
        if not all(isinstance(x, str) for k in ("tags", "images") for x in (doc.get(k) or [])):
            continue
        out.append((path, doc))
    return out


def clean(engine: Engine, directory: Path | None = None) -> CleanReport:
    """Remove what cacheprof runs left on this engine: their ledgers' tags and step images, images labelled
    RUN_LABEL (by their cacheprof tags only) and export containers labelled EXPORT_LABEL. Runs still in
    progress are left alone. Nothing else is touched."""
    removed: list[str] = []
    left: list[Leftover] = []
    running: list[str] = []
    live_runs: set[str] = set()
    for path, doc in read_ledgers(engine.address, directory):
        run = str(doc.get("run_id") or path.stem)
        if _alive(doc):
            running.append(run)
            live_runs.add(run)
            continue
        tags = list(reversed([str(t) for t in doc.get("tags") or []]))
        images = list(reversed([str(i) for i in doc.get("images") or []]))
        for ref in tags + images:
            result = engine.remove_image(ref, untagged_only=ref in images)
            if result is Removal.NO_ENGINE:
                return CleanReport(removed, [*left, Leftover(ref, str(result))], running)
            if result is Removal.REMOVED:
                removed.append(ref)
            elif result is Removal.IN_USE:
                left.append(Leftover(ref, str(result)))
        if not any(x.ref in tags + images for x in left):
            try:
                path.unlink()
            except OSError:
                pass
    images, containers = engine.labelled()
    for image_id, repo_tags, run in images:
        if run in live_runs:
            continue
        for tag in repo_tags:
            if tag.startswith(f"{TAG_REPO}/"):
                result = engine.remove_image(tag)
                if result is Removal.REMOVED:
                    removed.append(tag)
                elif result is not Removal.ABSENT:
                    left.append(Leftover(tag, str(result)))
        if not repo_tags:  # a labelled image no tag names: cacheprof's, and no one else's
            result = engine.remove_image(image_id, untagged_only=True)
            if result is Removal.REMOVED:
                removed.append(image_id)
    for container_id in containers:
        if engine.remove_container(container_id) is Removal.REMOVED:
            removed.append(f"container {container_id[:12]}")
    return CleanReport(removed, left, running)
