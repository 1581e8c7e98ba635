"""langchain-tests' standard cache suite, asynchronous half."""

from __future__ import annotations

import pytest
import pytest_asyncio
from langchain_tests.integration_tests import AsyncCacheTestSuite

from bsc_langchain import BinarySemanticLLMCache
from tests.langchain.conftest import CountingEmbedder

# The suite's tests are coroutines without marks and the project runs pytest-asyncio in strict
# mode. The suite's one synchronous check (test_no_overrides) inherits the mark harmlessly.
pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.filterwarnings("ignore:The test <Function test_no_overrides_DO_NOT_OVERRIDE>"),
]


class TestBinarySemanticLLMCacheAsync(AsyncCacheTestSuite):
    @pytest_asyncio.fixture
    async def cache(self, embedder: CountingEmbedder) -> BinarySemanticLLMCache:  # type: ignore[override]
        return BinarySemanticLLMCache(embedder)
