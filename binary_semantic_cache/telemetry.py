"""OpenTelemetry spans for the request engine: optional, and free when off.

The engine times its stages for the stats in any case; with tracing on, those same timings
become a span per lookup or write with a child span per stage, written after the request (with
their measured start and end times), so a lookup pays nothing for tracing until it is asked for.
Needs the ``opentelemetry-api`` package (``pip install "bsc-cache[otel]"``) and, to export, an
SDK the application sets up.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RequestTrace", "Tracing", "resolve_tracing"]

# perf_counter_ns is monotonic and cheap; this turns its readings into the epoch times spans want.
_EPOCH_OFFSET_NS = time.time_ns() - time.perf_counter_ns()


@dataclass(slots=True)
class RequestTrace:
    """What one request did: when, its stages' (name, start, end) in ``perf_counter_ns`` time,
    and what it decided (span attributes)."""

    start_ns: int = field(default_factory=time.perf_counter_ns)
    stages: list[tuple[str, int, int]] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)


def partition_hash(partition: str) -> str:
    """A short digest naming a partition in spans without revealing its contents."""
    return hashlib.blake2b(partition.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


class Tracing:
    """Writes a request's trace as OpenTelemetry spans: ``bsc.lookup`` or ``bsc.write`` with
    children ``bsc.embed``, ``bsc.search``, ``bsc.verify``; attributes ``bsc.hit``,
    ``bsc.tier``, ``bsc.similarity``, ``bsc.refusal_reason``, ``bsc.partition_hash``, and
    ``bsc.query`` only with ``record_prompts``.
    """

    def __init__(self, tracer: Any, *, record_prompts: bool = False) -> None:
        from opentelemetry import trace

        self._tracer = tracer
        self._in_context = trace.set_span_in_context
        self.record_prompts = record_prompts

    def emit(self, operation: str, request: RequestTrace) -> None:
        """Write the spans of one finished request."""
        end_ns = time.perf_counter_ns()
        parent = self._tracer.start_span(
            f"bsc.{operation}",
            start_time=request.start_ns + _EPOCH_OFFSET_NS,
            attributes=request.attributes,
        )
        context = self._in_context(parent) if request.stages else None
        for stage, start, end in request.stages:
            child = self._tracer.start_span(
                f"bsc.{stage}", context=context, start_time=start + _EPOCH_OFFSET_NS
            )
            child.end(end_time=end + _EPOCH_OFFSET_NS)
        parent.end(end_time=end_ns + _EPOCH_OFFSET_NS)


def resolve_tracing(tracing: bool | Any, *, record_prompts: bool = False) -> Tracing | None:
    """``None`` for ``False``; for ``True`` the global tracer provider's ``bsc-cache`` tracer;
    or the OpenTelemetry ``Tracer`` given.

    Raises:
        ImportError: tracing was asked for and ``opentelemetry-api`` is not installed.
    """
    if tracing is False or tracing is None:
        return None
    try:
        from opentelemetry import trace
    except ImportError as exc:
        msg = 'tracing needs the opentelemetry-api package: pip install "bsc-cache[otel]"'
        raise ImportError(msg) from exc
    tracer = trace.get_tracer("bsc-cache") if tracing is True else tracing
    if not hasattr(tracer, "start_span"):
        msg = f"tracing must be a bool or an OpenTelemetry Tracer, got {type(tracing).__name__}"
        raise TypeError(msg)
    return Tracing(tracer, record_prompts=record_prompts)
