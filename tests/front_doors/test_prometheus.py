"""Prometheus exposition of each front door's stats, scraped after a small workload."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from binary_semantic_cache.prometheus import register, serve_metrics
from tests.front_doors.conftest import FrontDoor

WORKLOAD = (
    "How do I reset my password?",
    "How do I reset my password?",
    "How can I reset my password?",
    "Best laptops under $500 in 2023",
    "Best laptops under $500 in 2024",
)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_scrape_has_the_counters_and_histograms(
    front_door: Callable[..., FrontDoor],
) -> None:
    door = front_door()
    registry = CollectorRegistry()
    register(door.cache, name="support", registry=registry)
    for question in WORKLOAD:
        door.ask(question)
    found = samples(generate_latest(registry).decode())
    cache = (("cache", "support"),)
    assert found[("bsc_cache_lookups_total", cache)] == 5
    assert found[("bsc_cache_hits_total", (*cache, ("tier", "exact")))] == 1
    assert found[("bsc_cache_hits_total", (*cache, ("tier", "semantic")))] == 1
    assert found[("bsc_cache_misses_total", cache)] == 3
    assert (
        found[("bsc_cache_refusals_total", (("cache", "support"), ("reason", "guard:dates")))] == 1
    )
    assert found[("bsc_cache_writes_total", cache)] == 3
    stats = door.stats()
    embed = (("cache", "support"), ("stage", "embed"))
    assert found[("bsc_cache_stage_seconds_count", embed)] == stats.latency["embed"].count
    assert (
        abs(found[("bsc_cache_stage_seconds_sum", embed)] - stats.latency["embed"].total_seconds)
        < 1e-9
    )
    inf = (("cache", "support"), ("le", "+Inf"), ("stage", "search"))
    assert found[("bsc_cache_stage_seconds_bucket", inf)] == stats.latency["search"].count
    # More traffic shows at the next scrape: the collector reads stats() then.
    door.ask("How do I reset my password?")
    assert samples(generate_latest(registry).decode())[("bsc_cache_lookups_total", cache)] == 6


def test_serve_metrics_answers_over_http(front_door: Callable[..., FrontDoor]) -> None:
    door = front_door()
    door.ask(WORKLOAD[0])
    server = serve_metrics(door.cache, port=0)
    try:
        port = server.server_port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert samples(text)[("bsc_cache_lookups_total", (("cache", "default"),))] == 1
    finally:
        server.shutdown()
        server.server_close()
