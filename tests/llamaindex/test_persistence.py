"""Persistence, closing, sharing through Redis and precision guards of ``BinarySemanticLLM``."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from binary_semantic_cache.embeddings import DefaultEmbedder
from binary_semantic_cache.guards import PrecisionGuards
from bsc_llamaindex import BinarySemanticLLM
from tests.doubles import running_redis, running_redis_cluster
from tests.llamaindex.conftest import CountingLLM
from tests.redis.server import wait_until

Q1 = "What is the capital of France?"
Q2 = "Which city is the capital of France?"
STORED = "What were the best phones under $200 in 2023?"
OTHER_YEAR = "What were the best phones under $200 in 2024?"


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="system", content="Be brief."), ChatMessage(content=text)]


TOOL_TURN = [ChatMessage(content=Q1), ChatMessage(role=MessageRole.TOOL, content="Paris")]


def test_a_new_wrapper_over_the_same_path_answers_without_the_model(
    embedder: DefaultEmbedder, tmp_path: Path
) -> None:
    first = CountingLLM()
    with BinarySemanticLLM(first, embedder, path=tmp_path) as llm:
        answer = llm.chat(user(Q1)).message.content
        tool_answer = llm.chat(TOOL_TURN).message.content
        completion = llm.complete(Q1).text
    assert first.calls == 3

    second = CountingLLM()
    reopened = BinarySemanticLLM(second, embedder, path=tmp_path)
    paraphrase = reopened.chat(user(Q2))
    assert paraphrase.message.content == answer
    assert paraphrase.additional_kwargs["cache_tier"] == "semantic"
    repeat = reopened.chat(user(Q1))
    assert repeat.message.content == answer
    assert repeat.additional_kwargs["cache_tier"] == "exact"
    assert reopened.chat(TOOL_TURN).message.content == tool_answer
    assert reopened.complete(Q2).text == completion
    assert second.calls == 0
    reopened.close()


def test_close_releases_the_directory_and_later_calls_reach_the_model(
    embedder: DefaultEmbedder, tmp_path: Path
) -> None:
    inner = CountingLLM()
    llm = BinarySemanticLLM(inner, embedder, path=tmp_path)
    llm.complete(Q1)
    with pytest.raises(OSError, match="already open"):
        BinarySemanticLLM(CountingLLM(), embedder, path=tmp_path)
    llm.close()
    llm.close()  # idempotent
    assert llm.complete(Q1).text.startswith("answer 1")
    stats = llm.stats()
    # After close the lookup and the write each fail: two errors, one of them a skipped write.
    assert (stats.errors, stats.skipped_writes, stats.misses) == (2, 1, 2)
    with BinarySemanticLLM(CountingLLM(), embedder, path=tmp_path) as reopened:
        assert reopened.complete(Q1).text.startswith("answer 0")


def test_bad_path_guards_and_redis_url_are_refused(
    embedder: DefaultEmbedder, tmp_path: Path
) -> None:
    file = tmp_path / "cache"
    file.write_text("not a cache")
    with pytest.raises(OSError, match="not a directory"):
        BinarySemanticLLM(CountingLLM(), embedder, path=file)
    with pytest.raises(TypeError, match="path must be a directory path"):
        BinarySemanticLLM(CountingLLM(), embedder, path=3.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="guards must be True, False or a"):
        BinarySemanticLLM(CountingLLM(), embedder, guards="on")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="redis_url must be"):
        BinarySemanticLLM(CountingLLM(), embedder, redis_url=b"redis://x")  # type: ignore[arg-type]


def test_a_semantic_match_with_another_year_is_refused(
    embedder: DefaultEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    inner = CountingLLM()
    llm = BinarySemanticLLM(inner, embedder)
    llm.complete(STORED)
    with caplog.at_level(logging.DEBUG, logger="bsc_llamaindex"):
        assert llm.complete(OTHER_YEAR).text.startswith("answer 1")
    assert "dates differ" in caplog.text
    stats = llm.stats()
    assert (stats.guard_refusals, stats.misses, stats.hits) == (1, 2, 0)
    assert llm.complete(OTHER_YEAR).text.startswith("answer 1")  # its own answer was stored


def test_guards_off_or_chosen(embedder: DefaultEmbedder) -> None:
    off = BinarySemanticLLM(CountingLLM(), embedder, guards=False)
    off.complete(STORED)
    assert off.complete(OTHER_YEAR).text.startswith("answer 0")
    names_only = BinarySemanticLLM(
        CountingLLM(), embedder, guards=PrecisionGuards(checks=["entities"])
    )
    names_only.complete(STORED)
    assert names_only.complete(OTHER_YEAR).text.startswith("answer 0")
    assert names_only.stats().guard_refusals == 0


def test_two_wrappers_over_one_redis_share_answers(
    embedder: DefaultEmbedder, tmp_path: Path
) -> None:
    first, second = CountingLLM(), CountingLLM()
    with (
        running_redis(tmp_path) as url,
        BinarySemanticLLM(first, embedder, redis_url=url) as writer,
        BinarySemanticLLM(second, embedder, redis_url=url) as reader,
    ):
        answer = writer.chat(user(Q1)).message.content
        wait_until(lambda: len(reader._engine.core) == 1, what="the answer to reach the reader")
        assert reader.chat(user(Q2)).message.content == answer
        assert reader.chat(user(Q1)).message.content == answer
        assert second.calls == 0
        writer.clear()
        wait_until(lambda: len(reader._engine.core) == 0, what="the clear to reach the reader")
        reader.chat(user(Q1))
        assert second.calls == 1


def test_two_wrappers_over_one_redis_cluster_share_answers(
    embedder: DefaultEmbedder, tmp_path: Path
) -> None:
    first, second = CountingLLM(), CountingLLM()
    with (
        running_redis_cluster(tmp_path, "bsc_llamaindex/default") as url,
        BinarySemanticLLM(first, embedder, redis_url=url, redis_cluster=True) as writer,
        BinarySemanticLLM(second, embedder, redis_url=url, redis_cluster=True) as reader,
    ):
        answer = writer.chat(user(Q1)).message.content
        wait_until(lambda: len(reader._engine.core) == 1, what="the answer to reach the reader")
        assert reader.chat(user(Q2)).message.content == answer
        assert second.calls == 0
