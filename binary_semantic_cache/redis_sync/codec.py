"""Entries and feed events as Redis fields: responses as str, bytes or JSON (never pickle)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

KIND_STR = b"s"
KIND_BYTES = b"b"
KIND_JSON = b"j"

# How a clear event selects partitions.
CLEAR_ALL = b"1"
CLEAR_PARTITION = b"0"
CLEAR_PREFIX = b"2"


def encode_response(response: Any) -> tuple[bytes, bytes]:
    """The kind and payload of a response, as the core encodes it."""
    if isinstance(response, str):
        return KIND_STR, response.encode()
    if isinstance(response, bytes):
        return KIND_BYTES, response
    try:
        text = json.dumps(response, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"response must be str, bytes or JSON-serialisable, got {type(response).__name__}: "
            f"{err}"
        ) from err
    return KIND_JSON, text.encode()


def decode_response(kind: bytes, payload: bytes) -> Any:
    if kind == KIND_STR:
        return payload.decode()
    if kind == KIND_BYTES:
        return payload
    return json.loads(payload)


def vector_bytes(embedding: npt.ArrayLike) -> bytes:
    """float32 bytes: every instance re-encodes them with its own (identical) encoder."""
    return np.ascontiguousarray(embedding, dtype=np.float32).reshape(-1).tobytes()


@dataclass(frozen=True)
class Entry:
    """One shared entry, from a snapshot or a put event."""

    gid: int
    partition: str
    vector: npt.NDArray[np.float32]
    kind: bytes
    payload: bytes
    # absolute expiry in ms on the Redis clock; 0 = none
    expires_ms: int
    # "<instance>:<local id>" of the writer
    origin: str

    @classmethod
    def from_fields(cls, gid: int, fields: dict[bytes, bytes]) -> Entry:
        return cls(
            gid=gid,
            partition=fields[b"p"].decode(),
            vector=np.frombuffer(fields[b"v"], dtype=np.float32),
            kind=fields[b"k"],
            payload=fields[b"r"],
            expires_ms=int(fields[b"x"]),
            origin=fields[b"o"].decode(),
        )

    def response(self) -> Any:
        return decode_response(self.kind, self.payload)


@dataclass(frozen=True)
class Delete:
    gid: int


@dataclass(frozen=True)
class Clear:
    """Removes the entries with id <= ``up_to`` of ``partition`` (all when None), or with
    ``prefix``, of every non-default partition whose name starts with it.

    The bound makes a clear replayed after a newer snapshot harmless.
    """

    up_to: int
    partition: str | None
    prefix: bool = False

    def matches(self, partition: str) -> bool:
        if self.partition is None:
            return True
        if self.prefix:
            return partition != "" and partition.startswith(self.partition)
        return partition == self.partition


Event = Entry | Delete | Clear


def parse_event(fields: dict[bytes, bytes]) -> Event:
    op = fields[b"op"]
    if op == b"put":
        return Entry.from_fields(int(fields[b"g"]), fields)
    if op == b"del":
        return Delete(int(fields[b"g"]))
    if op == b"clr":
        mode = fields[b"a"]
        partition = None if mode == CLEAR_ALL else fields[b"p"].decode()
        return Clear(int(fields[b"g"]), partition, prefix=mode == CLEAR_PREFIX)
    raise ValueError(f"unknown feed event {op!r}")
