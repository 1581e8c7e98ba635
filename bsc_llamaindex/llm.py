"""``BinarySemanticLLM``: any LlamaIndex LLM with a semantic cache in front of every call form."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM, ToolSelection
from llama_index.core.prompts import BasePromptTemplate

from binary_semantic_cache.embeddings import Embedder
from binary_semantic_cache.front_door import FrontDoor
from binary_semantic_cache.request_engine import CacheOptions, Request, RequestEngine
from bsc_llamaindex.embedding import resolve_embedder
from bsc_llamaindex.engine import call_request, open_engine
from bsc_llamaindex.events import areplay, async_chunks, replay
from bsc_llamaindex.partition import (
    PromptParts,
    compile_templates,
    split_completion,
    split_messages,
)
from bsc_llamaindex.payload import (
    StoredAnswer,
    chat_chunks,
    chat_fields,
    chat_response,
    completion_chunks,
    completion_fields,
    completion_response,
)

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool
    from typing_extensions import Unpack

__all__ = ["BinarySemanticLLM"]

R = TypeVar("R", ChatResponse, CompletionResponse)
Fields = Callable[[R, Sequence[str] | None], dict[str, Any]]


class BinarySemanticLLM(FunctionCallingLLM, FrontDoor):
    """A LlamaIndex LLM answering repeated and paraphrased prompts from a semantic cache.

    Wraps any ``LLM`` and forwards its ``metadata``, so query engines, chat engines and agents
    treat it as the model it wraps. Every call form is cached: ``chat`` and ``complete``, their
    async and streaming forms, and tool calling (which goes through ``chat``). A hit on a
    streaming call is replayed as a stream with the pieces the original stream had. The wrapped
    model's prompt settings (system prompt, ``messages_to_prompt``, ``completion_to_prompt``,
    output parser, pydantic program mode) are copied onto the wrapper, which is where LlamaIndex
    reads them.

    What must match exactly (the partition): the namespace, the wrapped model's class and
    settings (without keys, URLs, headers, timeouts or retries; hashed), the embedder, the call
    kind and its keyword arguments (tools, response format), every message but the last, and
    the last user message's non-text blocks. What matches by meaning: the last user message's
    text, or for LlamaIndex's RAG and condense templates only the question inside it, the
    retrieved context staying exact (see :mod:`bsc_llamaindex.partition`). When the last message
    is not a user turn (a tool result, say) the whole prompt must match exactly. The model's
    settings are read at every call, so changing its temperature changes the partition; keep
    mutable state such as counters in private attributes, not fields.

    A hit fires the same callback and instrumentation events as a model call, once; its
    response carries ``cache_hit``, ``cache_similarity`` and ``cache_tier`` ("exact" or
    "semantic") in ``additional_kwargs``. A failure inside the cache becomes a miss, logged once
    per exception type and counted in :meth:`stats`.

    Args:
        inner_llm: The LLM to call on a miss.
        embedding: An ``Embedder``, a LlamaIndex ``BaseEmbedding`` or a LangChain
            ``Embeddings``; default: the offline
            :class:`~binary_semantic_cache.embeddings.DefaultEmbedder`.
        namespace: Tenant name; wrappers never answer across namespaces.
        query_templates: Your own question templates (format strings or prompt templates with a
            ``{query_str}`` or ``{question}`` variable) whose other variables must match exactly.
        options: The cache's options, the same for every front door (see
            :class:`~binary_semantic_cache.request_engine.CacheOptions`):
            ``similarity_threshold``, ``max_entries``, ``ttl_seconds``, ``rescore``, ``path``,
            ``redis_url``, ``redis_cluster``, ``guards`` (a refusal is a miss, counted in
            ``stats().refusals``), ``verifier``, ``min_verifier_score``, ``exact_tier_size``,
            ``prices`` (priced by the wrapped model's ``metadata.model_name``), ``tracing``,
            ``trace_prompts``.

    Example:
        .. code-block:: python

            from llama_index.core import Settings
            from bsc_llamaindex import BinarySemanticLLM

            Settings.llm = BinarySemanticLLM(Settings.llm, path="./llm-cache")
            engine = index.as_query_engine()
            engine.query("What does the warranty cover?")  # model call
            engine.query("What is covered by the warranty?")  # answered from the cache
    """

    _inner: LLM = PrivateAttr()
    _engine: RequestEngine[StoredAnswer] = PrivateAttr()
    _namespace: str = PrivateAttr()
    _embedder_id: str = PrivateAttr()
    _patterns: tuple[re.Pattern[str], ...] = PrivateAttr()

    def __init__(
        self,
        inner_llm: LLM,
        embedding: Embedder | BaseEmbedding | None = None,
        *,
        namespace: str = "default",
        query_templates: Iterable[BasePromptTemplate | str] = (),
        **options: Unpack[CacheOptions],
    ) -> None:
        if not isinstance(inner_llm, LLM):
            msg = (
                "BinarySemanticLLM wraps a LlamaIndex LLM (llama_index.core.llms.LLM), "
                f"got {type(inner_llm).__module__}.{type(inner_llm).__qualname__}"
            )
            raise TypeError(msg)
        if isinstance(inner_llm, BinarySemanticLLM):
            msg = "inner_llm is already a BinarySemanticLLM; wrap the model itself"
            raise ValueError(msg)
        if not isinstance(namespace, str):
            msg = f"namespace must be a str, got {type(namespace).__name__}"
            raise TypeError(msg)
        patterns = compile_templates(query_templates)
        embedder = resolve_embedder(embedding)
        super().__init__(
            system_prompt=inner_llm.system_prompt,
            messages_to_prompt=inner_llm.messages_to_prompt,
            completion_to_prompt=inner_llm.completion_to_prompt,
            output_parser=inner_llm.output_parser,
            pydantic_program_mode=inner_llm.pydantic_program_mode,
            query_wrapper_prompt=inner_llm.query_wrapper_prompt,
            callback_manager=inner_llm.callback_manager,
        )
        self._inner = inner_llm
        self._namespace = namespace
        self._embedder_id = embedder.model_id
        self._patterns = patterns
        self._engine = open_engine(embedder, inner_llm, namespace, **options)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        # Settings.llm hands its callback manager to the wrapper; the wrapped model must report
        # to the same handlers, or misses and hits would be seen by different observers.
        inner = getattr(self, "_inner", None)
        if name == "callback_manager" and inner is not None:
            inner.callback_manager = value

    @classmethod
    def class_name(cls) -> str:
        return "BinarySemanticLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """The wrapped model's metadata: engines and agents pick their strategy from it."""
        return self._inner.metadata

    @property
    def inner_llm(self) -> LLM:
        """The wrapped model."""
        return self._inner

    def clear(self) -> None:
        """Forget every stored answer."""
        self._engine.clear()

    # -- keys -----------------------------------------------------------------------------

    def _key(
        self, kind: str, kwargs: dict[str, Any], split: Callable[[], PromptParts]
    ) -> Request | None:
        try:
            return call_request(
                self._namespace, self._inner, self._embedder_id, kind, kwargs, split()
            )
        except Exception as exc:
            self._engine.lookup_failed(exc)
            return None

    def _chat_key(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> Request | None:
        return self._key("chat", kwargs, lambda: split_messages(messages, self._patterns))

    def _completion_key(
        self, prompt: str, formatted: bool, kwargs: dict[str, Any]
    ) -> Request | None:
        kind = "complete:formatted" if formatted else "complete"
        return self._key(kind, kwargs, lambda: split_completion(prompt, self._patterns))

    # -- recording streams ----------------------------------------------------------------

    def _recorded(
        self, key: Request | None, stream: Generator[R, None, None], fields: Fields[R]
    ) -> Generator[R, None, None]:
        deltas: list[str] = []
        last: R | None = None
        with self._engine.calling(key):
            for chunk in stream:
                deltas.append(chunk.delta or "")
                last = chunk
                yield chunk
        # Only a stream read to its end is an answer; an abandoned one never gets here.
        if key is not None and last is not None:
            final = last
            self._engine.store(key, lambda: fields(final, deltas))

    async def _arecorded(
        self, key: Request | None, stream: AsyncGenerator[R, None], fields: Fields[R]
    ) -> AsyncGenerator[R, None]:
        deltas: list[str] = []
        last: R | None = None
        with self._engine.calling(key):
            async for chunk in stream:
                deltas.append(chunk.delta or "")
                last = chunk
                yield chunk
        if key is not None and last is not None:
            final = last
            await self._engine.astore(key, lambda: fields(final, deltas))

    # -- chat -----------------------------------------------------------------------------

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        key = self._chat_key(messages, kwargs)
        hit = None if key is None else self._engine.lookup(key)
        if hit is not None:
            response = chat_response(hit.answer, hit.marks)
            return replay(self, llm_chat_callback, messages, kwargs, response)
        with self._engine.calling(key):
            result = self._inner.chat(messages, **kwargs)
        if key is not None:
            self._engine.store(key, lambda: chat_fields(result, None))
        return result

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        key = self._chat_key(messages, kwargs)
        hit = None if key is None else await self._engine.alookup(key)
        if hit is not None:
            response = chat_response(hit.answer, hit.marks)
            return await areplay(self, llm_chat_callback, messages, kwargs, response)
        with self._engine.calling(key):
            result = await self._inner.achat(messages, **kwargs)
        if key is not None:
            await self._engine.astore(key, lambda: chat_fields(result, None))
        return result

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        key = self._chat_key(messages, kwargs)
        hit = None if key is None else self._engine.lookup(key)
        if hit is not None:
            chunks = _generator(chat_chunks(hit.answer, hit.marks))
            return replay(self, llm_chat_callback, messages, kwargs, chunks)
        with self._engine.calling(key):
            stream = self._inner.stream_chat(messages, **kwargs)
        return self._recorded(key, stream, chat_fields)

    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        key = self._chat_key(messages, kwargs)
        hit = None if key is None else await self._engine.alookup(key)
        if hit is not None:
            chunks = async_chunks(chat_chunks(hit.answer, hit.marks))
            return await areplay(self, llm_chat_callback, messages, kwargs, chunks)
        with self._engine.calling(key):
            stream = await self._inner.astream_chat(messages, **kwargs)
        return self._arecorded(key, stream, chat_fields)

    # -- completion -----------------------------------------------------------------------

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        key = self._completion_key(prompt, formatted, kwargs)
        hit = None if key is None else self._engine.lookup(key)
        if hit is not None:
            response = completion_response(hit.answer, hit.marks)
            call_kwargs = {"formatted": formatted, **kwargs}
            return replay(self, llm_completion_callback, prompt, call_kwargs, response)
        with self._engine.calling(key):
            result = self._inner.complete(prompt, formatted=formatted, **kwargs)
        if key is not None:
            self._engine.store(key, lambda: completion_fields(result, None))
        return result

    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        key = self._completion_key(prompt, formatted, kwargs)
        hit = None if key is None else await self._engine.alookup(key)
        if hit is not None:
            response = completion_response(hit.answer, hit.marks)
            call_kwargs = {"formatted": formatted, **kwargs}
            return await areplay(self, llm_completion_callback, prompt, call_kwargs, response)
        with self._engine.calling(key):
            result = await self._inner.acomplete(prompt, formatted=formatted, **kwargs)
        if key is not None:
            await self._engine.astore(key, lambda: completion_fields(result, None))
        return result

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        key = self._completion_key(prompt, formatted, kwargs)
        hit = None if key is None else self._engine.lookup(key)
        if hit is not None:
            chunks = _generator(completion_chunks(hit.answer, hit.marks))
            call_kwargs = {"formatted": formatted, **kwargs}
            return replay(self, llm_completion_callback, prompt, call_kwargs, chunks)
        with self._engine.calling(key):
            stream = self._inner.stream_complete(prompt, formatted=formatted, **kwargs)
        return self._recorded(key, stream, completion_fields)

    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        key = self._completion_key(prompt, formatted, kwargs)
        hit = None if key is None else await self._engine.alookup(key)
        if hit is not None:
            chunks = async_chunks(completion_chunks(hit.answer, hit.marks))
            call_kwargs = {"formatted": formatted, **kwargs}
            return await areplay(self, llm_completion_callback, prompt, call_kwargs, chunks)
        with self._engine.calling(key):
            stream = await self._inner.astream_complete(prompt, formatted=formatted, **kwargs)
        return self._arecorded(key, stream, completion_fields)

    # -- tool calling: the wrapped model formats tools and reads tool calls; chat is cached ----

    def _tool_llm(self) -> FunctionCallingLLM:
        if not isinstance(self._inner, FunctionCallingLLM):
            msg = (
                f"{type(self._inner).__name__} is not a FunctionCallingLLM, so it cannot "
                "call tools; agents use a ReAct prompt with it instead"
            )
            raise NotImplementedError(msg)
        return self._inner

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        return self._tool_llm()._prepare_chat_with_tools_compat(
            tools,
            user_msg=user_msg,
            chat_history=chat_history,
            verbose=verbose,
            allow_parallel_tool_calls=allow_parallel_tool_calls,
            tool_required=tool_required,
            **kwargs,
        )

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        return self._tool_llm()._validate_chat_with_tools_response(
            response, tools, allow_parallel_tool_calls=allow_parallel_tool_calls, **kwargs
        )

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        return self._tool_llm().get_tool_calls_from_response(
            response, error_on_no_tool_call=error_on_no_tool_call, **kwargs
        )


def _generator(chunks: Iterable[R]) -> Generator[R, None, None]:
    # LlamaIndex's callback wrapper recognises a stream by its being a generator.
    yield from chunks
