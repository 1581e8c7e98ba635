"""Prometheus metrics of a cache, read from its :class:`~binary_semantic_cache.stats.CacheStats`.

A collector reads ``stats()`` when Prometheus scrapes, so the hot path pays nothing for it.
Needs the ``prometheus-client`` package (``pip install "bsc-cache[prometheus]"``).

Example:
    .. code-block:: python

        from binary_semantic_cache.prometheus import register, serve_metrics

        cache = BinarySemanticLLMCache()
        serve_metrics(cache, port=9464)  # http://127.0.0.1:9464/metrics
        # or, beside your own metrics: register(cache), then mount
        # prometheus_client.make_asgi_app() / make_wsgi_app() in your web app
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from binary_semantic_cache.stats import CacheStats

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

__all__ = ["StatsCollector", "register", "serve_metrics"]


class HasStats(Protocol):
    """A front door: anything whose ``stats()`` is a :class:`CacheStats`."""

    def stats(self) -> CacheStats: ...


def _client() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:
        msg = 'metrics need the prometheus-client package: pip install "bsc-cache[prometheus]"'
        raise ImportError(msg) from exc
    return prometheus_client


class StatsCollector:
    """Yields a cache's counters and stage histograms, labelled ``cache=<name>``.

    Metrics: ``bsc_cache_lookups_total``, ``bsc_cache_hits_total{tier}``,
    ``bsc_cache_misses_total``, ``bsc_cache_refusals_total{reason}``, ``bsc_cache_writes_total``,
    ``bsc_cache_errors_total``, ``bsc_cache_skipped_writes_total``,
    ``bsc_cache_tokens_saved_total{kind="input"|"output"}``, ``bsc_cache_cost_saved_total``
    and the histogram ``bsc_cache_stage_seconds{stage="embed"|"search"|"verify"}``.
    """

    def __init__(self, cache: HasStats, name: str = "default") -> None:
        self._cache = cache
        self._name = name
        self._families = _client().metrics_core

    def describe(self) -> list[Any]:
        # Without it the registry calls collect() at registration, before any traffic.
        return []

    def collect(self) -> Iterator[Any]:
        """The metrics of the cache as it is now."""
        stats = self._cache.stats()
        families = self._families
        name = self._name

        def counter(metric: str, doc: str, label: str | None = None) -> Any:
            return families.CounterMetricFamily(
                f"bsc_cache_{metric}", doc, labels=["cache"] if label is None else ["cache", label]
            )

        plain = (
            ("lookups", "Lookups answered or missed", stats.lookups),
            ("misses", "Lookups that went on to the model", stats.misses),
            ("writes", "Answers stored", stats.writes),
            (
                "errors",
                "Failures inside the cache, served as misses or skipped writes",
                stats.errors,
            ),
            ("skipped_writes", "Answers that could not be stored", stats.skipped_writes),
            ("cost_saved", "Estimated cost of the model calls hits saved", stats.cost_saved),
        )
        for metric, doc, value in plain:
            family = counter(metric, doc)
            family.add_metric([name], value)
            yield family
        hits = counter("hits", "Lookups answered from the cache, by tier", "tier")
        hits.add_metric([name, "exact"], stats.exact_hits)
        hits.add_metric([name, "semantic"], stats.semantic_hits)
        yield hits
        refusals = counter("refusals", "Semantic matches refused, by reason", "reason")
        for reason, count in sorted(stats.refusals.items()):
            refusals.add_metric([name, reason], count)
        yield refusals
        tokens = counter("tokens_saved", "Model tokens hits saved", "kind")
        tokens.add_metric([name, "input"], stats.input_tokens_saved)
        tokens.add_metric([name, "output"], stats.output_tokens_saved)
        yield tokens
        stages = families.HistogramMetricFamily(
            "bsc_cache_stage_seconds", "Time of a request's stage", labels=["cache", "stage"]
        )
        for stage, histogram in sorted(stats.latency.items()):
            buckets = [
                ("+Inf" if math.isinf(bound) else repr(bound), seen)
                for bound, seen in histogram.cumulative()
            ]
            stages.add_metric([name, stage], buckets, histogram.total_seconds)
        yield stages


def register(
    cache: HasStats, *, name: str = "default", registry: CollectorRegistry | None = None
) -> StatsCollector:
    """Add ``cache``'s metrics to ``registry`` (default: prometheus-client's global one)."""
    collector = StatsCollector(cache, name)
    (_client().REGISTRY if registry is None else registry).register(collector)
    return collector


def serve_metrics(
    cache: HasStats, *, port: int = 9464, addr: str = "127.0.0.1", name: str = "default"
) -> Any:
    """Serve ``cache``'s metrics (only them) at ``http://addr:port/metrics`` from a thread.

    Returns the server (``shutdown()`` stops it).
    """
    client = _client()
    registry = client.CollectorRegistry()
    register(cache, name=name, registry=registry)
    server, _thread = client.start_http_server(port, addr=addr, registry=registry)
    return server
