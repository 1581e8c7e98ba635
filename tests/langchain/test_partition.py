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
    assert parts.context.startswith("chat-exact:") and "sunny" in parts.context


def conversation(call_id: str, run: int, *, args: dict[str, object] | None = None) -> list[object]:
    """One agent conversation as a provider returns it: ids and metadata new on every run."""
    call = {"name": "weather", "args": args or {"city": "Paris"}, "id": call_id}
    return [
        HumanMessage("weather in Paris?"),
        AIMessage(
            "",
            tool_calls=[call],
            response_metadata={"id": f"chatcmpl-{run}", "model_name": "gpt-x"},
            usage_metadata={"input_tokens": 9 + run, "output_tokens": 3, "total_tokens": 12 + run},
        ),
        ToolMessage("sunny", tool_call_id=call_id),
    ]


def test_what_the_model_never_receives_does_not_split_the_context() -> None:
    # Response ids, token counts and fresh tool-call ids differ between two runs of one
    # conversation; the model reads the same messages.
    first, second = conversation("call_a1", 1), conversation("call_zz", 2)
    assert split_prompt(dumps(first)).context == split_prompt(dumps(second)).context
    follow_up = [
        AIMessage("It is sunny.", response_metadata={"cache_hit": True}),
        HumanMessage("Rain?"),
    ]
    plain = [AIMessage("It is sunny."), HumanMessage("Rain?")]
    assert (
        split_prompt(dumps([*first, *follow_up])).context
        == split_prompt(dumps([*second, *plain])).context
    )


def test_tool_calls_still_match_exactly() -> None:
    base = split_prompt(dumps(conversation("c1", 1))).context
    assert split_prompt(dumps(conversation("c1", 1, args={"city": "Rome"}))).context != base
    # Two calls, results swapped: which result answers which call reaches the model.
    calls = [
        {"name": "weather", "args": {"city": "Paris"}, "id": "c1"},
        {"name": "weather", "args": {"city": "Rome"}, "id": "c2"},
    ]
    asked = [HumanMessage("Paris and Rome?"), AIMessage("", tool_calls=calls)]
    one = [*asked, ToolMessage("sunny", tool_call_id="c1"), ToolMessage("rain", tool_call_id="c2")]
    other = [
        *asked,
        ToolMessage("sunny", tool_call_id="c2"),
        ToolMessage("rain", tool_call_id="c1"),
    ]
    assert split_prompt(dumps(one)).context != split_prompt(dumps(other)).context


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
