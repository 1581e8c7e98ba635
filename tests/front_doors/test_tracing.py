"""OpenTelemetry spans of each front door, read back with the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.front_doors.conftest import FrontDoor

STORED, PARAPHRASE = "How do I reset my password?", "How can I reset my password?"
OTHER_YEARS = ("Best laptops under $500 in 2023", "Best laptops under $500 in 2024")


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def lookups(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == "bsc.lookup"]


def children(exporter: InMemorySpanExporter, parent: ReadableSpan) -> list[str]:
    return sorted(
        s.name
        for s in exporter.get_finished_spans()
        if s.parent is not None and s.parent.span_id == parent.context.span_id
    )


def test_a_hit_and_a_refusal_have_spans_with_their_decision(
    front_door: Callable[..., FrontDoor], provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    door = front_door(tracing=provider.get_tracer("test"))
    door.ask(STORED)
    door.ask(PARAPHRASE)  # semantic hit
    door.ask(OTHER_YEARS[0])
    door.ask(OTHER_YEARS[1])  # refused by the dates guard
    first, hit, _, refused = lookups(exporter)
    assert first.attributes is not None and first.attributes["bsc.hit"] is False
    assert hit.attributes is not None and refused.attributes is not None
    assert hit.attributes["bsc.hit"] is True
    assert hit.attributes["bsc.tier"] == "semantic"
    assert 0.9 < float(hit.attributes["bsc.similarity"]) <= 1.0  # type: ignore[arg-type]
    assert refused.attributes["bsc.hit"] is False
    assert refused.attributes["bsc.refusal_reason"] == "guard:dates"
    assert len(str(refused.attributes["bsc.partition_hash"])) == 16
    assert children(exporter, hit) == ["bsc.embed", "bsc.search"]
    assert children(exporter, first) == []  # an unseen context: nothing embedded or searched
    writes = [s for s in exporter.get_finished_spans() if s.name == "bsc.write"]
    assert len(writes) == 3
    for span in exporter.get_finished_spans():
        assert span.start_time is not None and span.end_time is not None
        assert span.start_time <= span.end_time
        values = " ".join(str(v) for v in (span.attributes or {}).values())
        assert "password" not in values and "laptops" not in values, span.name


def test_prompt_text_only_when_asked_for(
    front_door: Callable[..., FrontDoor], provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    door = front_door(tracing=provider.get_tracer("test"), trace_prompts=True)
    door.ask(STORED)
    door.ask(PARAPHRASE)
    hit = lookups(exporter)[-1]
    assert hit.attributes is not None and hit.attributes["bsc.query"] == PARAPHRASE


def test_no_spans_unless_tracing_is_on(
    front_door: Callable[..., FrontDoor], exporter: InMemorySpanExporter
) -> None:
    door = front_door()
    door.ask(STORED)
    door.ask(PARAPHRASE)
    assert exporter.get_finished_spans() == ()


def test_tracing_must_be_a_bool_or_a_tracer(front_door: Callable[..., FrontDoor]) -> None:
    with pytest.raises(TypeError, match="tracing must be a bool or an OpenTelemetry Tracer"):
        front_door(tracing="yes")
