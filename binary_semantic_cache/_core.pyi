"""Type stubs for the compiled core (checked against it by mypy.stubtest)."""

import os
import pathlib
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Final, Literal, final

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, disjoint_base

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_SEED",
    "DEFAULT_SIMILARITY_THRESHOLD",
    "BSCError",
    "BinaryEncoder",
    "BinarySemanticCache",
    "CacheHit",
    "CorruptCacheError",
    "UnsupportedFormatError",
    "__version__",
]

__version__: Final[str]
DEFAULT_SEED: Final[int]
DEFAULT_SIMILARITY_THRESHOLD: Final[float]
DEFAULT_MAX_ENTRIES: Final[int]

class BSCError(Exception): ...
class CorruptCacheError(BSCError): ...
class UnsupportedFormatError(BSCError): ...

@final
class BinaryEncoder:
    def __new__(
        cls, embedding_dim: int, code_bits: int = 256, seed: int = ...
    ) -> BinaryEncoder: ...
    @property
    def embedding_dim(self) -> int: ...
    @property
    def code_bits(self) -> int: ...
    @property
    def seed(self) -> int: ...
    def encode(self, embedding: npt.ArrayLike) -> npt.NDArray[np.uint64]: ...
    def encode_batch(self, embeddings: npt.ArrayLike) -> npt.NDArray[np.uint64]: ...

@final
class CacheHit:
    @property
    def response(self) -> Any: ...
    @property
    def similarity(self) -> float: ...
    @property
    def id(self) -> int: ...
    @property
    def distance(self) -> int: ...

@disjoint_base
class BinarySemanticCache:
    def __new__(
        cls,
        encoder: BinaryEncoder | None = None,
        max_entries: int | None = None,
        similarity_threshold: float = ...,
        ttl_seconds: float | None = None,
        rescore: bool = False,
        path: str | os.PathLike[str] | None = None,
        durability: Literal["always", "interval", "manual"] = "interval",
        flush_interval_seconds: float = 1.0,
        read_only: bool = False,
    ) -> BinarySemanticCache: ...
    @property
    def encoder(self) -> BinaryEncoder: ...
    @property
    def path(self) -> pathlib.Path | None: ...
    def flush(self) -> None: ...
    def save(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...
    @property
    def max_entries(self) -> int: ...
    @property
    def similarity_threshold(self) -> float: ...
    @property
    def ttl_seconds(self) -> float | None: ...
    @property
    def rescore(self) -> bool: ...
    @property
    def kernel(self) -> str: ...
    def get(self, embedding: npt.ArrayLike, partition: str | None = None) -> CacheHit | None: ...
    def get_batch(
        self, embeddings: npt.ArrayLike, partition: str | None = None
    ) -> list[CacheHit | None]: ...
    def search(
        self,
        embedding: npt.ArrayLike,
        k: int = 5,
        partition: str | None = None,
        min_similarity: float | None = None,
    ) -> list[CacheHit]: ...
    def put(
        self,
        embedding: npt.ArrayLike,
        response: Any,
        partition: str | None = None,
        ttl_seconds: float | None = None,
    ) -> int: ...
    def put_batch(
        self,
        embeddings: npt.ArrayLike,
        responses: Iterable[Any],
        partition: str | None = None,
        ttl_seconds: float | None = None,
    ) -> list[int]: ...
    def delete(self, id: int) -> bool: ...
    def clear(self, partition: str | None = None) -> int: ...
    def clear_prefix(self, prefix: str) -> int: ...
    def has_partition(self, partition: str) -> bool: ...
    def stats(self) -> dict[str, int]: ...
    def ids(self) -> list[int]: ...
    def __len__(self) -> int: ...
