"""The split rule: what matches exactly and what matches by meaning."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.chat_engine.condense_plus_context import DEFAULT_CONDENSE_PROMPT_TEMPLATE
from llama_index.core.prompts import PromptTemplate
from llama_index.core.prompts.chat_prompts import CHAT_REFINE_PROMPT, CHAT_TEXT_QA_PROMPT
from llama_index.core.prompts.default_prompts import DEFAULT_TEXT_QA_PROMPT

from bsc_llamaindex import split_completion, split_messages
from bsc_llamaindex.partition import compile_templates


def qa(context: str, question: str) -> str:
    return DEFAULT_TEXT_QA_PROMPT.format(context_str=context, query_str=question)


def test_text_qa_prompt_keeps_context_exact_and_question_semantic() -> None:
    a = split_completion(qa("Paris is in France.", "Where is Paris?"))
    b = split_completion(qa("Paris is in France.", "In which country is Paris?"))
    c = split_completion(qa("Paris is in Texas.", "Where is Paris?"))
    assert (a.query, b.query) == ("Where is Paris?", "In which country is Paris?")
    assert a.context == b.context
    assert a.context != c.context


def test_a_system_prompt_before_the_template_stays_exact() -> None:
    plain = split_completion(qa("ctx", "Where is Paris?"))
    prefixed = split_completion("Be brief.\n\n" + qa("ctx", "Where is Paris?"))
    assert prefixed.query == "Where is Paris?"
    assert prefixed.context != plain.context


def test_chat_text_qa_and_refine_messages() -> None:
    messages = CHAT_TEXT_QA_PROMPT.format_messages(context_str="Leeds.", query_str="Where?")
    parts = split_messages(messages)
    assert parts.query == "Where?"
    assert "Leeds." in parts.context
    other = split_messages(
        CHAT_TEXT_QA_PROMPT.format_messages(context_str="York.", query_str="Where?")
    )
    assert other.context != parts.context
    refine = CHAT_REFINE_PROMPT.format_messages(
        context_msg="new facts", query_str="Who founded it?", existing_answer="Ada"
    )
    refined = split_messages(refine)
    assert refined.query == "Who founded it?"
    assert "Ada" in refined.context


def test_condense_prompt_keeps_history_exact() -> None:
    prompt = PromptTemplate(DEFAULT_CONDENSE_PROMPT_TEMPLATE).format(
        chat_history="user: hi\nassistant: hello", question="and the price?"
    )
    parts = split_completion(prompt)
    assert parts.query == "and the price?"
    assert "assistant: hello" in parts.context


def test_plain_messages_and_prompts() -> None:
    parts = split_messages([ChatMessage(role="system", content="S"), ChatMessage(content="Hi")])
    assert parts.query == "Hi"
    assert split_completion("Hello there").query == "Hello there"
    assert split_completion("  ").query is None
    tool_last = [ChatMessage(content="Hi"), ChatMessage(role=MessageRole.TOOL, content="42")]
    assert split_messages(tool_last).query is None
    assert split_messages([]).query is None
    assert split_messages([ChatMessage(content="")]).query is None


def test_custom_templates() -> None:
    template = "Facts:\n{facts}\n\nQ: {query_str}\nA:"
    patterns = compile_templates([PromptTemplate(template)])
    text = template.format(facts="Water boils at 100 C.", query_str="When does water boil?")
    parts = split_completion(text, patterns)
    assert parts.query == "When does water boil?"
    assert split_completion(text).query == text  # unknown without the template
    with pytest.raises(ValueError, match="query_str"):
        compile_templates(["{facts} only"])
    with pytest.raises(TypeError, match="query_templates"):
        compile_templates([3])  # type: ignore[list-item]
