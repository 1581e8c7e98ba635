from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from binary_semantic_cache import BinaryEncoder, BinarySemanticCache

DIM = 64


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> npt.NDArray[np.float32]:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def encoder() -> BinaryEncoder:
    return BinaryEncoder(DIM, code_bits=256, seed=7)


@pytest.fixture
def cache(encoder: BinaryEncoder) -> BinarySemanticCache:
    return BinarySemanticCache(encoder, max_entries=1000, similarity_threshold=0.9)
