"""``BinaryByteStore``: a bounded, persisted ``ByteStore`` for ``CacheBackedEmbeddings``.

LangChain's ``CacheBackedEmbeddings`` keeps each text's vector in a ``ByteStore``. This one holds
them in memory with a size bound (least recently used out first) and an optional lifetime, and
writes them to one checksummed file (``bytestore.bsc``, never pickle) that the next process
loads.
"""

from __future__ import annotations

import hashlib
import math
import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from langchain_core.stores import ByteStore

from binary_semantic_cache import CorruptCacheError, UnsupportedFormatError
from binary_semantic_cache._files import atomic_write
from binary_semantic_cache.lru import BoundedLRU

__all__ = ["BinaryByteStore"]

_FILE_NAME = "bytestore.bsc"
# The file: magic, version (u32), entry count (u64); per entry the key's length (u32) and UTF-8,
# the expiry (f64 wall-clock seconds, NaN for none), the value's length (u64) and bytes; then
# the SHA-256 of everything before it. Little-endian.
_MAGIC = b"BSC-BYTESTORE\n"
_VERSION = 1
_HEADER = struct.Struct("<IQ")
_KEY_LENGTH = struct.Struct("<I")
_EXPIRY_AND_LENGTH = struct.Struct("<dQ")
_CHECKSUM_BYTES = 32


@dataclass(frozen=True, slots=True)
class _Entry:
    value: bytes
    expires_at: float | None  # wall-clock seconds, so a lifetime survives a restart

    def is_live(self) -> bool:
        return self.expires_at is None or time.time() < self.expires_at


class BinaryByteStore(ByteStore):
    """Bytes by key, in memory, bounded, with an optional lifetime, persisted to one file.

    Thread-safe. ``mset`` checks every pair before storing any. :meth:`persist` writes the live
    entries atomically (a crash leaves the previous file); a damaged file is refused with
    ``CorruptCacheError`` and left as it is. ``CacheBackedEmbeddings`` stores a vector as JSON
    text, about 8 kB for 384 dimensions, so ``max_entries`` bounds memory and the file too.

    Args:
        path: A directory to load ``bytestore.bsc`` from now and to :meth:`persist` it to.
        max_entries: Entries kept, least recently used dropped first.
        ttl_seconds: Lifetime of an entry; ``None``: until evicted or deleted.

    Example:
        .. code-block:: python

            from langchain_classic.embeddings import CacheBackedEmbeddings
            from bsc_langchain import BinaryByteStore

            store = BinaryByteStore(path="embedding-cache", max_entries=200_000)
            embeddings = CacheBackedEmbeddings.from_bytes_store(
                underlying, store, namespace=underlying.model, key_encoder="sha256"
            )
            vectors = embeddings.embed_documents(texts)  # each text embedded once
            store.persist()
    """

    def __init__(
        self,
        path: str | PathLike[str] | None = None,
        *,
        max_entries: int = 100_000,
        ttl_seconds: float | None = None,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            msg = f"max_entries must be a positive int, got {max_entries!r}"
            raise ValueError(msg)
        if ttl_seconds is not None and not (
            isinstance(ttl_seconds, (int, float))
            and not isinstance(ttl_seconds, bool)
            and 0 < ttl_seconds < math.inf
        ):
            msg = f"ttl_seconds must be a positive number of seconds or None, got {ttl_seconds!r}"
            raise ValueError(msg)
        self._path = None if path is None else Path(path)
        self._max_entries = max_entries
        self._ttl_seconds = ttl_seconds
        self._entries: BoundedLRU[str, _Entry] = BoundedLRU(max_entries)
        if self._path is not None and (self._path / _FILE_NAME).exists():
            for key, entry in _read(self._path / _FILE_NAME):
                if entry.is_live():
                    self._entries.put(key, entry)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(path={self._path}, max_entries={self._max_entries}, "
            f"ttl_seconds={self._ttl_seconds})"
        )

    def __len__(self) -> int:
        """The live entries."""
        return sum(entry.is_live() for _, entry in self._entries.items())

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        """The value of each key, or ``None`` where there is none (or it expired)."""
        found = [self._entries.get(key, _Entry.is_live) for key in keys]
        return [None if entry is None else entry.value for entry in found]

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        """Store every pair, replacing what was there; all or none."""
        for key, value in key_value_pairs:
            if not isinstance(key, str):
                msg = f"keys must be str, got {type(key).__name__}"
                raise TypeError(msg)
            if not isinstance(value, bytes):
                msg = f"values must be bytes, got {type(value).__name__} for key {key!r}"
                raise TypeError(msg)
        expires_at = None if self._ttl_seconds is None else time.time() + self._ttl_seconds
        for key, value in key_value_pairs:
            self._entries.put(key, _Entry(value, expires_at))

    def mdelete(self, keys: Sequence[str]) -> None:
        """Remove the keys; a missing key is no error."""
        self._entries.remove(keys)

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        """The live keys (those starting with ``prefix`` if given), least recently used first."""
        for key, entry in self._entries.items():
            if (prefix is None or key.startswith(prefix)) and entry.is_live():
                yield key

    def persist(self, path: str | PathLike[str] | None = None) -> Path:
        """Write the live entries to ``path`` (default: the constructor's); return the file."""
        directory = self._path if path is None else Path(path)
        if directory is None:
            msg = "no directory: pass path= to BinaryByteStore or to persist()"
            raise ValueError(msg)
        live = [(key, entry) for key, entry in self._entries.items() if entry.is_live()]
        target = directory / _FILE_NAME
        atomic_write(target, _encode(live))
        return target


def _encode(entries: list[tuple[str, _Entry]]) -> bytes:
    parts = [_MAGIC, _HEADER.pack(_VERSION, len(entries))]
    for key, entry in entries:
        encoded_key = key.encode("utf-8")
        expiry = math.nan if entry.expires_at is None else entry.expires_at
        parts += [
            _KEY_LENGTH.pack(len(encoded_key)),
            encoded_key,
            _EXPIRY_AND_LENGTH.pack(expiry, len(entry.value)),
            entry.value,
        ]
    body = b"".join(parts)
    return body + hashlib.sha256(body).digest()


def _read(target: Path) -> list[tuple[str, _Entry]]:
    """The entries of a file :func:`_encode` wrote; never trusts a length it has not checked."""
    data = target.read_bytes()
    start = len(_MAGIC) + _HEADER.size
    if len(data) < start + _CHECKSUM_BYTES or not data.startswith(_MAGIC):
        msg = f"{target}: expected a bsc-cache byte store file, got another kind of file"
        raise CorruptCacheError(msg)
    body, checksum = data[:-_CHECKSUM_BYTES], data[-_CHECKSUM_BYTES:]
    if hashlib.sha256(body).digest() != checksum:
        msg = f"{target}: checksum mismatch; the file is damaged or was cut short"
        raise CorruptCacheError(msg)
    version, count = _HEADER.unpack_from(data, len(_MAGIC))
    if version != _VERSION:
        msg = f"{target}: byte store version {version}; this bsc-cache reads version {_VERSION}"
        raise UnsupportedFormatError(msg)
    entries, offset = [], start
    for _ in range(count):
        key_end = offset + _KEY_LENGTH.size
        if key_end > len(body):
            break
        (key_length,) = _KEY_LENGTH.unpack_from(body, offset)
        fields = key_end + key_length
        value_start = fields + _EXPIRY_AND_LENGTH.size
        if value_start > len(body):
            break
        expiry, value_length = _EXPIRY_AND_LENGTH.unpack_from(body, fields)
        offset = value_start + value_length
        if offset > len(body):
            break
        try:
            key = body[key_end:fields].decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = f"{target}: expected a UTF-8 key at offset {key_end}, got other bytes"
            raise CorruptCacheError(msg) from exc
        value = body[value_start:offset]
        entries.append((key, _Entry(value, None if math.isnan(expiry) else expiry)))
    if len(entries) != count or offset != len(body):
        msg = f"{target}: expected {count} entries filling the file, found them inconsistent"
        raise CorruptCacheError(msg)
    return entries
