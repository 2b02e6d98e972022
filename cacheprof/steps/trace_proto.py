"""Decode BuildKit's `moby.buildkit.trace` messages (protobuf `moby.buildkit.v1.StatusResponse`).

The descriptor is built at run time from the field numbers of moby/buildkit's control.proto rather than
from a generated `_pb2.py`, so it works with any protobuf runtime. Only the fields cacheprof reads are
declared; unknown fields (e.g. warnings, whose shape changed between BuildKit versions) are skipped.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..errors import InputFormatError


@cache
def _status_response_class() -> Any:
    # protobuf loads on the first BuildKit message, not with the module: classic runs never need it.
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    _F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="cacheprof_buildkit_control.proto", package="cacheprof.buildkit", syntax="proto3"
    )

    def msg(name: str, fields: list[tuple[str, int, int, int, str | None]]) -> None:
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name

    opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    ts = ".cacheprof.buildkit.Timestamp"
    msg("Timestamp", [("seconds", 1, _F.TYPE_INT64, opt, None), ("nanos", 2, _F.TYPE_INT32, opt, None)])
    msg("Vertex", [
        ("digest", 1, _F.TYPE_STRING, opt, None),
        ("inputs", 2, _F.TYPE_STRING, rep, None),
        ("name", 3, _F.TYPE_STRING, opt, None),
        ("cached", 4, _F.TYPE_BOOL, opt, None),
        ("started", 5, _F.TYPE_MESSAGE, opt, ts),
        ("completed", 6, _F.TYPE_MESSAGE, opt, ts),
        ("error", 7, _F.TYPE_STRING, opt, None),
    ])
    msg("VertexStatus", [
        ("ID", 1, _F.TYPE_STRING, opt, None),
        ("vertex", 2, _F.TYPE_STRING, opt, None),
        ("name", 3, _F.TYPE_STRING, opt, None),
        ("current", 4, _F.TYPE_INT64, opt, None),
        ("total", 5, _F.TYPE_INT64, opt, None),
        ("timestamp", 6, _F.TYPE_MESSAGE, opt, ts),
        ("started", 7, _F.TYPE_MESSAGE, opt, ts),
        ("completed", 8, _F.TYPE_MESSAGE, opt, ts),
    ])
    msg("VertexLog", [
        ("vertex", 1, _F.TYPE_STRING, opt, None),
        ("timestamp", 2, _F.TYPE_MESSAGE, opt, ts),
        ("stream", 3, _F.TYPE_INT64, opt, None),
        ("msg", 4, _F.TYPE_BYTES, opt, None),
    ])
    msg("StatusResponse", [
        ("vertexes", 1, _F.TYPE_MESSAGE, rep, ".cacheprof.buildkit.Vertex"),
        ("statuses", 2, _F.TYPE_MESSAGE, rep, ".cacheprof.buildkit.VertexStatus"),
        ("logs", 3, _F.TYPE_MESSAGE, rep, ".cacheprof.buildkit.VertexLog"),
    ])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("cacheprof.buildkit.StatusResponse"))


@dataclass(frozen=True)
class VertexUpdate:
    digest: str
    name: str
    cached: bool
    started: float | None
    completed: float | None
    error: str | None
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class StatusUpdate:
    """What one StatusResponse says: vertex states, the vertices with download/extract progress, logs."""

    vertexes: tuple[VertexUpdate, ...]
    status_vertices: tuple[str, ...]
    logs: tuple[tuple[str, float | None, bytes], ...]


def _time(ts: Any, present: bool) -> float | None:
    if not present:
        return None
    if ts.seconds <= 0:  # Go's zero time (year 1) marshals to a negative epoch
        return None
    return ts.seconds + ts.nanos / 1e9


def decode_status(payload: bytes) -> StatusUpdate:
    cls = _status_response_class()
    resp = cls()
    try:
        resp.ParseFromString(payload)
    except Exception as e:  # protobuf's DecodeError differs between runtimes
        raise InputFormatError(f"a BuildKit trace message is not valid protobuf ({e})") from None
    vertexes = tuple(
        VertexUpdate(
            digest=v.digest,
            name=v.name,
            cached=v.cached,
            started=_time(v.started, v.HasField("started")),
            completed=_time(v.completed, v.HasField("completed")),
            error=v.error or None,
            inputs=tuple(v.inputs),
        )
        for v in resp.vertexes
    )
    return StatusUpdate(
        vertexes=vertexes,
        # A `resolve …` status is a digest lookup, not a download: it does not make a FROM a pull.
        status_vertices=tuple(s.vertex for s in resp.statuses if not s.ID.startswith("resolve ")),
        logs=tuple(
            (lg.vertex, _time(lg.timestamp, lg.HasField("timestamp")), bytes(lg.msg)) for lg in resp.logs
        ),
    )


def decode_trace_aux(aux: str) -> StatusUpdate:
    """Decode the base64 `aux` of a `{"id": "moby.buildkit.trace"}` message."""
    try:
        payload = base64.b64decode(aux, validate=True)
    except (binascii.Error, ValueError):
        raise InputFormatError("a BuildKit trace message is not valid base64") from None
    return decode_status(payload)
