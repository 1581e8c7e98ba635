"""The building blocks alone: retry policy, Retry-After, token bucket, budget, prices, tokens."""

from __future__ import annotations

import email.utils
import time

import pytest

from binary_semantic_cache.embeddings import (
    BudgetExceededError,
    CircuitBreaker,
    CircuitOpenError,
    DailyBudget,
    PriceTable,
    RateLimitError,
    RetryPolicy,
    ServiceUnavailableError,
    TokenBucket,
)
from binary_semantic_cache.embeddings.errors import AuthenticationError, RequestTimeoutError
from binary_semantic_cache.embeddings.retry import parse_retry_after
from binary_semantic_cache.embeddings.tokens import estimate_tokens, token_counter_for


def test_retry_policy_retries_only_transient_errors() -> None:
    policy = RetryPolicy(max_retries=2, initial_backoff=1.0, max_backoff=1.5)
    assert policy.delay(0, AuthenticationError("no")) is None
    assert policy.delay(0, RateLimitError("slow down", retry_after=3.0)) == 3.0
    first = policy.delay(0, ServiceUnavailableError("down"))
    second = policy.delay(1, RequestTimeoutError("slow"))
    assert first is not None and 0.5 <= first <= 1.0
    assert second is not None and 0.75 <= second <= 1.5  # doubled, capped at max_backoff
    assert policy.delay(2, ServiceUnavailableError("down")) is None


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    parsed = parse_retry_after({"retry-after": later})
    assert parsed is not None and 28 <= parsed <= 31
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_token_bucket_allows_a_burst_then_paces() -> None:
    now = [0.0]
    bucket = TokenBucket(per_minute=60, clock=lambda: now[0])  # 1 a second
    assert [bucket.reserve() for _ in range(60)] == [0.0] * 60
    assert bucket.reserve() == pytest.approx(1.0)
    assert bucket.reserve() == pytest.approx(2.0)  # queued behind the previous caller
    now[0] += 10
    assert bucket.reserve() == 0.0


def test_token_bucket_adjusts_to_actual_usage() -> None:
    now = [0.0]
    bucket = TokenBucket(per_minute=600, clock=lambda: now[0])  # 10 a second
    assert bucket.reserve(600) == 0.0
    bucket.adjust(-100)  # the request used 100 fewer than estimated
    assert bucket.reserve(100) == 0.0
    assert bucket.reserve(50) == pytest.approx(5.0)
    assert bucket.reserve(10_000) > 0  # capped at one bucket, not refused


def test_breaker_lets_one_trial_through_when_half_open() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=5, clock=lambda: now[0])
    breaker.record_failure()
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    now[0] = 5
    breaker.before_call()  # the trial
    with pytest.raises(CircuitOpenError):
        breaker.before_call()  # a second caller waits for the trial's outcome
    breaker.record_success()
    breaker.before_call()
    assert breaker.state == "closed"


def test_breaker_trial_cancelled_without_an_outcome_passes_to_the_next_caller() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=5, clock=lambda: now[0])
    assert breaker.before_call() is False  # closed: not a trial
    breaker.record_failure()
    now[0] = 5
    assert breaker.before_call() is True
    breaker.cancel_trial()
    assert breaker.state == "half_open"
    assert breaker.before_call() is True  # the next caller is the trial


def test_daily_budget_refunds_an_estimate_but_not_below_zero() -> None:
    now = [1_700_000_000.0]  # 2023-11-14 22:13 UTC
    budget = DailyBudget(1.0, clock=lambda: now[0])
    budget.add(0.5)
    budget.add(-0.2)
    assert budget.spent_today == pytest.approx(0.3)
    now[0] += 2 * 3600  # past midnight: yesterday's estimate is refunded today
    budget.add(-0.3)
    assert budget.spent_today == 0.0


def test_daily_budget_resets_at_utc_midnight() -> None:
    now = [1_700_000_000.0]  # 2023-11-14 22:13 UTC
    budget = DailyBudget(1.0, clock=lambda: now[0])
    budget.add(0.9)
    with pytest.raises(BudgetExceededError, match=r"0\.900000 USD spent"):
        budget.check(0.2)
    now[0] += 2 * 3600  # past midnight
    budget.check(0.2)
    assert budget.spent_today == 0.0


def test_price_table_defaults_and_overrides() -> None:
    prices = PriceTable({"local-model": 0.5})
    assert prices.cost("text-embedding-3-small", 1_000_000) == pytest.approx(0.02)
    assert prices.cost("local-model", 2_000_000) == pytest.approx(1.0)
    assert prices.cost("unknown", 10**9) == 0.0
    assert PriceTable({"text-embedding-3-small": 0.01}).cost("text-embedding-3-small", 10**6) == (
        pytest.approx(0.01)
    )
    with pytest.raises(ValueError, match="must be >= 0"):
        PriceTable({"x": -1.0})


def test_token_estimate_is_conservative_for_english() -> None:
    text = "The quick brown fox jumps over the lazy dog."  # 10 tokens with cl100k_base
    assert estimate_tokens(text) >= 10
    assert estimate_tokens("") == 0
    assert estimate_tokens("日本語") == 5  # 9 UTF-8 bytes


@pytest.mark.usefixtures("no_network")
def test_offline_tiktoken_falls_back_to_the_estimate(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # empty: nothing cached
    assert token_counter_for("text-embedding-3-small") is estimate_tokens
    assert token_counter_for("a-local-model") is estimate_tokens
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # tiktoken's cache turned off
    assert token_counter_for("text-embedding-3-small") is estimate_tokens
