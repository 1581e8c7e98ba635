"""Fixtures for the LlamaIndex adapter: the real default embedder and fake LLMs counting calls."""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Generator, Sequence
from typing import Any

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    LLMMetadata,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.tools.types import BaseTool
from pydantic import PrivateAttr

from binary_semantic_cache.embeddings import DefaultEmbedder
from bsc_llamaindex import BSCEmbedding

DOCUMENTS = {
    "warranty": "Every Acme kettle has a two-year warranty covering the heating element and "
    "the switch. Damage from dropping the kettle is not covered.",
    "returns": "Unused Acme products can be returned within 30 days for a full refund; "
    "the customer pays the return shipping.",
    "company": "Acme Appliances was founded in 1987 by Ada Lovelace-Smith in Leeds and "
    "now employs 240 people.",
    "shipping": "Orders ship from the Leeds warehouse within two working days; delivery to "
    "Europe takes five to seven days.",
}


def _words(text: str) -> list[str]:
    pieces = text.split(" ")
    return [p + " " for p in pieces[:-1]] + [pieces[-1]]


class CountingLLM(CustomLLM):
    """A completion model answering "answer <n>: <first words of the prompt>"; counts its calls.

    ``model`` and ``temperature`` are settings that change answers; ``api_key`` and ``api_base``
    are ones that must not.
    """

    model: str = "counting-model"
    temperature: float = 0.0
    api_key: str = "sk-secret"
    api_base: str = "http://127.0.0.1:1"
    chat_model: bool = False
    _calls: int = PrivateAttr(default=0)
    _prompts: list[str] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model, is_chat_model=self.chat_model)

    @property
    def calls(self) -> int:
        return self._calls

    @property
    def prompts(self) -> list[str]:
        return self._prompts

    def _answer(self, prompt: str) -> str:
        with self._lock:
            number = self._calls
            self._calls += 1
            self._prompts.append(prompt)
        return f"answer {number} to a prompt of {len(prompt)} characters"

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._answer(prompt), additional_kwargs={"usage": 7})

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> Generator[CompletionResponse, None, None]:
        answer = self._answer(prompt)

        def gen() -> Generator[CompletionResponse, None, None]:
            text = ""
            for piece in _words(answer):
                text += piece
                yield CompletionResponse(text=text, delta=piece)

        return gen()


class ToolCallingLLM(FunctionCallingLLM):
    """A function-calling chat model: asks for the first tool, then answers with its output.

    Counts every chat call that reaches it (``calls``) and remembers the tools it was shown.
    """

    model: str = "tool-model"
    _calls: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            model_name=self.model, is_chat_model=True, is_function_calling_model=True
        )

    @property
    def calls(self) -> int:
        return self._calls

    def _reply(self, messages: Sequence[ChatMessage], tools: list[dict[str, Any]]) -> ChatMessage:
        with self._lock:
            number = self._calls
            self._calls += 1
        last = messages[-1]
        if last.role == MessageRole.TOOL:
            return ChatMessage(
                role=MessageRole.ASSISTANT, content=f"final {number}: {last.content}"
            )
        if tools:
            name = tools[0]["function"]["name"]
            return ChatMessage(
                role=MessageRole.ASSISTANT,
                blocks=[
                    TextBlock(text=f"calling {name}"),
                    ToolCallBlock(
                        tool_call_id=f"call-{number}",
                        tool_name=name,
                        tool_kwargs={"item": "kettle"},
                    ),
                ],
            )
        return ChatMessage(role=MessageRole.ASSISTANT, content=f"reply {number}")

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return ChatResponse(message=self._reply(messages, kwargs.get("tools", [])))

    @llm_chat_callback()
    def stream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> Generator[ChatResponse, None, None]:
        message = self._reply(messages, kwargs.get("tools", []))

        def gen() -> Generator[ChatResponse, None, None]:
            pieces = _words(message.content or "")
            text = ""
            for piece in pieces[:-1]:
                text += piece
                yield ChatResponse(message=ChatMessage(role="assistant", content=text), delta=piece)
            yield ChatResponse(message=message, delta=pieces[-1])

        return gen()

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        response: ChatResponse = self.chat(messages, **kwargs)
        return response

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> AsyncGenerator[ChatResponse, None]:
        chunks = list(self.stream_chat(messages, **kwargs))

        async def gen() -> AsyncGenerator[ChatResponse, None]:
            for chunk in chunks:
                yield chunk

        return gen()

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        raise NotImplementedError("a chat model")

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        raise NotImplementedError("a chat model")

    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        raise NotImplementedError("a chat model")

    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        raise NotImplementedError("a chat model")

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
        messages = list(chat_history or [])
        if user_msg is not None:
            messages.append(
                user_msg if isinstance(user_msg, ChatMessage) else ChatMessage(content=user_msg)
            )
        specs = [tool.metadata.to_openai_tool() for tool in tools]
        return {"messages": messages, "tools": specs, **kwargs}

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
        if not calls and error_on_no_tool_call:
            raise ValueError("expected a tool call")
        return [
            ToolSelection(
                tool_id=c.tool_call_id or "",
                tool_name=c.tool_name,
                tool_kwargs=c.tool_kwargs if isinstance(c.tool_kwargs, dict) else {},
            )
            for c in calls
        ]


@pytest.fixture(scope="session")
def embedder() -> DefaultEmbedder:
    embedder = DefaultEmbedder()
    embedder.embed(["warm up"])  # loads the model once for the session
    return embedder


@pytest.fixture(scope="session")
def embed_model(embedder: DefaultEmbedder) -> BSCEmbedding:
    return BSCEmbedding(embedder)


def build_index(embed_model: BSCEmbedding, names: Sequence[str]) -> VectorStoreIndex:
    documents = [Document(text=DOCUMENTS[name], doc_id=name) for name in names]
    return VectorStoreIndex.from_documents(documents, embed_model=embed_model)


@pytest.fixture(scope="session")
def index(embed_model: BSCEmbedding) -> VectorStoreIndex:
    return build_index(embed_model, list(DOCUMENTS))
