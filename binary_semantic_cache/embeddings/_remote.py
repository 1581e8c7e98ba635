"""The request pipeline shared by the HTTP embedders.

Per batch: budget, circuit breaker, rate limits, then the request, retried by the
:class:`RetryPolicy`; then the answer is checked, normalised and accounted for.
``embed`` sends its batches one after another; ``aembed`` sends the first alone, then up
to ``max_concurrent_requests`` at once. Backends only implement sending one batch and
translating their errors.
"""

from __future__ import annotations

import asyncio
import time
from abc import abstractmethod
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from binary_semantic_cache.embeddings.base import (
    BaseEmbedder,
    Vectors,
    as_unit_rows,
    validate_texts,
)
from binary_semantic_cache.embeddings.circuit import CircuitBreaker
from binary_semantic_cache.embeddings.errors import EmbeddingError
from binary_semantic_cache.embeddings.pricing import DailyBudget, PriceTable
from binary_semantic_cache.embeddings.ratelimit import TokenBucket
from binary_semantic_cache.embeddings.retry import RetryPolicy
from binary_semantic_cache.embeddings.stats import EmbedderStats, RemoteStats
from binary_semantic_cache.embeddings.tokens import TokenCounter

__all__ = ["RemoteEmbedder", "Reply"]

# Sent once to learn the dimension of a model the embedder has no table entry for.
_PROBE_TEXT = "dimension probe"


@dataclass(frozen=True)
class Reply:
    """One batch's answer: the raw vectors, in input order, and the tokens the server billed."""

    vectors: object
    tokens: int | None


class RemoteEmbedder(BaseEmbedder):
    """Batching, limits, retries, breaker, budget and stats around a backend's ``_send``."""

    def __init__(
        self,
        *,
        model: str,
        dim: int | None,
        max_batch_size: int,
        max_batch_tokens: int | None,
        rpm_limit: float | None,
        tpm_limit: float | None,
        retry: RetryPolicy | None,
        circuit_breaker: CircuitBreaker | None,
        daily_budget_usd: float | None,
        prices: Mapping[str, float] | None,
        token_counter: TokenCounter,
        allow_empty_strings: bool,
        max_concurrent_requests: int,
    ) -> None:
        if not model:
            raise ValueError("model must be a non-empty string")
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        if dim is not None and dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        if (
            not isinstance(max_concurrent_requests, int)
            or isinstance(max_concurrent_requests, bool)
            or max_concurrent_requests < 1
        ):
            raise ValueError(
                "max_concurrent_requests must be an integer of at least 1, "
                f"got {max_concurrent_requests!r}"
            )
        self._model = model
        self._dim = dim
        self._max_batch_size = max_batch_size
        self._max_batch_tokens = max_batch_tokens
        self._rpm = TokenBucket(rpm_limit) if rpm_limit else None
        self._tpm = TokenBucket(tpm_limit) if tpm_limit else None
        self._retry = retry if retry is not None else RetryPolicy()
        self._breaker = circuit_breaker if circuit_breaker is not None else CircuitBreaker()
        self._budget = DailyBudget(daily_budget_usd)
        self._prices = PriceTable(prices)
        self._count_tokens = token_counter
        self._allow_empty = allow_empty_strings
        self._max_concurrent = max_concurrent_requests
        self._stats = EmbedderStats()

    # -- to implement ------------------------------------------------------------------

    @abstractmethod
    def _send(self, batch: list[str]) -> Reply:
        """POST one batch; raise an :class:`EmbeddingError` subclass on any failure."""

    @abstractmethod
    async def _asend(self, batch: list[str]) -> Reply:
        """Async :meth:`_send`."""

    # -- public ------------------------------------------------------------------------

    @property
    def model(self) -> str:
        return self._model

    @property
    def dim(self) -> int:
        if self._dim is None:
            # The first answer fixes the dimension; later answers must match it.
            return int(self.embed([_PROBE_TEXT]).shape[1])
        return self._dim

    def get_stats(self) -> RemoteStats:
        """Counters so far (see :class:`EmbedderStats`), the breaker state and today's spend.

        Calls still in flight count towards the spend at their estimated cost.
        """
        snapshot = self._stats.snapshot()
        return RemoteStats(
            **snapshot, circuit=self._breaker.state, spent_today_usd=self._budget.spent_today
        )

    def embed(self, texts: Sequence[str]) -> Vectors:
        items = validate_texts(texts, allow_empty_strings=self._allow_empty)
        return np.vstack([self._call(batch, tokens) for batch, tokens in self._plan(items)])

    async def aembed(self, texts: Sequence[str]) -> Vectors:
        """Async :meth:`embed`, with up to ``max_concurrent_requests`` batches in flight.

        Rows come back in input order. The first failure is raised once the batches still
        running have been cancelled.
        """
        items = validate_texts(texts, allow_empty_strings=self._allow_empty)
        batches = self._plan(items)
        plan = enumerate(batches)
        parts: dict[int, Vectors] = {}

        async def work() -> None:
            try:
                for index, (batch, tokens) in plan:
                    parts[index] = await self._acall(batch, tokens)
            except BaseException:
                batches.close()  # the other workers take no new batch
                raise

        # The first batch goes alone: its answer fixes an unknown dimension, it is the
        # breaker's one trial when half-open, and a wrong key fails one request, not several.
        index, (batch, tokens) = next(plan)
        parts[index] = await self._acall(batch, tokens)
        workers = [asyncio.ensure_future(work()) for _ in range(self._max_concurrent)]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            # Wait for the cancelled ones, so no request outlives this call.
            await asyncio.gather(*workers, return_exceptions=True)
        return np.vstack([parts[i] for i in range(len(parts))])

    # -- the pipeline --------------------------------------------------------------------

    def _plan(self, items: list[str]) -> Generator[tuple[list[str], int], None, None]:
        """Consecutive batches within the per-request limits, so order is kept."""
        batch: list[str] = []
        batch_tokens = 0
        for text in items:
            tokens = self._count_tokens(text)
            full = len(batch) >= self._max_batch_size or (
                self._max_batch_tokens is not None
                and batch_tokens + tokens > self._max_batch_tokens
            )
            if batch and full:
                yield batch, batch_tokens
                batch, batch_tokens = [], 0
            batch.append(text)
            batch_tokens += tokens
        if batch:
            yield batch, batch_tokens

    def _admit(self, estimated_tokens: int) -> bool:
        """Refuse the call or let it through; return whether it is the breaker's trial."""
        estimated_usd = self._prices.cost(self._model, estimated_tokens)
        try:
            self._budget.check(estimated_usd)
            trial = self._breaker.before_call()
        except EmbeddingError as error:
            self._stats.error(error.kind)
            raise
        # Counted at once, so that batches in flight together see each other's cost;
        # _finish corrects it to the billed cost, _abort refunds it.
        self._budget.add(estimated_usd)
        return trial

    def _reserve(self, estimated_tokens: int) -> float:
        waits = [0.0]
        if self._rpm is not None:
            waits.append(self._rpm.reserve(1))
        if self._tpm is not None:
            waits.append(self._tpm.reserve(estimated_tokens))
        return max(waits)

    def _on_failure(self, error: EmbeddingError, retries_done: int) -> float | None:
        self._stats.error(error.kind)
        delay = self._retry.delay(retries_done, error)
        if delay is not None:
            self._stats.retry()
        return delay

    def _finish(self, batch: list[str], estimated_tokens: int, reply: Reply) -> Vectors:
        vectors = as_unit_rows(reply.vectors, expected_rows=len(batch), expected_dim=self._dim)
        self._dim = vectors.shape[1]
        tokens = reply.tokens if reply.tokens is not None else estimated_tokens
        if self._tpm is not None:
            self._tpm.adjust(tokens - estimated_tokens)
        cost = self._prices.cost(self._model, tokens)
        self._budget.add(cost - self._prices.cost(self._model, estimated_tokens))
        self._stats.success(
            texts=len(batch), tokens=tokens, estimated=reply.tokens is None, cost_usd=cost
        )
        return vectors

    def _abort(self, error: BaseException, estimated_tokens: int, trial: bool) -> None:
        """Settle the breaker and the budget for a call that raised ``error``."""
        if not isinstance(error, EmbeddingError):
            # Cancelled or interrupted: no outcome for the breaker, and the request may
            # have been billed, so its estimated cost stays counted.
            if trial:
                self._breaker.cancel_trial()
            return
        self._budget.add(-self._prices.cost(self._model, estimated_tokens))
        # Only failures that say the service is unwell (retryable kinds) count towards
        # opening the breaker; a 400 or 401 means it answered.
        if error.retryable:
            self._breaker.record_failure()
        else:
            self._breaker.record_success()

    def _call(self, batch: list[str], estimated_tokens: int) -> Vectors:
        trial = self._admit(estimated_tokens)
        try:
            vectors = self._attempts(batch, estimated_tokens)
        except BaseException as error:
            self._abort(error, estimated_tokens, trial)
            raise
        self._breaker.record_success()
        return vectors

    def _attempts(self, batch: list[str], estimated_tokens: int) -> Vectors:
        retries = 0
        while True:
            time.sleep(self._reserve(estimated_tokens))
            self._stats.request()
            try:
                return self._finish(batch, estimated_tokens, self._send(batch))
            except EmbeddingError as error:
                delay = self._on_failure(error, retries)
                if delay is None:
                    raise
            time.sleep(delay)
            retries += 1

    async def _acall(self, batch: list[str], estimated_tokens: int) -> Vectors:
        trial = self._admit(estimated_tokens)
        try:
            vectors = await self._aattempts(batch, estimated_tokens)
        except BaseException as error:
            self._abort(error, estimated_tokens, trial)
            raise
        self._breaker.record_success()
        return vectors

    async def _aattempts(self, batch: list[str], estimated_tokens: int) -> Vectors:
        retries = 0
        while True:
            await asyncio.sleep(self._reserve(estimated_tokens))
            self._stats.request()
            try:
                return self._finish(batch, estimated_tokens, await self._asend(batch))
            except EmbeddingError as error:
                delay = self._on_failure(error, retries)
                if delay is None:
                    raise
            await asyncio.sleep(delay)
            retries += 1
