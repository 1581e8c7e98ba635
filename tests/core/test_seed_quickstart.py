"""The cache part of the earlier system's Quick Start (../shared/seeds/002, "Quick Start") runs
unchanged against this package; only the embedding comes from the offline default model."""

from __future__ import annotations

from binary_semantic_cache.embeddings import DefaultEmbedder


def test_seed_quick_start_runs_unchanged(capsys) -> None:
    backend = DefaultEmbedder()  # the seed used OpenAIEmbeddingBackend; same embed_text call

    # --- from the seed, unchanged except embedding_dim (the default model has 384) ---
    from binary_semantic_cache import BinaryEncoder, BinarySemanticCache

    encoder = BinaryEncoder(embedding_dim=384, code_bits=256)
    cache = BinarySemanticCache(encoder=encoder, max_entries=10000)

    query = "What is the capital of France?"
    embedding = backend.embed_text(query)

    if hit := cache.get(embedding):
        print(f"HIT: {hit.response}")
    else:
        response = "Paris"
        cache.put(embedding, response)
        print(f"MISS: Cached '{response}'")

    vec = backend.embed_text("Hello Local World")
    cache.put(vec, "Stored Locally")
    # --- end of the seed's code ---

    assert capsys.readouterr().out == "MISS: Cached 'Paris'\n"
    hit = cache.get(backend.embed_text("What's the capital city of France?"))
    assert hit is not None and hit.response == "Paris"
    assert len(cache) == 2
