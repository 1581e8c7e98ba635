"""The README's Python examples run as written, and do what the README says they do."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.doubles import LABELLED_PAIRS

README = Path(__file__).resolve().parent.parent / "README.md"


def _examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def _example(first_line: str) -> str:
    found = [code for code in _examples() if code.startswith(first_line)]
    assert len(found) == 1, f"expected one README example starting {first_line!r}, got {found}"
    return found[0]


def test_every_example_is_run_here() -> None:
    firsts = sorted(code.splitlines()[0] for code in _examples())
    assert firsts == sorted(
        [
            "from langchain_core.globals import set_llm_cache",
            "from llama_index.core import Settings",
            "from binary_semantic_cache import BinaryEncoder, BinarySemanticCache",
            "from binary_semantic_cache.calibrate import calibrate",
            "from openai import OpenAI",  # run in tests/server/test_chat.py, against a server
        ]
    )


@pytest.fixture
def global_llm_cache() -> Iterator[None]:
    from langchain_core.globals import get_llm_cache, set_llm_cache

    before = get_llm_cache()
    yield
    set_llm_cache(before)


@pytest.mark.usefixtures("global_llm_cache")
def test_the_langchain_line_caches_every_chat_model_call() -> None:
    from langchain_core.globals import get_llm_cache
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from bsc_langchain import BinarySemanticLLMCache

    exec(_example("from langchain_core.globals import set_llm_cache"), {})
    assert isinstance(get_llm_cache(), BinarySemanticLLMCache)
    model = FakeListChatModel(responses=["Paris.", "a second answer"])
    first = model.invoke("What is the capital of France?")
    again = model.invoke("What's the capital of France?")
    assert (first.content, again.content) == ("Paris.", "Paris.")
    assert again.response_metadata["cache_hit"] is True


@pytest.fixture
def llama_settings() -> Iterator[None]:
    from llama_index.core import MockEmbedding, Settings
    from llama_index.core.llms import MockLLM

    before = (Settings._llm, Settings._embed_model)
    Settings.llm, Settings.embed_model = MockLLM(), MockEmbedding(embed_dim=8)
    yield
    Settings._llm, Settings._embed_model = before


@pytest.mark.usefixtures("llama_settings")
def test_the_llamaindex_lines_wrap_the_configured_models() -> None:
    from llama_index.core import Settings

    from bsc_llamaindex import BinaryCachedEmbedding, BinarySemanticLLM

    exec(_example("from llama_index.core import Settings"), {})
    assert isinstance(Settings.llm, BinarySemanticLLM)
    assert isinstance(Settings.embed_model, BinaryCachedEmbedding)
    answer = Settings.llm.complete("What is the capital of France?")
    assert Settings.llm.complete("What is the capital of France?").text == answer.text
    assert Settings.llm.stats().hits == 1


def test_the_core_example_stores_then_finds(capsys: pytest.CaptureFixture[str]) -> None:
    code = _example("from binary_semantic_cache import BinaryEncoder, BinarySemanticCache")
    namespace: dict[str, object] = {}
    exec(code, namespace)
    assert capsys.readouterr().out == ""  # the first run stores the answer
    exec(code[code.index("embedding =") :], namespace)  # the same question again
    assert capsys.readouterr().out.startswith("HIT Paris 1.0")


def test_the_calibration_example_prints_a_threshold(capsys: pytest.CaptureFixture[str]) -> None:
    exec(
        _example("from binary_semantic_cache.calibrate import calibrate"), {"pairs": LABELLED_PAIRS}
    )
    threshold, precision, hit_rate = (float(v) for v in capsys.readouterr().out.split())
    assert 0.0 < threshold < 1.0
    assert precision >= 0.95
    assert 0.0 < hit_rate <= 1.0
