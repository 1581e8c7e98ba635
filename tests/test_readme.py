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
            "from bsc_langchain import refresh, skip",
            "from bsc_langchain import BinarySemanticLLMCache",
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
    from llama_index.core import Settings

    before = (Settings._llm, Settings._embed_model)
    yield
    Settings._llm, Settings._embed_model = before


@pytest.mark.usefixtures("llama_settings")
def test_the_llamaindex_lines_run_as_written_offline() -> None:
    from llama_index.core import Settings

    from bsc_llamaindex import BinarySemanticLLM, BSCEmbedding

    exec(_example("from llama_index.core import Settings"), {})  # no model configured before
    assert isinstance(Settings.llm, BinarySemanticLLM)
    assert isinstance(Settings.embed_model, BSCEmbedding)
    answer = Settings.llm.complete("What is the capital of France?")
    assert Settings.llm.complete("What is the capital of France?").text == answer.text
    assert Settings.llm.stats().hits == 1


@pytest.mark.usefixtures("global_llm_cache")
def test_the_skip_and_refresh_lines_do_what_they_say() -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from bsc_langchain import BinarySemanticLLMCache

    cache = BinarySemanticLLMCache()
    model = FakeListChatModel(responses=["first", "second", "third", "fourth"], cache=cache)
    model.invoke("What time is it now?")
    model.invoke("What is the capital of France?")
    exec(_example("from bsc_langchain import refresh, skip"), {"model": model})
    stats = cache.stats()
    assert (stats.hits, stats.bypassed) == (0, 2)  # both went to the model
    assert model.invoke("What is the capital of France?").content == "fourth"  # refreshed


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


def test_the_verifier_example_serves_explains_and_takes_a_report_back() -> None:
    scope: dict[str, object] = {}
    exec(_example("from bsc_langchain import BinarySemanticLLMCache"), scope)
    cache, model, message = scope["cache"], scope["model"], scope["message"]
    assert message.content == "Settings > Account > Reset."  # type: ignore[attr-defined]
    metadata = message.response_metadata  # type: ignore[attr-defined]
    assert metadata["cache_tier"] == "semantic"
    assert metadata["cache_verifier_score"] >= 0.6
    assert cache.stats().reported_wrong == 1  # type: ignore[attr-defined]
    # The reported entry is gone: the repeat that hit it is answered by the model again.
    assert model.invoke("How do I reset my password?").content == "Ask IT."  # type: ignore[attr-defined]
    cache.close()  # type: ignore[attr-defined]
