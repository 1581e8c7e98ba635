"""``BSCEmbeddings``: a bsc-cache ``Embedder`` (the offline one by default) as LangChain
``Embeddings``."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from binary_semantic_cache.embeddings import Embedder, wrapped_embedder

__all__ = ["BSCEmbeddings"]


class BSCEmbeddings(Embeddings):
    """Queries and documents embedded alike by a bsc-cache ``Embedder``.

    Args:
        embedder: Default: the offline ``DefaultEmbedder`` (all-MiniLM-L6-v2, 384 dimensions,
            no key, no network).

    Example:
        .. code-block:: python

            from langchain_core.vectorstores import InMemoryVectorStore
            from bsc_langchain import BSCEmbeddings

            store = InMemoryVectorStore(BSCEmbeddings())  # offline
            store.add_texts(["Paris is the capital of France."])
    """

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = wrapped_embedder(embedder, "BSCEmbeddings")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_id={self._embedder.model_id!r})"

    @property
    def embedder(self) -> Embedder:
        """The wrapped bsc-cache embedder."""
        return self._embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        if not texts:
            return []
        vectors: list[list[float]] = self._embedder.embed(texts).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector of one text."""
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents`, through the embedder's own ``aembed``."""
        if not texts:
            return []
        vectors: list[list[float]] = (await self._embedder.aembed(texts)).tolist()
        return vectors

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query`."""
        return (await self.aembed_documents([text]))[0]
