"""Split a LlamaIndex prompt into the part matched exactly and the question matched by meaning.

The rule is the LangChain adapter's: everything that can change the right answer (system
prompt, earlier messages, tool calls and results, images, the model and the call's arguments)
must match exactly; only the text of the last user message may match semantically.

LlamaIndex's RAG prompts put the retrieved context and the question into one user message (or
one completion prompt). When that text has the structure of one of LlamaIndex's default
question templates (text QA, tree summarize, refine, and the chat engines' condense prompts),
only the template's ``{query_str}`` / ``{question}`` is the semantic query; the template text and
every other variable (the retrieved context, an existing answer, the chat history) stay in the
exact part. Custom templates are recognised when passed as ``query_templates``; a user message
that matches no template is all query.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock
from llama_index.core.chat_engine import condense_plus_context, condense_question
from llama_index.core.prompts import (
    BasePromptTemplate,
    PromptTemplate,
    chat_prompts,
    default_prompts,
)

from binary_semantic_cache.request_engine import exact_key
from bsc_llamaindex.identity import canonical_json

__all__ = [
    "DEFAULT_QUERY_TEMPLATES",
    "PromptParts",
    "compile_templates",
    "partition_id",
    "split_completion",
    "split_messages",
]

#: Template variables that hold the user's question.
QUESTION_FIELDS = frozenset({"query_str", "question"})
# Stands where the question was, so the frame around it still has to match exactly.
_QUESTION_MARK = "\x00question\x00"

#: The LlamaIndex templates whose question is split from their context by default.
DEFAULT_QUERY_TEMPLATES: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            default_prompts.DEFAULT_TEXT_QA_PROMPT_TMPL,
            default_prompts.DEFAULT_TREE_SUMMARIZE_TMPL,
            default_prompts.DEFAULT_REFINE_PROMPT_TMPL,
            str(chat_prompts.TEXT_QA_PROMPT_TMPL_MSGS[-1].content),
            str(chat_prompts.TREE_SUMMARIZE_PROMPT_TMPL_MSGS[-1].content),
            str(chat_prompts.CHAT_REFINE_PROMPT_TMPL_MSGS[-1].content),
            condense_question.DEFAULT_TEMPLATE,
            condense_plus_context.DEFAULT_CONDENSE_PROMPT_TEMPLATE,
        )
    )
)


@dataclass(frozen=True, slots=True)
class PromptParts:
    """A prompt split for lookup.

    ``context`` is a canonical string of everything that must match exactly; ``query`` is the
    text matched semantically, or ``None`` when the prompt may only match exactly (the last
    message is not a user turn, or it has no text).
    """

    context: str
    query: str | None


def _template_text(template: BasePromptTemplate | str) -> str:
    if isinstance(template, str):
        return template
    if isinstance(template, PromptTemplate):
        return template.template
    messages = getattr(template, "message_templates", None)
    if messages:
        return str(messages[-1].content or "")
    msg = (
        "query_templates takes format strings, PromptTemplates or ChatPromptTemplates, "
        f"got {type(template).__name__}"
    )
    raise TypeError(msg)


def _compile(template: str) -> re.Pattern[str]:
    pieces = list(string.Formatter().parse(template))
    parts: list[str] = []
    has_question = False
    for i, (literal, field, _, _) in enumerate(pieces):
        is_last = i == len(pieces) - 1
        # Trailing spaces after "Answer: " are often stripped by the time a prompt is sent.
        parts.append(re.escape(literal.rstrip() if is_last and field is None else literal))
        if field is None:
            continue
        # A variable at the very end has nothing after it to stop a lazy match: it takes the rest.
        body = ".+" if is_last else ".+?"
        if field in QUESTION_FIELDS and not has_question:
            parts.append(f"(?P<question>{body})")
            has_question = True
        else:
            parts.append(f"(?:{body})")
    if not has_question:
        msg = f"a query template needs a {{query_str}} or {{question}} variable: {template!r}"
        raise ValueError(msg)
    return re.compile("".join(parts), re.DOTALL)


def compile_templates(
    templates: Iterable[BasePromptTemplate | str],
) -> tuple[re.Pattern[str], ...]:
    """Compile question templates into patterns :func:`split_messages` accepts.

    Raises:
        ValueError: a template has no ``{query_str}`` or ``{question}`` variable.
        TypeError: a template is neither a string nor a LlamaIndex prompt template.
    """
    return tuple(_compile(_template_text(t)) for t in templates)


_DEFAULT_PATTERNS = compile_templates(DEFAULT_QUERY_TEMPLATES)


def _split_question(text: str, patterns: Sequence[re.Pattern[str]]) -> tuple[str, str]:
    """Return (question, frame): the frame is ``text`` with the question replaced by a mark."""
    for pattern in (*patterns, *_DEFAULT_PATTERNS):
        match = pattern.search(text)
        if match is not None and match.group("question").strip():
            start, end = match.span("question")
            return text[start:end], text[:start] + _QUESTION_MARK + text[end:]
    return text, _QUESTION_MARK


def split_completion(prompt: str, patterns: Sequence[re.Pattern[str]] = ()) -> PromptParts:
    """Split a completion prompt: a question template's question, else the whole prompt.

    Example:
        .. code-block:: python

            parts = split_completion("Context information is below.\\n---------------------\\n"
                                     "Paris is in France.\\n---------------------\\nGiven the "
                                     "context information and not prior knowledge, answer the "
                                     "query.\\nQuery: Where is Paris?\\nAnswer: ")
            assert parts.query == "Where is Paris?"
    """
    if not prompt.strip():
        return PromptParts(context="completion-exact:" + prompt, query=None)
    question, frame = _split_question(prompt, patterns)
    return PromptParts(context="completion:" + frame, query=question)


def split_messages(
    messages: Sequence[ChatMessage], patterns: Sequence[re.Pattern[str]] = ()
) -> PromptParts:
    """Split a chat prompt: earlier messages exact, the last user message's question semantic.

    Example:
        .. code-block:: python

            from llama_index.core.llms import ChatMessage

            parts = split_messages(
                [ChatMessage(role="system", content="Be brief."), ChatMessage(content="Hi there")]
            )
            assert parts.query == "Hi there"
    """
    dumped: list[dict[str, Any]] = [m.model_dump(mode="json") for m in messages]
    exact = PromptParts(context="chat-exact:" + canonical_json(dumped), query=None)
    if not messages or messages[-1].role != MessageRole.USER:
        return exact
    last = messages[-1]
    texts = [block.text for block in last.blocks if isinstance(block, TextBlock)]
    text = "\n".join(texts)
    if not text.strip():
        return exact
    question, frame = _split_question(text, patterns)
    # The last turn stays in the context without its question, so its extra kwargs and any
    # non-text blocks (images, documents) still have to match exactly.
    rest = [
        dumped_block
        for dumped_block, block in zip(dumped[-1]["blocks"], last.blocks, strict=True)
        if not isinstance(block, TextBlock)
    ]
    stripped = {**dumped[-1], "blocks": rest, "frame": frame}
    return PromptParts(context="chat:" + canonical_json([*dumped[:-1], stripped]), query=question)


def partition_id(*parts: str) -> str:
    """Return the core partition for these parts: a digest, so its length does not grow."""
    return exact_key(*parts).hex()
