"""Which engine the docker CLI would talk to: --docker-host, else DOCKER_HOST, else the current docker context
(DOCKER_CONTEXT, else `currentContext` of the CLI's config.json, as `docker context use` sets it), read from
the context store. No engine is contacted here.

Store layout (docker/cli): $DOCKER_CONFIG (default ~/.docker)/contexts/meta/<sha256 of the name>/meta.json
holds {"Name", "Endpoints": {"docker": {"Host", "SkipTLSVerify"}}}; TLS files are in
contexts/tls/<sha256>/docker/{ca,cert,key}.pem.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError


@dataclass(frozen=True)
class Endpoint:
    host: str | None  # None: the SDK's default (DOCKER_HOST or the local socket)
    tls_cert_path: str | None = None
    # Where the address came from, for messages: --docker-host, DOCKER_HOST, context NAME, default.
    source: str = "default"


def config_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("DOCKER_CONFIG") or Path(env.get("HOME") or Path.home()) / ".docker")


def current_context(env: Mapping[str, str]) -> str | None:
    """DOCKER_CONTEXT, else config.json's currentContext; None for the default context."""
    name = env.get("DOCKER_CONTEXT")
    if not name:
        try:
            name = json.loads((config_dir(env) / "config.json").read_text()).get("currentContext")
        except (OSError, ValueError, AttributeError):
            name = None
    return None if not name or name == "default" else str(name)


def context_endpoint(name: str, env: Mapping[str, str]) -> Endpoint:
    digest = hashlib.sha256(name.encode()).hexdigest()
    store = config_dir(env) / "contexts"
    meta = store / "meta" / digest / "meta.json"
    try:
        data = json.loads(meta.read_text())
        host = data["Endpoints"]["docker"]["Host"]
    except FileNotFoundError:
        raise UsageError(f"docker context {name!r} not found in {store}; `docker context ls` lists them, "
                         "DOCKER_CONTEXT or `docker context use` picks one") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(f"docker context {name!r}: {meta} has no docker endpoint host") from None
    tls = store / "tls" / digest / "docker"
    return Endpoint(str(host), str(tls) if (tls / "ca.pem").is_file() else None, f"docker context {name}")


def resolve_endpoint(explicit: str | None, env: Mapping[str, str] | None = None) -> Endpoint:
    """As the docker CLI: --docker-host wins, then DOCKER_HOST, then the current context."""
    env = os.environ if env is None else env
    if explicit:
        return Endpoint(explicit, None, "--docker-host")
    if env.get("DOCKER_HOST"):
        return Endpoint(None, None, "DOCKER_HOST")  # the SDK's from_env reads it, with DOCKER_TLS_VERIFY
    name = current_context(env)
    return context_endpoint(name, env) if name else Endpoint(None)
