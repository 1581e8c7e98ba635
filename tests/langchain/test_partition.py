"""The split of a LangChain prompt into exact context and semantic query."""

from __future__ import annotations

from langchain_core.load import dumps
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from bsc_langchain import split_prompt
from bsc_langchain.partition import hash_llm_string, partition_id


def test_last_human_text_is_the_query_and_the_rest_is_context() -> None:
    parts = split_prompt(dumps([SystemMessage("Be brief."), HumanMessage("What is BM25?")]))
    assert parts.query == "What is BM25?"
    assert "Be brief." in parts.context
    assert "What is BM25?" not in parts.context


def test_the_query_does_not_change_the_context() -> None:
    a = split_prompt(dumps([SystemMessage("s"), HumanMessage("one question")]))
    b = split_prompt(dumps([SystemMessage("s"), HumanMessage("another question")]))
    assert a.context == b.context


def test_history_is_context() -> None:
    short = split_prompt(dumps([HumanMessage("q")]))
    long = split_prompt(dumps([HumanMessage("hi"), AIMessage("hello"), HumanMessage("q")]))
    assert short.query == long.query == "q"
    assert short.context != long.context


def test_images_stay_in_the_context_and_text_blocks_form_the_query() -> None:
    def with_image(url: str) -> str:
        content: list[str | dict[str, object]] = [
            {"type": "text", "text": "What is in"},
            {"type": "image_url", "image_url": {"url": url}},
            {"type": "text", "text": "this picture?"},
        ]
        return dumps([HumanMessage(content=content)])

    cat, dog = (
        split_prompt(with_image("https://x/cat.png")),
        split_prompt(with_image("https://x/dog.png")),
    )
    assert cat.query == dog.query == "What is in\nthis picture?"
    assert cat.context != dog.context


def test_a_tool_result_last_means_exact_match_only() -> None:
    prompt = dumps(
        [
            HumanMessage("weather?"),
            AIMessage("", tool_calls=[{"name": "weather", "args": {}, "id": "c1"}]),
            ToolMessage("sunny", tool_call_id="c1"),
        ]
    )
    parts = split_prompt(prompt)
    assert parts.query is None
    assert prompt in parts.context


def test_an_empty_human_turn_means_exact_match_only() -> None:
    assert split_prompt(dumps([HumanMessage("   ")])).query is None


def test_a_plain_prompt_is_its_own_query() -> None:
    parts = split_prompt("Tell me a joke")
    assert parts.query == "Tell me a joke"
    assert parts.context == "llm"


def test_a_json_looking_plain_prompt_is_not_taken_for_messages() -> None:
    prompt = '[{"role": "user", "content": "hi"}]'
    assert split_prompt(prompt).query == prompt
    assert split_prompt("[{not json").query == "[{not json"


def test_partition_depends_on_every_component() -> None:
    base = ("default", hash_llm_string("model-a"), "embedder-1", "ctx")
    ids = {
        partition_id(*base),
        partition_id("tenant-b", *base[1:]),
        partition_id(base[0], hash_llm_string("model-b"), *base[2:]),
        partition_id(*base[:2], "embedder-2", base[3]),
        partition_id(*base[:3], "ctx2"),
    }
    assert len(ids) == 5


def test_llm_string_hash_hides_the_string() -> None:
    secret = "base_url=https://internal.example/v1 api_key=sk-123"
    digest = hash_llm_string(secret)
    assert len(digest) == 64
    assert "sk-123" not in digest
