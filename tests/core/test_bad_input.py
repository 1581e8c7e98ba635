"""Every bad input raises a clear error naming what was expected and what came, and the cache
still holds everything it held before."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from binary_semantic_cache import BinaryEncoder, BinarySemanticCache

from .conftest import DIM, unit


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"embedding_dim": 0}, "embedding_dim must be at least 1, got 0"),
        ({"embedding_dim": 8, "code_bits": 0}, "positive multiple of 64, got 0"),
        ({"embedding_dim": 8, "code_bits": 100}, "positive multiple of 64, got 100"),
    ],
)
def test_bad_encoder_arguments(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BinaryEncoder(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"similarity_threshold": 1.5}, r"within \[0, 1\], got 1.5"),
        ({"similarity_threshold": -0.1}, r"within \[0, 1\], got -0.1"),
        ({"max_entries": 0}, "max_entries must be at least 1, got 0"),
        ({"max_entries": -5}, "max_entries must be at least 1, got -5"),
        ({"ttl_seconds": -1.0}, "greater than 0, got -1"),
        ({"ttl_seconds": float("nan")}, "greater than 0, got NaN"),
    ],
)
def test_bad_cache_arguments(encoder: BinaryEncoder, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BinarySemanticCache(encoder, **kwargs)


BAD_CALLS: list[tuple[str, Callable[[BinarySemanticCache, np.ndarray], object], type, str]] = [
    (
        "wrong dimension",
        lambda c, v: c.put(v[:10], "x"),
        ValueError,
        f"10 dimensions, expected {DIM}",
    ),
    (
        "nan",
        lambda c, v: c.put(np.where(np.arange(DIM) == 3, np.nan, v), "x"),
        ValueError,
        "non-finite value \\(NaN\\) at index 3",
    ),
    (
        "inf",
        lambda c, v: c.get(np.where(np.arange(DIM) == 0, np.inf, v)),
        ValueError,
        "non-finite value \\(inf\\) at index 0",
    ),
    (
        "empty",
        lambda c, v: c.put(np.array([], dtype=np.float32), "x"),
        ValueError,
        f"0 dimensions, expected {DIM}",
    ),
    (
        "2-D to put",
        lambda c, v: c.put(np.stack([v, v]), "x"),
        ValueError,
        "expected a 1-D array \\(one embedding\\), got a 2-D array of shape \\(2, 64\\)",
    ),
    (
        "3-D to batch",
        lambda c, v: c.put_batch(np.zeros((2, 2, DIM)), ["a", "b"]),
        ValueError,
        "expected a 2-D array .* got a 3-D array of shape \\(2, 2, 64\\)",
    ),
    (
        "empty batch",
        lambda c, v: c.put_batch(np.zeros((0, DIM)), []),
        ValueError,
        "got an empty array",
    ),
    (
        "batch length",
        lambda c, v: c.put_batch(np.stack([v, v]), ["only one"]),
        ValueError,
        "one response per embedding \\(2\\), got 1",
    ),
    (
        "bad row in batch",
        lambda c, v: c.put_batch(np.stack([v, v * np.nan]), ["a", "b"]),
        ValueError,
        "non-finite",
    ),
    ("not numbers", lambda c, v: c.get(["a", "b"]), ValueError, "expected an array of numbers"),
    (
        "unserialisable",
        lambda c, v: c.put(v, object()),
        TypeError,
        "response must be str, bytes or JSON-serialisable, got object",
    ),
    ("nan response", lambda c, v: c.put(v, {"x": float("nan")}), TypeError, "JSON-serialisable"),
    (
        "negative ttl",
        lambda c, v: c.put(v, "x", ttl_seconds=-3),
        ValueError,
        "greater than 0, got -3",
    ),
    ("k zero", lambda c, v: c.search(v, k=0), ValueError, "k must be at least 1, got 0"),
    (
        "min_similarity",
        lambda c, v: c.search(v, min_similarity=2.0),
        ValueError,
        r"within \[0, 1\], got 2",
    ),
]


@pytest.mark.parametrize(
    ("name", "call", "error", "message"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS]
)
def test_bad_calls_raise_and_lose_nothing(
    cache: BinarySemanticCache,
    rng: np.random.Generator,
    name: str,
    call: Any,
    error: type,
    message: str,
) -> None:
    xs = unit(rng, 5)
    for i, x in enumerate(xs):
        cache.put(x, f"kept-{i}")
    before = (len(cache), cache.ids())
    with pytest.raises(error, match=message):
        call(cache, unit(rng, 1)[0])
    assert (len(cache), cache.ids()) == before
    for i, x in enumerate(xs):
        hit = cache.get(x)
        assert hit is not None and hit.response == f"kept-{i}"
