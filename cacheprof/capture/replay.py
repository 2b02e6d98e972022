"""Recorded engine streams: written while a build runs, played back by `ReplayDriver`.

A recording is JSON lines: each Engine API message with the arrival time added as `"_t"`, so the whole
CLI runs without a daemon in unit tests.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import InputFormatError, UsageError
from ..model import EngineInfo
from ..steps.common import ARRIVAL_KEY, Event
from ..steps.layers import ImageLayers, layers_from_json
from .cleanup import Removal
from .driver import BuildRequest, EngineConnectionLost


class StreamRecorder:
    """Writes one build's events as JSON lines while they arrive (so a crash keeps what came)."""

    def __init__(self, path: Path, on_error: Callable[[OSError], None] | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] | None = path.open("w", encoding="utf-8")
        self._on_error = on_error

    def write(self, event: Event) -> None:
        if self._fh is None:
            return
        arrival, message = event
        try:
            self._fh.write(json.dumps({**message, ARRIVAL_KEY: arrival}) + "\n")
            self._fh.flush()
        except OSError as e:  # a full disk: stop recording; the build and its measurement go on
            self.close()
            if self._on_error is None:
                raise
            self._on_error(e)

    def close(self) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            try:
                fh.close()
            except OSError:
                pass


def read_recording(path: Path) -> Iterator[Event]:
    from ..store.safe_json import parse, read_text

    for n, line in enumerate(read_text(path, "recording").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        message = parse(line, f"{path}:{n}")
        if not isinstance(message, dict):
            raise InputFormatError(f"{path}:{n}: not a JSON object; not a line of a cacheprof recording")
        arrival = message.pop(ARRIVAL_KEY, None)
        if arrival is not None and (isinstance(arrival, bool) or not isinstance(arrival, int | float)):
            raise InputFormatError(f"{path}:{n}: field '{ARRIVAL_KEY}' should be a number")
        yield (float(arrival) if arrival is not None else 0.0), message


def _paced(events: Iterator[Event]) -> Iterator[Event]:
    """With CACHEPROF_REPLAY_SPEED=x, play the stream back at x times its recorded pace (demos, and
    terminal tests that must see the live view); by default as fast as it reads."""
    speed = float(os.environ.get("CACHEPROF_REPLAY_SPEED") or 0)
    previous: float | None = None
    for arrival, message in events:
        if speed > 0 and previous is not None and arrival > previous:
            time.sleep(min((arrival - previous) / speed, 2.0))
        previous = arrival if arrival else previous
        yield arrival, message


class ReplayDriver:
    """Plays back recordings made with `cacheprof profile --record DIR`, in build order.

    The recording directory holds `builds.jsonl` (one line per build: file name and the request's
    builder / nocache / args) and one stream file per build.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        index = directory / "builds.jsonl"
        if not index.is_file():
            raise UsageError(f"{directory}: no builds.jsonl; record one with `cacheprof profile --record DIR`")
        self._entries = [json.loads(x) for x in index.read_text().splitlines() if x.strip()]
        meta_file = directory / "engine.json"
        meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        self._engine = EngineInfo(
            version=str(meta.get("version", "replay")),
            api_version=str(meta.get("api_version", "")),
            os=str(meta.get("os", "")),
            arch=str(meta.get("arch", "")),
            host=f"replay:{directory}",
        )
        self._next = 0
        self.requests: list[BuildRequest] = []
        self.removed: list[str] = []
        # Warm-up builds the recording holds (recordings made before warm-ups existed hold none).
        self.recorded_warmups = sum(1 for e in self._entries if e.get("warmup"))

    def engine_info(self) -> EngineInfo:
        return self._engine

    def build(self, request: BuildRequest) -> Iterator[Event]:
        if self._next >= len(self._entries):
            raise UsageError(f"{self.directory}: the recording holds {len(self._entries)} builds; asked for more")
        entry = self._entries[self._next]
        self._next += 1
        self.requests.append(request)
        for _ in request.context:  # read the context as a real engine would: its errors are the same
            pass
        if entry.get("builder") and entry["builder"] != str(request.builder):
            raise UsageError(
                f"{self.directory}: build {self._next} was recorded with {entry['builder']}, "
                f"replayed as {request.builder}"
            )
        yield from _paced(read_recording(self.directory / entry["stream"]))
        if entry.get("lost_engine"):
            raise EngineConnectionLost(entry["lost_engine"])

    def remove_image(self, ref: str, *, untagged_only: bool = False) -> Removal:
        self.removed.append(ref)
        return Removal.REMOVED

    def alive(self, timeout_s: float = 3.0) -> bool:
        return True

    def image_ids(self) -> set[str]:
        return set()

    def image_config(self, image: str) -> dict[str, Any]:
        return self._export(image)["config"]

    def image_id(self, ref: str) -> str | None:
        return None  # recordings keep no base image ids

    def image_files(self, image: str) -> dict[str, tuple[str, int, str]]:
        return {path: (kind, mode, digest) for path, (kind, mode, digest) in self._export(image)["files"].items()}

    def image_layers(self, image: str) -> ImageLayers | None:
        """Saved beside the streams as images/<id>.layers.json by `profile --record`; None if absent."""
        path = self.directory / "images" / (image.replace(":", "_") + ".layers.json")
        if not path.is_file():
            return None
        return layers_from_json(json.loads(path.read_text(encoding="utf-8")))

    def _export(self, image: str) -> dict[str, Any]:
        """An image export saved beside the streams as images/<id>.json ({"config", "files"})."""
        path = self.directory / "images" / (image.replace(":", "_") + ".json")
        if not path.is_file():
            raise UsageError(f"{self.directory}: the recording holds no export of image {image}")
        return json.loads(path.read_text(encoding="utf-8"))

    def close(self) -> None:
        pass
