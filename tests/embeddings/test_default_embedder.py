"""DefaultEmbedder with the real int8 model, offline (sockets refused in every test)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from binary_semantic_cache.embeddings import (
    DEFAULT_MODEL_ID,
    DefaultEmbedder,
    Embedder,
    InvalidInputError,
)

pytestmark = pytest.mark.usefixtures("no_network")

TOKENIZER = (
    Path(__file__).resolve().parents[2]
    / "binary_semantic_cache/embeddings/data/all-MiniLM-L6-v2.tokenizer.json"
)


@pytest.fixture(scope="module")
def embedder() -> DefaultEmbedder:
    return DefaultEmbedder()


def test_vectors_are_unit_float32_rows_of_384(embedder: DefaultEmbedder) -> None:
    vectors = embedder.embed(["hello world", "a second, longer sentence to embed"])
    assert vectors.dtype == np.float32
    assert vectors.shape == (2, 384) == (2, embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.model_id == DEFAULT_MODEL_ID
    assert isinstance(embedder, Embedder)


def test_paraphrases_score_higher_than_unrelated_sentences(embedder: DefaultEmbedder) -> None:
    question, paraphrase, unrelated = embedder.embed(
        [
            "How do I reset my password?",
            "I forgot my password, how can I change it?",
            "What is the best recipe for banana bread?",
        ]
    )
    assert question @ paraphrase > 0.7
    assert question @ unrelated < 0.3


def test_same_text_gives_the_same_vector(embedder: DefaultEmbedder) -> None:
    first = embedder.embed_one("What is the capital of France?")
    second = DefaultEmbedder(batch_size=1).embed_one("What is the capital of France?")
    np.testing.assert_array_equal(first, second)


def test_batch_equals_one_by_one(embedder: DefaultEmbedder) -> None:
    texts = [
        "short",
        "a somewhat longer sentence with more tokens in it",
        "",
        "Why is the sky blue during the day and red at sunset?",
        "short",
    ] * 5
    batched = embedder.embed(texts)
    single = np.stack([embedder.embed_one(t) for t in texts])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_async_matches_sync(embedder: DefaultEmbedder) -> None:
    texts = ["one prompt", "another prompt"]
    np.testing.assert_allclose(asyncio.run(embedder.aembed(texts)), embedder.embed(texts))


def test_token_vectors_come_from_the_same_run_as_the_vectors(embedder: DefaultEmbedder) -> None:
    texts = ["Who founded Google?", "In which year was the Eiffel Tower built?"]
    found = embedder.token_vectors(texts)
    assert found[0].tokens == ("who", "founded", "google", "?")
    assert embedder.tokens(texts) == [t.tokens for t in found]
    for t in found:
        assert t.vectors.shape == (len(t.tokens), 384)
        np.testing.assert_allclose(np.linalg.norm(t.vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(
        np.stack([t.vector for t in found]), embedder.embed(texts), atol=1e-5
    )
    # The pooled vector points where the word pieces point (it also pools [CLS] and [SEP]).
    mean = found[1].vectors.mean(axis=0)
    assert float(mean @ found[1].vector) / float(np.linalg.norm(mean)) > 0.9
    # The same piece in two questions has a similar, not equal, vector: it sees its context.
    founded = (
        found[0].vectors[1] @ embedder.token_vectors(["Google was founded when?"])[0].vectors[2]
    )
    assert 0.5 < founded < 0.999


def test_long_text_is_truncated_not_refused(embedder: DefaultEmbedder) -> None:
    long_text = "word " * 5000
    vector = embedder.embed_one(long_text)
    np.testing.assert_allclose(vector, embedder.embed_one("word " * 300), atol=1e-6)


def test_it_says_which_texts_run_past_its_window(embedder: DefaultEmbedder) -> None:
    # 256 tokens: [CLS], the text's tokens, [SEP]
    assert not embedder.truncates("word " * 254)
    assert embedder.truncates("word " * 255)
    assert not embedder.truncates("How long is the warranty?")
    assert not embedder.truncates("\u4e2d" * 200)  # one token a character, under the window
    assert embedder.truncates("\u4e2d" * 300)


def test_bad_inputs_are_refused(embedder: DefaultEmbedder) -> None:
    with pytest.raises(InvalidInputError, match="empty sequence"):
        embedder.embed([])
    with pytest.raises(InvalidInputError, match="index 0, got NoneType"):
        embedder.embed([None])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="batch_size"):
        DefaultEmbedder(batch_size=0)


def test_vendored_tokenizer_is_the_pinned_file() -> None:
    digest = hashlib.sha256(TOKENIZER.read_bytes()).hexdigest()
    assert digest == "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"


def test_duplicates_score_higher_than_non_duplicates_on_qqp(
    embedder: DefaultEmbedder, qqp_path: Path
) -> None:
    with gzip.open(qqp_path, "rt") as lines:
        rows = [json.loads(line) for line, _ in zip(lines, range(300), strict=False)]
    a = embedder.embed([r["a"] for r in rows])
    b = embedder.embed([r["b"] for r in rows])
    scores = (a * b).sum(axis=1)
    labels = np.array([r["label"] for r in rows]) == 1
    assert scores[labels].mean() > scores[~labels].mean() + 0.1


def test_the_offline_guard_refuses_internet_sockets() -> None:
    import socket

    with pytest.raises(RuntimeError, match="network access"):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
