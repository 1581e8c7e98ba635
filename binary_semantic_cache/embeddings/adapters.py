"""LangChain ``Embeddings`` and LlamaIndex ``BaseEmbedding`` objects as :class:`Embedder`.

Neither framework is imported here unless it is already loaded: an object of one of their
classes can only exist once its module has been imported, so ``sys.modules`` tells.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from binary_semantic_cache.embeddings.base import BaseEmbedder, Embedder, Vectors, as_unit_rows
from binary_semantic_cache.embeddings.base import validate_texts as _validate

__all__ = ["LangChainEmbedder", "LlamaIndexEmbedder", "as_embedder"]

_PROBE_TEXT = "dimension probe"


def _model_name(obj: object) -> str:
    for attribute in ("model", "model_name", "deployment"):
        value = getattr(obj, attribute, None)
        if isinstance(value, str) and value:
            return value
    return "default"


class _FrameworkEmbedder(BaseEmbedder):
    def __init__(self, wrapped: Any, framework: str, model_id: str | None) -> None:
        self._wrapped = wrapped
        self._model_id = model_id or (
            f"{framework}:{type(wrapped).__name__}:{_model_name(wrapped)}"
        )
        self._dim: int | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self._wrapped).__name__}, model_id={self._model_id!r})"

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        if self._dim is None:
            # Frameworks do not expose the dimension; one embedding tells.
            return int(self.embed([_PROBE_TEXT]).shape[1])
        return self._dim

    def _check(self, rows: object, count: int) -> Vectors:
        vectors = as_unit_rows(rows, expected_rows=count, expected_dim=self._dim)
        self._dim = vectors.shape[1]
        return vectors


class LangChainEmbedder(_FrameworkEmbedder):
    """A LangChain ``Embeddings`` as an :class:`Embedder` (rows re-normalised).

    Every text goes through ``embed_documents``: cache keys and lookups are the same kind
    of text (prompts), so one method keeps all vectors comparable, and it batches.

    Example:
        .. code-block:: python

            from langchain_openai import OpenAIEmbeddings

            embedder = LangChainEmbedder(OpenAIEmbeddings(model="text-embedding-3-small"))
    """

    def __init__(self, embeddings: Any, *, model_id: str | None = None) -> None:
        super().__init__(embeddings, "langchain", model_id)

    def embed(self, texts: Sequence[str]) -> Vectors:
        items = _validate(texts)
        return self._check(self._wrapped.embed_documents(items), len(items))

    async def aembed(self, texts: Sequence[str]) -> Vectors:
        items = _validate(texts)
        return self._check(await self._wrapped.aembed_documents(items), len(items))


class LlamaIndexEmbedder(_FrameworkEmbedder):
    """A LlamaIndex ``BaseEmbedding`` as an :class:`Embedder` (rows re-normalised).

    Example:
        .. code-block:: python

            from llama_index.core import Settings

            embedder = LlamaIndexEmbedder(Settings.embed_model)
    """

    def __init__(self, embed_model: Any, *, model_id: str | None = None) -> None:
        super().__init__(embed_model, "llamaindex", model_id)

    def embed(self, texts: Sequence[str]) -> Vectors:
        items = _validate(texts)
        return self._check(self._wrapped.get_text_embedding_batch(items), len(items))

    async def aembed(self, texts: Sequence[str]) -> Vectors:
        items = _validate(texts)
        return self._check(await self._wrapped.aget_text_embedding_batch(items), len(items))


# The frameworks' views of an Embedder, by module and class (imported only by their users).
_OWN_WRAPPERS = (
    ("bsc_langchain.embeddings", "BSCEmbeddings"),
    ("bsc_llamaindex.embedding", "BSCEmbedding"),
)


def _is_instance(obj: object, module: str, name: str) -> bool:
    loaded = sys.modules.get(module)
    cls = getattr(loaded, name, None) if loaded is not None else None
    return isinstance(cls, type) and isinstance(obj, cls)


def as_embedder(obj: object, *, model_id: str | None = None) -> Embedder:
    """Return ``obj`` as an :class:`Embedder`.

    Accepts an :class:`Embedder` (returned as is), a LangChain ``Embeddings`` or a
    LlamaIndex ``BaseEmbedding``. This package's own framework wrappers (``BSCEmbeddings``,
    ``BSCEmbedding``) give back the embedder they wrap, with its id and its input window.
    ``model_id`` names a wrapped framework model in cache partition keys; by default it is
    built from its class and model name.

    Example:
        .. code-block:: python

            embedder = as_embedder(HuggingFaceEmbeddings(model_name="all-MiniLM-L6-v2"))
    """
    # Our own classes first: on Python < 3.12 isinstance() against a protocol reads every
    # member, and reading `dim` of a remote embedder may send a probe request.
    if isinstance(obj, (BaseEmbedder, Embedder)):
        return obj
    for module, name in _OWN_WRAPPERS:
        if _is_instance(obj, module, name):
            inner: Embedder = obj.embedder  # type: ignore[attr-defined]
            return inner
    if _is_instance(obj, "langchain_core.embeddings", "Embeddings"):
        return LangChainEmbedder(obj, model_id=model_id)
    if _is_instance(obj, "llama_index.core.base.embeddings.base", "BaseEmbedding"):
        return LlamaIndexEmbedder(obj, model_id=model_id)
    raise TypeError(
        "expected an Embedder, a LangChain Embeddings or a LlamaIndex BaseEmbedding, "
        f"got {type(obj).__module__}.{type(obj).__qualname__}"
    )


def wrapped_embedder(embedder: Embedder | None, wrapper: str, hint: str = "") -> Embedder:
    """The bsc-cache embedder a framework wrapper named ``wrapper`` runs: ``embedder``, or the
    offline default for ``None``.

    Raises:
        TypeError: ``embedder`` is not a bsc-cache Embedder (``hint`` says what to use instead).
    """
    if embedder is None:
        from binary_semantic_cache.embeddings.default import DefaultEmbedder

        return DefaultEmbedder()
    if not isinstance(embedder, Embedder):
        msg = (
            f"{wrapper} takes a bsc-cache Embedder (embed, aembed, dim, model_id), got "
            f"{type(embedder).__name__}{hint}"
        )
        raise TypeError(msg)
    return embedder
