"""Crash-safe files: JSON metadata and float32 ``.npy`` arrays, written via temp file + rename.

A reader sees the old file or the new one, never half of one. Nothing is pickled: JSON is read
with ``json`` and arrays with ``numpy.load(allow_pickle=False)``; the metadata records the
array's SHA-256 and shape, so an array from another write is refused.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from binary_semantic_cache import CorruptCacheError
from binary_semantic_cache._files import atomic_write

__all__ = ["atomic_write", "load_json", "load_vectors", "save_vectors"]


def load_json(path: Path, expected_format: str) -> dict[str, Any]:
    """Read a JSON object whose ``format`` is ``expected_format``, or raise CorruptCacheError."""
    try:
        data = json.loads(path.read_bytes())
    except ValueError as exc:
        msg = f"{path}: expected a JSON {expected_format} file, got unreadable JSON ({exc})"
        raise CorruptCacheError(msg) from exc
    if not isinstance(data, dict) or data.get("format") != expected_format:
        msg = f"{path}: expected a JSON {expected_format} file, got another kind of file"
        raise CorruptCacheError(msg)
    return data


def save_vectors(json_path: Path, meta: dict[str, Any], vectors: npt.NDArray[np.float32]) -> None:
    """Write ``vectors`` next to ``json_path`` (as ``.npy``), then ``meta`` describing them."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
    data = buffer.getvalue()
    atomic_write(json_path.with_suffix(".npy"), data)
    # The metadata goes last and names the array it belongs to: a crash between the two writes
    # leaves a pair that load_vectors refuses instead of one it misreads.
    described = {**meta, "shape": list(vectors.shape), "sha256": hashlib.sha256(data).hexdigest()}
    atomic_write(json_path, json.dumps(described, ensure_ascii=False).encode("utf-8"))


def load_vectors(
    json_path: Path, expected_format: str
) -> tuple[dict[str, Any], npt.NDArray[np.float32]]:
    """Read what :func:`save_vectors` wrote; raise CorruptCacheError when the pair disagrees."""
    meta = load_json(json_path, expected_format)
    npy_path = json_path.with_suffix(".npy")
    try:
        data = npy_path.read_bytes()
    except FileNotFoundError as exc:
        msg = f"{json_path}: expected its vectors in {npy_path.name}, found no such file"
        raise CorruptCacheError(msg) from exc
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        msg = f"{npy_path}: expected the vectors {json_path.name} describes, got other bytes"
        raise CorruptCacheError(msg)
    try:
        vectors = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        msg = f"{npy_path}: expected a .npy array, got unreadable data ({exc})"
        raise CorruptCacheError(msg) from exc
    if vectors.dtype != np.float32 or list(vectors.shape) != meta.get("shape"):
        msg = (
            f"{npy_path}: expected float32 of shape {meta.get('shape')}, "
            f"got {vectors.dtype} of shape {list(vectors.shape)}"
        )
        raise CorruptCacheError(msg)
    return meta, vectors
