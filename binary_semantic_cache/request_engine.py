"""The request engine: the whole path of one cached model call, behind every front door.

An adapter (LangChain, LlamaIndex) turns its framework's call into a :class:`Request` and the
engine's :class:`Hit` back into its framework's types; everything between is here, once:

    exact tier -> context partition -> embedding (memoised) -> nearest code -> precision guards
    -> verifier (when there is one) -> decision -> stats, spans; and after a miss, the write.

A failure anywhere inside (the embedder, the core, a payload) becomes a miss or a skipped
write: it is counted, logged once per exception type, and never reaches the caller.

Stored payloads are JSON objects: ``{"v": 1, "q": question, "e": expires_at, ...}``, the
adapter's own fields beside the engine's (never pickle).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    NamedTuple,
    TypedDict,
    TypeVar,
)

import numpy as np
import numpy.typing as npt

from binary_semantic_cache._adapter import (
    GuardsArg,
    IndexArg,
    PathArg,
    close_core,
    exact_only_partition,
    exact_vector,
    matched_exactly_if_cut_off,
    open_core,
    resolve_guards,
)
from binary_semantic_cache._core import DEFAULT_MAX_ENTRIES, DEFAULT_SIMILARITY_THRESHOLD
from binary_semantic_cache.control import CacheMode, current_mode
from binary_semantic_cache.embeddings import Embedder, InputTooLongError, MemoizedEmbedder
from binary_semantic_cache.embeddings.coalesce import CoalescingEmbedder
from binary_semantic_cache.failures import FailureLog
from binary_semantic_cache.lru import BoundedLRU
from binary_semantic_cache.single_flight import Flight, Flights
from binary_semantic_cache.stats import CacheStats, ModelPrice, StatsRecorder, Usage
from binary_semantic_cache.stats_file import add_session
from binary_semantic_cache.telemetry import RequestTrace, partition_hash, resolve_tracing
from binary_semantic_cache.verifier import DefaultVerifier, Verifier, WrongReports, within_bound

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "DEFAULT_EXACT_TIER_SIZE",
    "CacheOptions",
    "Hit",
    "Request",
    "RequestEngine",
    "Verifier",
    "exact_key",
]

A = TypeVar("A")
R = TypeVar("R")

#: Prompts whose decoded answers the exact tier keeps by default.
DEFAULT_EXACT_TIER_SIZE = 4096
_PAYLOAD_VERSION = 1
# Enough for every prompt of a large batch between its lookups and its writes.
_MEMO_SIZE = 4096
# Pairs whose verifier score, or whose refusal log line, is remembered.
_PAIRS_REMEMBERED = 4096
# Stored payloads whose decoded answers are kept: each semantic hit of a popular answer would
# otherwise decode it again (LangChain's ``loads`` takes most of a hit's time in this package).
_DECODED_SIZE = 1024
# Entries of one question refresh() may find to replace (more than one: concurrent writes).
_REPLACED_AT_MOST = 8
#: Seconds a caller waits for a concurrent model call of the same prompt before its own.
DEFAULT_SINGLE_FLIGHT_TIMEOUT = 30.0


class Request(NamedTuple):
    """One prompt as the engine sees it (a tuple: one is made for every call).

    ``exact_key`` names the whole prompt (see :func:`exact_key`); ``locate`` returns its
    context partition and its question (``None``: the prompt may only match exactly), and runs
    only when the exact tier has no answer. ``mode`` ("skip" or "refresh") overrides the
    :mod:`~binary_semantic_cache.control` mode for this request (say, from a request header).
    ``on_refusal``, when given, is told the reason (as in ``stats().refusals``) when a near
    match is refused, so a front door can say so.
    """

    exact_key: bytes
    locate: Callable[[], tuple[str, str | None]]
    mode: CacheMode | None = None
    on_refusal: Callable[[str], None] | None = None


class Hit(Generic[A]):
    """A stored answer found for a request: ``tier`` is "exact" or "semantic"."""

    __slots__ = ("answer", "entry_id", "similarity", "tier", "verifier_score")

    def __init__(
        self,
        answer: A,
        similarity: float,
        tier: str,
        verifier_score: float | None = None,
        *,
        entry_id: int | None = None,
    ) -> None:
        # A plain class, not a frozen dataclass: one is made for every hit, repeats included.
        self.answer = answer
        self.similarity = similarity
        self.tier = tier
        self.verifier_score = verifier_score
        self.entry_id = entry_id

    def __repr__(self) -> str:
        return f"Hit(tier={self.tier!r}, similarity={self.similarity:.4f})"

    @property
    def marks(self) -> dict[str, Any]:
        """What a served answer carries in its metadata, in every framework."""
        marks: dict[str, Any] = {
            "cache_hit": True,
            "cache_similarity": self.similarity,
            "cache_tier": self.tier,
        }
        if self.verifier_score is not None:
            marks["cache_verifier_score"] = self.verifier_score
        if self.entry_id is not None:
            marks["cache_entry"] = self.entry_id  # what report_wrong() takes back
        return marks


def exact_key(*parts: str | None) -> bytes:
    """A 16-byte digest of ``parts``, for :attr:`Request.exact_key` (``None`` is its own value)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(b"\x1e" if part is None else part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.digest()


@dataclass(frozen=True, slots=True)
class _Remembered(Generic[A]):
    """What the exact tier keeps for one prompt: the decoded answer, never JSON."""

    answer: A
    partition: str
    query: str | None
    expires_at: float | None  # wall clock, as stored in the payload
    core_id: int | None


@dataclass(frozen=True, slots=True)
class _Decoded(Generic[A]):
    """A stored payload read back: its question, its expiry (wall clock), the adapter's answer."""

    query: str | None
    expires_at: float | None
    answer: A


@dataclass(frozen=True, slots=True)
class _Pending:
    """A lookup past the exact tier: where to search and for what."""

    key: bytes
    partition: str
    query: str | None


@dataclass(frozen=True, slots=True)
class _Candidate(Generic[A]):
    """A semantic match the guards let through, waiting for the verifier."""

    answer: A
    similarity: float
    stored_query: str
    query: str
    vector: npt.NDArray[np.float32]
    entry_id: int


@dataclass(frozen=True, slots=True)
class _Embed:
    """A step's request: the vector of ``text``."""

    text: str


@dataclass(frozen=True, slots=True)
class _Score:
    """A step's request: the verifier's score of a stored question for a new one."""

    stored_query: str
    query: str


@dataclass(frozen=True, slots=True)
class _Wait:
    """A step's request: wait for a concurrent caller's model call of the same prompt."""

    flight: Flight


Effect = _Embed | _Score | _Wait
#: A request's steps: they yield what they need done (an embedding, a score, a wait), are sent
#: back its result (or thrown its error), and return the request's outcome.
Steps = Generator[Effect, Any, R]
#: What builds an adapter's own fields of a stored payload (run inside the write's failure guard).
Fields = Callable[[], Mapping[str, Any]]


class CacheOptions(TypedDict, total=False):
    """The options every front door takes (the LangChain cache, the LlamaIndex LLM).

    Keys:
        similarity_threshold: Estimated cosine (0..1) a stored question must reach to answer;
            higher is stricter.
        max_entries: Stored answers kept, least recently used evicted first.
        ttl_seconds: Lifetime of an answer; ``None`` (default) keeps answers until evicted.
        rescore: Re-rank the nearest codes with their stored vectors before deciding.
        index: ``"auto"`` (default) searches large partitions through a multi-index hash and
            small ones by a flat scan, ``"flat"`` always scans, ``"mih"`` always uses the index;
            the answers are the same. ``"approx"``: as ``"auto"``, but the index probes less and
            never scans, so it may miss a distant match (never serving a wrong one).
        path: A directory to persist the answers in (one writer per directory); a new process
            over it answers what an earlier one stored. ``None``: in memory only.
        redis_url: ``redis://`` or ``rediss://`` URL: caches with the same namespace on that
            Redis share their answers (lookups are still served locally).
        redis_cluster: ``redis_url`` names a node of a Redis Cluster.
        guards: ``True`` (default) runs the default
            :class:`~binary_semantic_cache.guards.PrecisionGuards` before a semantic hit is
            served, ``False`` none, or pass your own ``PrecisionGuards(checks=...)``.
        verifier: An object with ``score(stored_question, new_question) -> float`` (0..1, and
            optionally ``async ascore``); a semantic match the guards let through that scores
            below ``min_verifier_score`` (default 0.5) is refused. ``None`` (default): none.
        max_wrong_rate: The error-bounded mode: a semantic hit is served only when the
            verifier's calibrated chance that it is wrong is at most this δ (for example 0.02),
            tighter near answers reported wrong (:meth:`RequestEngine.report_wrong`). Without a
            ``verifier``, the shipped :class:`~binary_semantic_cache.verifier.DefaultVerifier`.
        exact_tier_size: Prompts whose decoded answers are kept in process for repeats; a
            repeat beyond them is still answered exactly, from the core.
        prices: Model name to :class:`~binary_semantic_cache.stats.ModelPrice`, for the
            estimated cost saved in stats.
        tracing: ``True`` writes OpenTelemetry spans through the global tracer provider, or
            pass a ``Tracer``; ``trace_prompts`` adds the question's text to them.
        single_flight_timeout: Seconds a caller that misses waits for a concurrent caller's
            model call of the same prompt, instead of making its own (default 30; 0: never).
    """

    similarity_threshold: float
    max_entries: int
    ttl_seconds: float | None
    rescore: bool
    index: IndexArg
    path: PathArg
    redis_url: str | None
    redis_cluster: bool
    guards: GuardsArg
    verifier: Verifier | None
    min_verifier_score: float
    max_wrong_rate: float | None
    exact_tier_size: int
    prices: Mapping[str, ModelPrice] | None
    tracing: bool | Any
    trace_prompts: bool
    single_flight_timeout: float


class RequestEngine(Generic[A]):
    """Looks up and stores the answers of one front door.

    Args:
        embedder: The embedder of questions (memoised here).
        decode: Builds the adapter's answer from a stored payload (a dict); raises on a payload
            it cannot read. Its result is kept in the exact tier and handed back in hits, so the
            adapter must copy it before giving it to a caller.
        usage: The token usage a decoded answer cost when it was made, for the savings in
            :meth:`stats`; ``None``: not known.
        redis_namespace: The name caches sharing answers through Redis have in common.
        logger: Where failures and refusals are logged.
        options: :class:`CacheOptions`.

    Raises:
        TypeError: an option is unknown or of the wrong type.
        ValueError: an option is out of its range.
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        decode: Callable[[Mapping[str, Any]], A],
        usage: Callable[[A], Iterable[Usage]] | None = None,
        redis_namespace: str,
        logger: logging.Logger,
        **options: Unpack[CacheOptions],
    ) -> None:
        unknown = sorted(set(options) - set(CacheOptions.__annotations__))
        if unknown:
            msg = f"unknown cache options {unknown}; expected some of {_OPTION_NAMES}"
            raise TypeError(msg)
        similarity_threshold = options.get("similarity_threshold", DEFAULT_SIMILARITY_THRESHOLD)
        max_entries = options.get("max_entries", DEFAULT_MAX_ENTRIES)
        ttl_seconds = options.get("ttl_seconds")
        exact_tier_size = options.get("exact_tier_size", DEFAULT_EXACT_TIER_SIZE)
        verifier = options.get("verifier")
        _check_arguments(similarity_threshold, max_entries, ttl_seconds, exact_tier_size)
        if verifier is not None and not isinstance(verifier, Verifier):
            msg = (
                "verifier must have score(stored_question, new_question) -> float, "
                f"got {type(verifier).__name__}"
            )
            raise TypeError(msg)
        self._guards = resolve_guards(options.get("guards", True))
        self._tracing = resolve_tracing(
            options.get("tracing", False), record_prompts=options.get("trace_prompts", False)
        )
        self._max_wrong_rate = options.get("max_wrong_rate")
        if self._max_wrong_rate is not None:
            _check_rate(self._max_wrong_rate)
            verifier = DefaultVerifier() if verifier is None else verifier
        self._verifier = verifier
        self._min_verifier_score = options.get("min_verifier_score", 0.5)
        self._reports = WrongReports()
        self._served_vectors: BoundedLRU[int, npt.NDArray[np.float32]] = BoundedLRU(
            _PAIRS_REMEMBERED
        )
        # The lookup that misses embeds the question; the write after the model call reuses it.
        # Concurrent lookups (async or from threads) share model runs.
        self._embedder = MemoizedEmbedder(CoalescingEmbedder(embedder), maxsize=_MEMO_SIZE)
        self._decode_answer = decode
        self._usage = usage
        self._ttl_seconds = ttl_seconds
        self._exact_vector = exact_vector(embedder.dim)
        self.core = open_core(
            embedder.dim,
            max_entries=max_entries,
            similarity_threshold=similarity_threshold,
            ttl_seconds=ttl_seconds,
            rescore=options.get("rescore", False),
            index=options.get("index", "auto"),
            path=options.get("path"),
            redis_url=options.get("redis_url"),
            redis_namespace=redis_namespace,
            redis_cluster=options.get("redis_cluster", False),
        )
        self.exact_tier: BoundedLRU[bytes, _Remembered[A]] = BoundedLRU(exact_tier_size)
        self._verdicts: BoundedLRU[tuple[str, str], float] = BoundedLRU(_PAIRS_REMEMBERED)
        self._decoded: BoundedLRU[str, _Decoded[A]] = BoundedLRU(_DECODED_SIZE)
        self._explained: BoundedLRU[tuple[str, str], bool] = BoundedLRU(_PAIRS_REMEMBERED)
        self._stats = StatsRecorder(options.get("prices"))
        self._closed = False
        self._flights = Flights(options.get("single_flight_timeout", DEFAULT_SINGLE_FLIGHT_TIMEOUT))
        self._logger = logger
        self._failures = FailureLog(logger)

    def settings_repr(self) -> str:
        """How the cache is set, for the adapters' ``repr``."""
        core = self.core
        path = None if core.path is None else str(core.path)
        return (
            f"similarity_threshold={core.similarity_threshold}, max_entries={core.max_entries}, "
            f"ttl_seconds={core.ttl_seconds}, rescore={core.rescore}, path={path!r}, "
            f"guards={self._guards!r}, verifier={self._verifier!r}"
        )

    def stats(self) -> CacheStats:
        """Return the counters."""
        return self._stats.snapshot()

    def close(self) -> None:
        """Write out and release the directory, stop following Redis; idempotent.

        With ``path``, this session's stats are added to the directory's (see
        :mod:`~binary_semantic_cache.stats_file`) first.
        """
        if not self._closed:
            self._closed = True
            path = self.core.path
            if path is not None:
                try:
                    add_session(Path(path), self._stats.snapshot())
                except OSError as exc:
                    self._failures.record("saving stats", exc, treated_as="lost stats")
        close_core(self.core)
        self.exact_tier.clear()
        self._decoded.clear()

    def clear(self, prefix: str | None = None) -> None:
        """Forget every stored answer, or those whose partition starts with ``prefix``."""
        if prefix is None:
            self.exact_tier.clear()
            self.core.clear()
            self._embedder.clear()
            return
        self.exact_tier.remove_where(lambda _, entry: entry.partition.startswith(prefix))
        self.core.clear_prefix(prefix)

    def lookup_failed(self, exc: BaseException) -> None:
        """Count and log a failed lookup (also the adapter's); the call goes on to the model."""
        self._stats.add("lookups", "misses", "errors")
        self._failures.record("lookup", exc, treated_as="miss")

    # -- lookup ---------------------------------------------------------------------------

    def lookup(self, request: Request) -> Hit[A] | None:
        """Return the answer stored for ``request``, or ``None``; never raises."""
        hit = self._remembered(request)
        return hit if hit is not None else self._run(self._lookup_steps(request))

    async def alookup(self, request: Request) -> Hit[A] | None:
        """Async :meth:`lookup`: the embedding and the verifier run off the event loop."""
        hit = self._remembered(request)
        return hit if hit is not None else await self._arun(self._lookup_steps(request))

    def _remembered(self, request: Request) -> Hit[A] | None:
        """The exact tier's answer, served at once: a repeat pays for nothing more."""
        if request.mode is not None or current_mode() is not None:
            return None
        try:
            entry = self.exact_tier.get(request.exact_key, self._is_live)
        except Exception:
            return None  # the slow path looks again, and counts the failure
        if entry is None:
            return None
        trace = None if self._tracing is None else RequestTrace()
        hit = self._served(Hit(entry.answer, 1.0, "exact", entry_id=entry.core_id), trace)
        if trace is not None:
            self._emit("lookup", trace)
        return hit

    def _lookup_steps(self, request: Request) -> Steps[Hit[A] | None]:
        trace = RequestTrace()
        try:
            if (request.mode or current_mode()) is not None:
                # skip() or refresh(): the call goes to the model whatever is stored.
                self._stats.add("lookups", "misses", "bypassed")
                return None
            hit = yield from self._find(request, trace)
            if hit is not None:
                self._flights.release(request.exact_key)  # no model call to wait for
            return hit
        except InputTooLongError:
            # Its exact-only partition was looked at before the embedding: nothing is stored.
            self._stats.add("lookups", "misses")
            return None
        except Exception as exc:
            self._flights.release(request.exact_key)
            self.lookup_failed(exc)
            return None
        finally:
            reason = trace.attributes.get("bsc.refusal_reason")
            if reason is not None and request.on_refusal is not None:
                request.on_refusal(str(reason))
            self._emit("lookup", trace)

    def _find(self, request: Request, trace: RequestTrace) -> Steps[Hit[A] | None]:
        exact = self._exact_hit(request, trace)
        if exact is not None:
            return exact
        flight = self._flights.running(request.exact_key)
        if flight is None:
            # Lead at once, before the embedding: concurrent callers of this prompt wait for
            # this one's lookup and, if it misses, its model call.
            self._flights.lead(request.exact_key)
        else:
            self._stats.add("waits")
            yield _Wait(flight)
            exact = self._exact_hit(request, trace)
            if exact is not None:
                return exact
        found = self._pending(request, trace)
        if found is None:
            return None
        vector = self._exact_vector
        if found.query is not None:
            start = time.perf_counter_ns()
            vector = yield _Embed(found.query)
            self._timed(trace, "embed", start)
        matched = self._search(found, vector, trace)
        if not isinstance(matched, _Candidate):
            return matched
        start = time.perf_counter_ns()
        score = self._verdicts.get((matched.stored_query, matched.query))
        if score is None:
            score = yield _Score(matched.stored_query, matched.query)
        return self._verified(matched, score, start, trace)

    # -- running the steps: the sync and the async path differ only in how effects are done --

    def _run(self, steps: Steps[R]) -> R:
        done, value = _advance(steps, None, None)
        while not done:
            try:
                done, value = _advance(steps, self._do(value), None)
            except Exception as exc:
                done, value = _advance(steps, None, exc)
        result: R = value
        return result

    async def _arun(self, steps: Steps[R]) -> R:
        done, value = _advance(steps, None, None)
        while not done:
            try:
                reply = await self._ado(value)
            except Exception as exc:
                done, value = _advance(steps, None, exc)
            else:
                done, value = _advance(steps, reply, None)
        result: R = value
        return result

    def _do(self, effect: Effect) -> Any:
        if isinstance(effect, _Wait):
            return effect.flight.wait()
        if isinstance(effect, _Embed):
            return self._embedder.embed([effect.text])[0]
        return float(self._verifier_or_fail().score(effect.stored_query, effect.query))

    async def _ado(self, effect: Effect) -> Any:
        if isinstance(effect, _Wait):
            return await effect.flight.await_landing()
        if isinstance(effect, _Embed):
            return (await self._embedder.aembed([effect.text]))[0]
        verifier = self._verifier_or_fail()
        ascore = getattr(verifier, "ascore", None)
        if ascore is not None:
            return float(await ascore(effect.stored_query, effect.query))
        return float(await asyncio.to_thread(verifier.score, effect.stored_query, effect.query))

    def _locate(self, request: Request) -> tuple[str, str | None]:
        partition, query = request.locate()
        return matched_exactly_if_cut_off(partition, query, self._embedder, self.core)

    def _is_live(self, entry: _Remembered[A]) -> bool:
        # A partition gone from the core was cleared (here or, when shared, by another
        # instance) or evicted whole: its answers go from the exact tier too.
        return (
            entry.expires_at is None or time.time() < entry.expires_at
        ) and self.core.has_partition(entry.partition)

    def _exact_hit(self, request: Request, trace: RequestTrace) -> Hit[A] | None:
        entry = self.exact_tier.get(request.exact_key, self._is_live)
        if entry is None:
            return None
        return self._served(Hit(entry.answer, 1.0, "exact", entry_id=entry.core_id), trace)

    def _pending(self, request: Request, trace: RequestTrace) -> _Pending | None:
        """What the core must look up, or ``None`` for a plain miss."""
        partition, query = self._locate(request)
        trace.attributes["bsc.partition_hash"] = partition_hash(partition)
        if self._tracing is not None and self._tracing.record_prompts and query is not None:
            trace.attributes["bsc.query"] = query
        # An unseen context has nothing to find: skip the embedding, the write computes it.
        if not self.core.has_partition(partition):
            self._missed(trace)
            return None
        return _Pending(request.exact_key, partition, query)

    def _search(
        self, pending: _Pending, vector: npt.NDArray[np.float32], trace: RequestTrace
    ) -> Hit[A] | _Candidate[A] | None:
        start = time.perf_counter_ns()
        found = self.core.get(vector, partition=pending.partition)
        self._timed(trace, "search", start)
        if found is None:
            self._missed(trace)
            return None
        decoded = self._decode(found.response)
        stored_query, expires_at, answer = decoded.query, decoded.expires_at, decoded.answer
        if stored_query == pending.query:
            # The same question (or the same exact-only prompt): keep it for the next repeat.
            self.exact_tier.put(
                pending.key,
                _Remembered(answer, pending.partition, pending.query, expires_at, found.id),
            )
            return self._served(Hit(answer, 1.0, "exact", entry_id=found.id), trace)
        similarity = float(found.similarity)
        trace.attributes["bsc.similarity"] = similarity
        if pending.query is None or stored_query is None:
            return self._served(Hit(answer, similarity, "semantic", entry_id=found.id), trace)
        if self._guards is not None:
            refusal = self._guards.refusal(pending.query, stored_query)
            if refusal is not None:
                check, why = refusal
                self._refuse(f"guard:{check}", why, pending.query, stored_query, trace)
                return None
        if self._verifier is None:
            # Near an answer reported wrong, the bar rises (each report quarters the gap to 1).
            bar = 1.0 - self._reports.max_wrong_rate(vector, 1.0 - self.core.similarity_threshold)
            if similarity < bar:
                why = f"similarity {similarity:.3f} below {bar:.3f} near a reported wrong answer"
                self._refuse("reported", why, pending.query, stored_query, trace)
                return None
            return self._semantic(
                Hit(answer, similarity, "semantic", entry_id=found.id), vector, trace
            )
        return _Candidate(answer, similarity, stored_query, pending.query, vector, found.id)

    def _verifier_or_fail(self) -> Verifier:
        if self._verifier is None:  # _search hands out candidates only with a verifier
            msg = "a candidate to verify without a verifier"
            raise RuntimeError(msg)
        return self._verifier

    def _verified(
        self, candidate: _Candidate[A], score: float, start: int, trace: RequestTrace
    ) -> Hit[A] | None:
        self._timed(trace, "verify", start)
        self._verdicts.put((candidate.stored_query, candidate.query), score)
        trace.attributes["bsc.verifier_score"] = score
        if self._max_wrong_rate is not None:
            delta = self._reports.max_wrong_rate(candidate.vector, self._max_wrong_rate)
            if not within_bound(score, delta):
                why = f"chance of a wrong answer {1 - score:.3f} above the bound {delta:.4f}"
                self._refuse("bound", why, candidate.query, candidate.stored_query, trace)
                return None
        else:
            cutoff = 1.0 - self._reports.max_wrong_rate(
                candidate.vector, 1.0 - self._min_verifier_score
            )
            if score < cutoff:
                why = f"verifier score {score:.3f} below {cutoff:.3f}"
                self._refuse("verifier", why, candidate.query, candidate.stored_query, trace)
                return None
        hit = Hit(
            candidate.answer, candidate.similarity, "semantic", score, entry_id=candidate.entry_id
        )
        return self._semantic(hit, candidate.vector, trace)

    def _semantic(
        self, hit: Hit[A], vector: npt.NDArray[np.float32], trace: RequestTrace
    ) -> Hit[A]:
        # Remembered so report_wrong() can tighten the bound around this question.
        if hit.entry_id is not None:
            self._served_vectors.put(hit.entry_id, vector)
        return self._served(hit, trace)

    def report_wrong(self, marks: Mapping[str, Any]) -> bool:
        """Say the answer a hit served was wrong, from the hit's metadata (``marks``): its entry
        is deleted, and later semantic hits near the question it was served for must clear a
        higher bar. Returns whether the entry was still stored.

        Raises:
            ValueError: ``marks`` are not a hit's (no ``cache_entry``).
        """
        entry = marks.get("cache_entry")
        if isinstance(entry, bool) or not isinstance(entry, int):
            msg = f"expected a cache hit's metadata with an int cache_entry, got {dict(marks)!r}"
            raise ValueError(msg)
        vector = self._served_vectors.get(entry)
        if vector is not None:
            self._reports.report(vector)
        self.exact_tier.remove_where(lambda _, remembered: remembered.core_id == entry)
        self._stats.add("reported_wrong")
        return bool(self.core.delete(entry))

    def _decode(self, payload: str) -> _Decoded[A]:
        """(stored question, expiry, answer) of a payload; one that does not read raises."""
        # Keyed by the payload itself, not the entry id: the same text always decodes the same.
        decoded = self._decoded.get(payload)
        if decoded is not None:
            return decoded
        data = json.loads(payload)
        if not isinstance(data, dict) or data.get("v") != _PAYLOAD_VERSION:
            msg = f"expected a version {_PAYLOAD_VERSION} answer payload, got {payload[:80]!r}"
            raise ValueError(msg)
        decoded = _Decoded(data.get("q"), data.get("e"), self._decode_answer(data))
        self._decoded.put(payload, decoded)
        return decoded

    # -- decisions ------------------------------------------------------------------------

    def _served(self, hit: Hit[A], trace: RequestTrace | None) -> Hit[A]:
        usage = () if self._usage is None else self._usage(hit.answer)
        self._stats.hit(hit.tier, usage)
        if trace is not None:
            trace.attributes.update(
                {"bsc.hit": True, "bsc.tier": hit.tier, "bsc.similarity": hit.similarity}
            )
        return hit

    def _missed(self, trace: RequestTrace) -> None:
        self._stats.add("lookups", "misses")
        trace.attributes["bsc.hit"] = False

    def _refuse(
        self, reason: str, why: str, query: str, stored_query: str, trace: RequestTrace
    ) -> None:
        self._stats.refused(reason)
        trace.attributes.update({"bsc.hit": False, "bsc.refusal_reason": reason})
        # Once per pair: a refused question asked again is the same decision, not news.
        if self._explained.get((stored_query, query)) is None:
            self._explained.put((stored_query, query), True)
            self._logger.info(
                "semantic hit refused (%s): %r was not served the answer to %r: %s",
                reason,
                query,
                stored_query,
                why,
            )

    def _timed(self, trace: RequestTrace, stage: str, start: int) -> None:
        end = time.perf_counter_ns()
        trace.stages.append((stage, start, end))
        self._stats.timed(stage, (end - start) / 1e9)

    def _emit(self, operation: str, trace: RequestTrace) -> None:
        if self._tracing is not None:
            try:
                self._tracing.emit(operation, trace)
            except Exception as exc:
                self._failures.record("tracing", exc, treated_as="lost span")

    # -- write ----------------------------------------------------------------------------

    def store(self, request: Request, fields: Fields) -> None:
        """Store the answer whose adapter-side payload ``fields()`` builds; never raises."""
        self._run(self._store_steps(request, fields))

    async def astore(self, request: Request, fields: Fields) -> None:
        """Async :meth:`store`: the embedding (memoised by the lookup) runs off the loop."""
        await self._arun(self._store_steps(request, fields))

    @contextmanager
    def calling(self, request: Request | None) -> Iterator[None]:
        """Around an adapter's model call for ``request``: if it fails (or a stream is dropped),
        callers waiting for it go on to call the model themselves."""
        try:
            yield
        except BaseException:
            if request is not None:
                self.abandon(request)
            raise

    def abandon(self, request: Request) -> None:
        """Say that ``request``'s model call failed: callers waiting for it call the model."""
        self._flights.land(request.exact_key)

    def abandon_led(self) -> None:
        """:meth:`abandon` every request whose model call the current context makes."""
        self._flights.give_up_led()

    def _store_steps(self, request: Request, fields: Fields) -> Steps[None]:
        trace = RequestTrace()
        mode = request.mode or current_mode()
        try:
            if mode == "skip":
                return
            own_fields = fields()
            partition, query = self._locate(request)
            vector = self._exact_vector
            if query is not None:
                start = time.perf_counter_ns()
                try:
                    vector = yield _Embed(query)
                except InputTooLongError:
                    partition, query = exact_only_partition(partition, query), None
                self._timed(trace, "embed", start)
            if mode == "refresh":
                self._forget(partition, query, vector)
            self._put(request, partition, query, vector, own_fields, trace)
        except Exception as exc:
            self.write_failed(exc)
        finally:
            # Stored or not, whoever waits for this call looks up again now.
            self._flights.land(request.exact_key)
            self._emit("write", trace)

    def _forget(self, partition: str, query: str | None, vector: npt.NDArray[np.float32]) -> None:
        """Delete the answers stored for ``query`` in ``partition``: refresh() replaces them."""
        for found in self.core.search(vector, k=_REPLACED_AT_MOST, partition=partition):
            if self._decode(found.response).query == query:
                self.core.delete(found.id)
        self.exact_tier.remove_where(
            lambda _, entry: entry.partition == partition and entry.query == query
        )

    def _put(
        self,
        request: Request,
        partition: str,
        query: str | None,
        vector: npt.NDArray[np.float32],
        fields: Mapping[str, Any],
        trace: RequestTrace,
    ) -> None:
        expires_at = None if self._ttl_seconds is None else time.time() + self._ttl_seconds
        payload = json.dumps(
            {**fields, "v": _PAYLOAD_VERSION, "q": query, "e": expires_at}, ensure_ascii=False
        )
        # Decoding once here proves the payload reads back, and gives the exact tier the same
        # answer a later hit would build.
        answer = self._decode(payload).answer
        trace.attributes["bsc.partition_hash"] = partition_hash(partition)
        core_id = self.core.put(vector, payload, partition=partition)
        replaced, _ = self.exact_tier.put(
            request.exact_key, _Remembered(answer, partition, query, expires_at, core_id)
        )
        # The same prompt written twice (two concurrent misses) keeps one entry.
        if replaced is not None and replaced.core_id not in (None, core_id):
            self.core.delete(replaced.core_id)
        self._stats.add("writes")

    def write_failed(self, exc: BaseException) -> None:
        """Count and log a write that failed (also in the adapter); the answer is not stored."""
        self._stats.add("errors", "skipped_writes")
        self._failures.record("write", exc, treated_as="skipped write")


def _advance(steps: Steps[Any], reply: Any, error: Exception | None) -> tuple[bool, Any]:
    """Send ``reply`` (or throw ``error``) into ``steps``: (True, its outcome) when they are
    done, else (False, the next effect they ask for)."""
    try:
        return False, steps.send(reply) if error is None else steps.throw(error)
    except StopIteration as done:
        return True, done.value


def _check_rate(rate: object) -> None:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 < rate < 1.0:
        msg = f"max_wrong_rate must be a number in (0, 1), such as 0.02, got {rate!r}"
        raise ValueError(msg)


_OPTION_NAMES = sorted(CacheOptions.__annotations__)


def _check_arguments(
    similarity_threshold: float, max_entries: int, ttl_seconds: float | None, exact_tier_size: int
) -> None:
    """Raise a TypeError or ValueError naming the argument, what it must be and what came."""
    if isinstance(similarity_threshold, bool) or not isinstance(similarity_threshold, (int, float)):
        msg = f"similarity_threshold must be a number in [0, 1], got {similarity_threshold!r}"
        raise TypeError(msg)
    if not 0.0 <= similarity_threshold <= 1.0:
        msg = f"similarity_threshold must be within [0, 1], got {similarity_threshold}"
        raise ValueError(msg)
    for name, value in (("max_entries", max_entries), ("exact_tier_size", exact_tier_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            msg = f"{name} must be a positive int, got {value!r}"
            raise ValueError(msg)
    if ttl_seconds is not None and not (
        isinstance(ttl_seconds, (int, float)) and math.isfinite(ttl_seconds) and ttl_seconds > 0
    ):
        msg = f"ttl_seconds must be a positive number of seconds or None, got {ttl_seconds!r}"
        raise ValueError(msg)
