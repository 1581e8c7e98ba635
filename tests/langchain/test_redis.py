"""Two caches over one real Redis share their answers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from bsc_langchain import BinarySemanticLLMCache
from tests.doubles import running_redis, running_redis_cluster
from tests.langchain.conftest import CountingEmbedder, ToolFakeChatModel, numbered_answers
from tests.redis.server import wait_until

QUESTION = [HumanMessage("What is the capital of France?")]
PARAPHRASE = [HumanMessage("What's the capital city of France?")]


def test_two_caches_over_one_redis_share_answers(
    embedder: CountingEmbedder, tmp_path: Path
) -> None:
    with (
        running_redis(tmp_path) as url,
        BinarySemanticLLMCache(embedder, redis_url=url) as writer,
        BinarySemanticLLMCache(embedder, redis_url=url) as reader,
        BinarySemanticLLMCache(embedder, redis_url=url, namespace="other") as stranger,
    ):
        ToolFakeChatModel(messages=numbered_answers(), cache=writer).invoke(QUESTION)
        wait_until(lambda: len(reader._engine.core) == 1, what="the answer to reach the reader")
        model = ToolFakeChatModel(
            messages=numbered_answers(lambda i: AIMessage(f"answer {10 + i}")), cache=reader
        )
        assert model.invoke(PARAPHRASE).content == "answer 0"
        assert model.invoke(QUESTION).content == "answer 0"
        assert reader.stats().hits == 2
        # A clear on one instance reaches the other, exact tier included.
        writer.clear()
        wait_until(lambda: len(reader._engine.core) == 0, what="the clear to reach the reader")
        assert model.invoke(QUESTION).content == "answer 10"
        time.sleep(0.2)
        assert len(stranger._engine.core) == 0, "another namespace shares nothing"


def test_a_redis_url_of_another_type_is_refused(embedder: CountingEmbedder) -> None:
    with pytest.raises(TypeError, match="redis_url must be"):
        BinarySemanticLLMCache(embedder, redis_url=6379)  # type: ignore[arg-type]


def test_two_caches_over_one_redis_cluster_share_answers(
    embedder: CountingEmbedder, tmp_path: Path
) -> None:
    with (
        running_redis_cluster(tmp_path, "bsc_langchain/default") as url,
        BinarySemanticLLMCache(embedder, redis_url=url, redis_cluster=True) as writer,
        BinarySemanticLLMCache(embedder, redis_url=url, redis_cluster=True) as reader,
    ):
        ToolFakeChatModel(messages=numbered_answers(), cache=writer).invoke(QUESTION)
        wait_until(lambda: len(reader._engine.core) == 1, what="the answer to reach the reader")
        model = ToolFakeChatModel(
            messages=numbered_answers(lambda i: AIMessage(f"answer {10 + i}")), cache=reader
        )
        assert model.invoke(PARAPHRASE).content == "answer 0"
        assert reader.stats().hits == 1
