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

from ..errors import EngineError, EngineUnreachableError, UsageError
from ..model import Builder, EngineInfo
from ..steps.common import Event
from ..steps.layers import HistoryEntry, ImageLayers

LOST_ENGINE = "lost the Docker engine"


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


class Driver(Protocol):
    def engine_info(self) -> EngineInfo: ...

    def build(self, request: BuildRequest) -> Iterator[Event]: ...

    def remove_image(self, ref: str) -> bool | None: ...

    def image_ids(self) -> set[str]: ...

    def image_config(self, image: str) -> dict[str, Any]: ...

    def image_id(self, ref: str) -> str | None: ...

    def image_files(self, image: str) -> dict[str, tuple[str, int, str]]: ...

    def image_layers(self, image: str) -> ImageLayers | None: ...

    def close(self) -> None: ...


class EngineConnectionLost(EngineError):
    """The engine stopped answering in the middle of a build."""


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
    """Builds on a real engine. Classic: the SDK's own build(); BuildKit: POST /build?version=2."""

    def __init__(self, docker_host: str | None = None, *, tls_cert_path: str | None = None) -> None:
        """`tls_cert_path`: a folder with ca.pem, cert.pem and key.pem for a tcp:// engine with TLS (what
        DOCKER_CERT_PATH names for the docker CLI)."""
        import docker
        import docker.errors

        self._errors = docker.errors
        self.address = _engine_address(docker_host)
        try:
            if docker_host and tls_cert_path:
                self._client = _tls_client(docker_host, tls_cert_path)
            elif docker_host:
                self._client = docker.DockerClient(base_url=docker_host, timeout=60)
            else:
                self._client = docker.from_env(timeout=60)
            self._version = self._client.api.version()
        except Exception as e:  # the SDK raises DockerException, requests errors, FileNotFoundError...
            raise EngineUnreachableError(
                f"cannot reach the Docker engine at {self.address} ({_short(e)}); "
                "start dockerd (scripts/dockerd-up) or point --docker-host / DOCKER_HOST at a running engine"
            ) from None
        self.api = self._client.api

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
            if request.builder is Builder.BUILDKIT:
                stream = self._buildkit_stream(request)
            else:
                stream = self._classic_stream(request)
            for message in stream:
                yield time.time(), message
        except self._errors.APIError as e:
            explanation = str(getattr(e, "explanation", "") or e)
            if e.status_code == 400 or "dockerfile parse error" in explanation.lower():
                raise UsageError(f"the engine refused the build: {explanation}") from None
            raise EngineError(f"the engine refused the build: {explanation}") from None
        except self._errors.DockerException as e:
            raise EngineConnectionLost(f"{LOST_ENGINE} at {self.address}: {_short(e)}") from None
        except OSError as e:  # requests' ConnectionError and ChunkedEncodingError are OSErrors
            raise EngineConnectionLost(f"{LOST_ENGINE} at {self.address}: {_short(e)}") from None
        except Exception as e:
            if type(e).__module__.startswith(("requests", "urllib3", "http")):
                raise EngineConnectionLost(f"{LOST_ENGINE} at {self.address}: {_short(e)}") from None
            raise

    def _params(self, request: BuildRequest) -> dict[str, Any]:
        return {
            "t": request.tag,
            "dockerfile": request.dockerfile,
            "nocache": request.nocache,
            "rm": True,
            # forcerm: a failed step's container is removed too (rm alone leaves it behind).
            "forcerm": True,
            "buildargs": dict(request.build_args),
            "target": request.target,
        }

    def _classic_stream(self, request: BuildRequest) -> Iterator[dict[str, Any]]:
        p = self._params(request)
        # A generator body goes out chunked, as the docker CLI sends it.
        return self.api.build(
            fileobj=iter(request.context),
            custom_context=True,
            tag=p["t"],
            dockerfile=p["dockerfile"],
            nocache=p["nocache"],
            rm=True,
            forcerm=True,
            buildargs=p["buildargs"],
            target=p["target"],
            cache_from=list(request.cache_from) or None,
            decode=True,
        )

    def _buildkit_stream(self, request: BuildRequest) -> Iterator[dict[str, Any]]:
        # The SDK's build() has no `version` parameter; its transport can still send the request.
        p = self._params(request)
        params: dict[str, Any] = {
            "version": "2",
            "t": p["t"],
            "dockerfile": p["dockerfile"],
            "nocache": "1" if p["nocache"] else "0",
            "rm": "1",
            "forcerm": "1",
        }
        if p["buildargs"]:
            params["buildargs"] = json.dumps(p["buildargs"])
        if p["target"]:
            params["target"] = p["target"]
        response = self.api._post(
            self.api._url("/build"),
            params=params,
            data=iter(request.context),
            headers={"Content-Type": "application/x-tar"},
            stream=True,
            timeout=None,
        )
        self.api._raise_for_status(response)
        return self.api._stream_helper(response, decode=True)

    def remove_image(self, ref: str) -> bool | None:
        """Remove one image cacheprof created. noprune: never remove parents it did not create.

        True: removed; False: not there; None: in use (a container, or a child image), so left.
        """
        try:
            self.api.remove_image(ref, force=False, noprune=True)
            return True
        except self._errors.NotFound:
            return False
        except self._errors.APIError:
            return None
        except (self._errors.DockerException, OSError):
            return None  # the engine is gone: nothing to do

    def image_ids(self) -> set[str]:
        return {img["Id"] for img in self.api.images(all=True)}

    def image_config(self, image: str) -> dict[str, Any]:
        return dict(self.api.inspect_image(image).get("Config") or {})

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

        Exports a created (never started) container, which it removes again, also on failure.
        """
        import hashlib
        import tarfile

        container = self.api.create_container(image, command=["cacheprof-export"],
                                              labels={"org.cacheprof.export": "1"})
        try:
            raw = self.api.export(container["Id"])
            files: dict[str, tuple[str, int, str]] = {}
            with tarfile.open(fileobj=_IterStream(raw), mode="r|") as tar:
                for member in tar:
                    name = "/" + member.name.lstrip("./").rstrip("/")
                    if member.isreg():
                        fh = tar.extractfile(member)
                        digest = hashlib.sha256(fh.read() if fh else b"").hexdigest()
                        files[name] = ("file", member.mode, digest)
                    elif member.issym() or member.islnk():
                        files[name] = ("link", member.mode, member.linkname)
                    elif member.isdir():
                        files[name] = ("dir", member.mode, "")
                    else:
                        files[name] = ("other", member.mode, "")
            return files
        finally:
            try:
                self.api.remove_container(container["Id"], force=True)
            except self._errors.APIError:
                pass

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


def _short(e: BaseException) -> str:
    """The reason in a few words: the SDK wraps socket errors in several layers of requests' text."""
    text = str(e).strip()
    for reason in _REASONS:
        if reason.lower() in text.lower():
            return reason.lower()
    first = text.splitlines()[0] if text else type(e).__name__
    return first if len(first) <= 160 else first[:157] + "..."
