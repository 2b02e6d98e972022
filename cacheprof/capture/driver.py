"""Drivers run builds and hand back the engine's raw stream, message by message, with arrival times.

`DockerDriver` talks to a real engine through the docker SDK (the only module that imports `docker`);
`ReplayDriver` (replay.py) plays recorded streams back, so the whole CLI runs without a daemon in unit tests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import CacheprofError, EngineError, EngineUnreachableError, UsageError
from ..model import Builder, EngineInfo
from ..steps.common import Event
from ..steps.layers import HistoryEntry, ImageLayers
from . import clock
from .cleanup import EXPORT_LABEL, RUN_LABEL, Removal

LOST_ENGINE = "lost the Docker engine"
CONNECT_TIMEOUT_S = 5.0  # connect and /version, before the first build
CALL_TIMEOUT_S = 60.0  # any other call but the build stream: waiting this long for one reply means trouble
PING_EVERY_S = 15.0  # while a build stream is silent (a quiet RUN), check the engine still answers
PING_TIMEOUT_S = 5.0
STALL_TIMEOUT_S = 3600.0  # a build stream silent this long (engine answering) is given up


def _seconds_from_env(name: str, default: float) -> float:
    import math
    import os

    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{name}={text!r}: give a positive number of seconds")
    return value


@dataclass(frozen=True)
class BuildRequest:
    # The context tar as chunks, streamed to the engine as they come (never held whole in memory).
    context: Iterable[bytes]
    dockerfile: str  # the Dockerfile's name inside the tar
    builder: Builder
    tag: str
    nocache: bool = False
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    # Classic builder: take cache only from these images' ancestry (not from any image on the engine).
    cache_from: tuple[str, ...] = ()
    # The run that made the image (label RUN_LABEL; BuildKit only, see cleanup.RUN_LABEL).
    run_id: str = ""


class Driver(Protocol):
    def engine_info(self) -> EngineInfo: ...

    def build(self, request: BuildRequest) -> Iterator[Event]: ...

    def remove_image(self, ref: str, *, untagged_only: bool = False) -> Removal: ...

    def alive(self, timeout_s: float = 3.0) -> bool: ...

    def image_ids(self) -> set[str]: ...

    def image_config(self, image: str) -> dict[str, Any]: ...

    def image_id(self, ref: str) -> str | None: ...

    def image_files(self, image: str) -> dict[str, tuple[str, int, str]]: ...

    def image_layers(self, image: str) -> ImageLayers | None: ...

    def close(self) -> None: ...


class EngineConnectionLost(EngineError):
    """The engine stopped answering (in the middle of a build, or between builds). Exit 3."""

    exit_code = 3


class EngineReplyError(EngineConnectionLost):
    """The engine answered something that is not what the Engine API says it answers. Exit 3."""


def export_path(member: str) -> str:
    """An exported tar member's absolute path. Only a leading `./` goes: `lstrip("./")` once turned
    `./.marker` into `/marker`, so a dotted name compared equal to another file."""
    name = member[2:] if member.startswith("./") else member
    name = name.strip("/")
    return "/" if name in ("", ".") else "/" + name


def _engine_address(explicit: str | None) -> str:
    import os

    return explicit or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def _tls_client(url: str, cert_path: str) -> Any:
    """A client for tcp:// with TLS that trusts only the engine's CA. requests would otherwise replace that
    CA with REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment (trust_env), and fail to verify."""
    import os

    import docker
    import docker.tls

    tls = docker.tls.TLSConfig(client_cert=(os.path.join(cert_path, "cert.pem"), os.path.join(cert_path, "key.pem")),
                               ca_cert=os.path.join(cert_path, "ca.pem"), verify=True)
    probe = docker.DockerClient(base_url=url, tls=tls, version="1.24", timeout=60)  # no request yet
    probe.api.trust_env = False
    try:
        version = str(probe.api.version(api_version=False)["ApiVersion"])
    finally:
        probe.close()
    client = docker.DockerClient(base_url=url, tls=tls, version=version, timeout=60)
    client.api.trust_env = False
    return client


class DockerDriver:
    """Builds on a real engine: POST /build (BuildKit: version=2), read on a watched thread."""

    def __init__(self, docker_host: str | None = None, *, tls_cert_path: str | None = None) -> None:
        """`tls_cert_path`: a folder with ca.pem, cert.pem and key.pem for a tcp:// engine with TLS (what
        DOCKER_CERT_PATH names for the docker CLI)."""
        import docker
        import docker.errors

        self._errors = docker.errors
        self.address = _engine_address(docker_host)
        connect_s = _seconds_from_env("CACHEPROF_CONNECT_TIMEOUT", CONNECT_TIMEOUT_S)
        try:
            if docker_host and tls_cert_path:
                self._client = _tls_client(docker_host, tls_cert_path)
            elif docker_host:
                self._client = docker.DockerClient(base_url=docker_host, timeout=connect_s)
            else:
                self._client = docker.from_env(timeout=connect_s)
            version = self._client.api.version()
        except Exception as e:  # the SDK raises DockerException, requests errors, FileNotFoundError...
            reason = _short(e)
            if reason == "timed out":
                raise EngineUnreachableError(
                    f"engine not answering at {self.address} (no reply in {connect_s:g} s; "
                    "CACHEPROF_CONNECT_TIMEOUT sets the wait)"
                ) from None
            raise EngineUnreachableError(
                f"cannot reach the Docker engine at {self.address} ({reason}); "
                "start dockerd (scripts/dockerd-up) or point --docker-host / DOCKER_HOST at a running engine"
            ) from None
        if not isinstance(version, dict):
            raise EngineUnreachableError(f"the engine at {self.address} answered /version out of shape") from None
        self._version = version
        self.api = self._client.api
        # Every call but the build stream has a timeout (the build stream has its own watchdog).
        self.api.timeout = CALL_TIMEOUT_S

    def alive(self, timeout_s: float = 3.0) -> bool:
        """Does the engine answer a ping within `timeout_s`? (Before cleanup: a frozen engine is given up.)"""
        try:
            response = self.api._get(self.api._url("/_ping"), timeout=timeout_s)
            return bool(response.ok)
        except Exception:
            return False

    def engine_info(self) -> EngineInfo:
        v = self._version
        return EngineInfo(
            version=str(v.get("Version", "")),
            api_version=str(v.get("ApiVersion", "")),
            os=str(v.get("Os", "")),
            arch=str(v.get("Arch", "")),
            host=self.address,
        )

    def build(self, request: BuildRequest) -> Iterator[Event]:
        try:
            for message in self._watched(request):
                if not isinstance(message, dict):
                    raise EngineReplyError(f"{LOST_ENGINE} at {self.address}: it sent a build message out of "
                                           f"shape: {_clip(message)}")
                yield clock.now(), message
        except self._errors.APIError as e:
            explanation = str(getattr(e, "explanation", "") or e)
            if e.status_code == 400 or "dockerfile parse error" in explanation.lower():
                raise UsageError(f"the engine refused the build: {explanation}") from None
            raise EngineError(f"the engine refused the build: {explanation}") from None
        except CacheprofError:
            raise
        except Exception as e:
            raise self._lost(e) from None

    def _lost(self, e: BaseException) -> CacheprofError:
        """Any failure of an engine call, as the one error family: a reply out of shape, or the engine gone."""
        if isinstance(e, CacheprofError):
            return e
        if isinstance(e, ValueError | TypeError | KeyError | AttributeError | IndexError):
            return EngineReplyError(f"{LOST_ENGINE} at {self.address}: it answered out of shape ({_clip(e)})")
        return EngineConnectionLost(f"{LOST_ENGINE} at {self.address}: {_short(e)}")

    def _watched(self, request: BuildRequest) -> Iterator[Any]:
        """The build stream, read on a thread. While it is silent (a quiet RUN), the engine is pinged every
        PING_EVERY_S: one that does not answer, or a stream silent for CACHEPROF_STALL_TIMEOUT seconds, ends
        the build. Leaving early (Ctrl-C, a stall) shuts the connection, which cancels the build."""
        import queue
        import threading

        stall_s = _seconds_from_env("CACHEPROF_STALL_TIMEOUT", STALL_TIMEOUT_S)
        items: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        responses: list[Any] = []

        def read() -> None:
            try:
                response = self._post_build(request)
                responses.append(response)
                self.api._raise_for_status(response)
                for message in self.api._stream_helper(response, decode=True):
                    items.put(("message", message))
                items.put(("end", None))
            except BaseException as e:
                items.put(("error", e))

        threading.Thread(target=read, daemon=True, name="cacheprof-build-stream").start()
        last = time.monotonic()
        next_ping = last + PING_EVERY_S
        ended = False
        try:
            while True:
                try:
                    kind, value = items.get(timeout=0.5)
                except queue.Empty:
                    now = time.monotonic()
                    if now - last > stall_s:
                        raise EngineConnectionLost(
                            f"{LOST_ENGINE} at {self.address}: no build progress for {stall_s:g} s "
                            "(CACHEPROF_STALL_TIMEOUT sets the wait)") from None
                    if now >= next_ping:
                        if not self.alive(PING_TIMEOUT_S):
                            raise EngineConnectionLost(
                                f"{LOST_ENGINE} at {self.address}: engine not answering "
                                f"(no reply to a ping in {PING_TIMEOUT_S:g} s)") from None
                        next_ping = time.monotonic() + PING_EVERY_S
                    continue
                if kind == "end":
                    ended = True
                    return
                if kind == "error":
                    ended = True
                    raise value
                last = time.monotonic()
                next_ping = last + PING_EVERY_S
                yield value
        finally:
            if not ended:
                for response in responses:
                    _shut(response)

    def _post_build(self, request: BuildRequest) -> Any:
        """POST /build, streamed. BuildKit: version=2 (the SDK's build() has no such parameter). Classic builds
        are not tagged: a warm build's final image may be another build's (a cached last step), and removing
        a tag no other tag shares deletes that image; the runner removes the step images it made by ID."""
        params: dict[str, Any] = {
            "dockerfile": request.dockerfile,
            "nocache": "1" if request.nocache else "0",
            "rm": "1",
            # forcerm: a failed step's container is removed too (rm alone leaves it behind).
            "forcerm": "1",
        }
        if request.build_args:
            params["buildargs"] = json.dumps(dict(request.build_args))
        if request.target:
            params["target"] = request.target
        if request.builder is Builder.BUILDKIT:
            params["version"] = "2"
            params["t"] = request.tag
            if request.run_id:
                params["labels"] = json.dumps({RUN_LABEL: request.run_id})
        elif request.cache_from:
            params["cachefrom"] = json.dumps(list(request.cache_from))
        return self.api._post(
            self.api._url("/build"),
            params=params,
            data=iter(request.context),  # a generator body goes out chunked, as the docker CLI sends it
            headers={"Content-Type": "application/x-tar"},
            stream=True,
            timeout=None,
        )

    def remove_image(self, ref: str, *, untagged_only: bool = False) -> Removal:
        """Remove one image cacheprof created. noprune: never remove parents it did not create.

        `untagged_only`: an intermediate step image, removed by ID only while no tag names it (another
        build may have tagged it since: `docker rmi <id>` would then delete that build's image).
        """
        errors = self._errors
        try:
            if untagged_only:
                tags = [t for t in (self.api.inspect_image(ref).get("RepoTags") or []) if t != "<none>:<none>"]
                if tags:
                    return Removal.SHARED
            self.api.remove_image(ref, force=False, noprune=True)
            return Removal.REMOVED
        except errors.NotFound:
            return Removal.ABSENT
        except errors.APIError as e:
            text = str(getattr(e, "explanation", "") or e)
            if "container" in text:
                return Removal.IN_USE
            return Removal.SHARED  # a child image or another repository names it: not ours alone
        except Exception:  # connection refused, timed out, reset: the engine is gone or frozen
            return Removal.NO_ENGINE

    def image_ids(self) -> set[str]:
        try:
            return {str(img["Id"]) for img in self.api.images(all=True)}
        except Exception as e:
            raise self._lost(e) from None

    def image_config(self, image: str) -> dict[str, Any]:
        try:
            config = self.api.inspect_image(image).get("Config") or {}
            if not isinstance(config, dict):
                raise TypeError("Config is not an object")
            return dict(config)
        except Exception as e:
            raise self._lost(e) from None

    def image_id(self, ref: str) -> str | None:
        """The id of a local image (a FROM's base), or None when the engine does not have it."""
        try:
            return str(self.api.inspect_image(ref).get("Id") or "") or None
        except (self._errors.DockerException, OSError):
            return None

    def image_layers(self, image: str) -> ImageLayers | None:
        """History (oldest first), size and layer diff IDs of a built image; None if the engine says no."""
        try:
            history = self.api.history(image)
            info = self.api.inspect_image(image)
        except (self._errors.DockerException, OSError):
            return None
        try:
            entries = tuple(HistoryEntry(str(h.get("CreatedBy") or ""), int(h.get("Size") or 0))
                            for h in reversed(history))
            size = info.get("Size")
            layers = tuple(str(x) for x in ((info.get("RootFS") or {}).get("Layers") or ()))
        except (AttributeError, TypeError, ValueError):
            return None  # a reply out of shape: no sizes rather than wrong ones
        return ImageLayers(entries, int(size) if isinstance(size, int) else None, layers)

    def image_files(self, image: str) -> dict[str, tuple[str, int, str]]:
        """path -> (type, mode, sha256 of content or link target) of an image's flattened filesystem.

        Exports a created (never started, labelled) container, which it removes again, also on failure.
        File contents are hashed in chunks: an image's files are never held whole in memory.
        """
        import hashlib
        import tarfile

        try:
            container = self.api.create_container(image, command=["cacheprof-export"],
                                                  labels={EXPORT_LABEL: "1"})
            container_id = str(container["Id"])
        except Exception as e:
            raise self._lost(e) from None
        try:
            raw = self.api.export(container_id)
            files: dict[str, tuple[str, int, str]] = {}
            with tarfile.open(fileobj=_IterStream(raw), mode="r|") as tar:
                for member in tar:
                    name = export_path(member.name)
                    if member.isreg():
                        digest = hashlib.sha256()
                        fh = tar.extractfile(member)
                        while fh is not None and (chunk := fh.read(1 << 20)):
                            digest.update(chunk)
                        files[name] = ("file", member.mode, digest.hexdigest())
                    elif member.issym() or member.islnk():
                        files[name] = ("link", member.mode, member.linkname)
                    elif member.isdir():
                        files[name] = ("dir", member.mode, "")
                    else:
                        files[name] = ("other", member.mode, "")
            return files
        except tarfile.TarError as e:
            raise EngineReplyError(f"the engine at {self.address} sent an image export that is not a tar "
                                   f"({_clip(e)})") from None
        except Exception as e:
            raise self._lost(e) from None
        finally:
            self.remove_container(container_id)

    def labelled(self) -> tuple[list[tuple[str, list[str], str]], list[str]]:
        """Images labelled RUN_LABEL as (id, tags, run id), and export containers labelled EXPORT_LABEL."""
        try:
            images = [(str(i["Id"]), [t for t in (i.get("RepoTags") or []) if t != "<none>:<none>"],
                       str((i.get("Labels") or {}).get(RUN_LABEL, "")))
                      for i in self.api.images(all=True, filters={"label": RUN_LABEL})]
            containers = [str(c["Id"]) for c in self.api.containers(all=True, filters={"label": EXPORT_LABEL})]
        except Exception as e:
            raise self._lost(e) from None
        return images, containers

    def remove_container(self, container_id: str) -> Removal:
        try:
            self.api.remove_container(container_id, force=True)
            return Removal.REMOVED
        except self._errors.NotFound:
            return Removal.ABSENT
        except self._errors.APIError:
            return Removal.IN_USE
        except Exception:
            return Removal.NO_ENGINE

    def close(self) -> None:
        self._client.close()


class _IterStream:
    """A read()-able view of an iterator of byte chunks (the export stream), for tarfile's stream mode."""

    def __init__(self, chunks: Any) -> None:
        self._chunks = iter(chunks)
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            try:
                self._buf += next(self._chunks)
            except StopIteration:
                break
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out


_REASONS = ("Connection refused", "No such file or directory", "Permission denied", "timed out",
            "Name or service not known", "Connection reset", "Connection aborted", "Broken pipe",
            "Remote end closed connection", "certificate verify failed")


def _shut(response: Any) -> None:
    """End a streamed HTTP response from another thread: shutting the socket wakes a blocked read."""
    import socket

    try:
        sock = response.raw._fp.fp.raw._sock
        sock.shutdown(socket.SHUT_RDWR)
    except Exception:
        pass
    try:
        response.close()
    except Exception:
        pass


def _clip(value: object, limit: int = 120) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short(e: BaseException) -> str:
    """The reason in a few words: the SDK wraps socket errors in several layers of requests' text."""
    text = str(e).strip()
    for reason in _REASONS:
        if reason.lower() in text.lower():
            return reason.lower()
    first = text.splitlines()[0] if text else type(e).__name__
    return first if len(first) <= 160 else first[:157] + "..."
