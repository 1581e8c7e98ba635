"""langchain-tests' standard cache suite, synchronous half."""

from __future__ import annotations

import pytest
from langchain_tests.integration_tests import SyncCacheTestSuite

from bsc_langchain import BinarySemanticLLMCache
from tests.langchain.conftest import CountingEmbedder


class TestBinarySemanticLLMCacheSync(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self, embedder: CountingEmbedder) -> BinarySemanticLLMCache:
        return BinarySemanticLLMCache(embedder)
