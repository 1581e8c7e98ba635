"""``BSCEmbeddings``: LangChain's standard embeddings suite, on the real offline model."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from langchain_tests.integration_tests import EmbeddingsIntegrationTests

from binary_semantic_cache.embeddings import as_embedder
from bsc_langchain import BinarySemanticLLMCache, BSCEmbeddings
from tests.langchain.conftest import CountingEmbedder


# The suite mixes coroutines without marks and plain tests; the project runs pytest-asyncio in
# strict mode, so the class is marked and the plain tests' notice about the mark is silenced.
@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:The test <Function test_:pytest.PytestWarning")
class TestBSCEmbeddingsStandard(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return BSCEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, object]:
        return {}


def test_vectors_are_the_embedders_own(embedder: CountingEmbedder) -> None:
    texts = ["What is the capital of France?", "How do I reset my password?"]
    model = BSCEmbeddings(embedder)
    expected = embedder.embed(texts)
    np.testing.assert_allclose(model.embed_documents(texts), expected, rtol=1e-6)
    np.testing.assert_allclose(model.embed_query(texts[1]), expected[1], rtol=1e-6)
    assert model.embed_documents([]) == []


@pytest.mark.asyncio
async def test_async_goes_through_the_embedders_aembed(embedder: CountingEmbedder) -> None:
    model = BSCEmbeddings(embedder)
    before = len(embedder.texts)
    vectors = await model.aembed_documents(["one text", "another text"])
    assert len(vectors) == 2
    assert len(vectors[0]) == embedder.dim
    assert embedder.texts[before:] == ["one text", "another text"]
    assert await model.aembed_query("one text") == pytest.approx(vectors[0], rel=1e-6)


@pytest.mark.parametrize("wrong", ["default", 384, object()])
def test_something_that_is_no_embedder_is_refused(wrong: object) -> None:
    with pytest.raises(TypeError, match=r"BSCEmbeddings takes a bsc-cache Embedder .* got "):
        BSCEmbeddings(wrong)  # type: ignore[arg-type]


def test_the_cache_given_one_uses_the_embedder_inside(embedder: CountingEmbedder) -> None:
    # Its id and its input window (long questions matched exactly) come with it.
    assert as_embedder(BSCEmbeddings(embedder)) is embedder
    cache = BinarySemanticLLMCache(BSCEmbeddings(embedder))
    assert f"embedding={embedder.model_id!r}" in repr(cache)
