"""Prometheus metrics, served at GET /metrics.

Per process. With several uvicorn workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder before
start-up and every worker's figures are summed at scrape time (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from rag.service import AnsweringService

REQUESTS = Counter("planqa_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram(
    "planqa_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ANSWERS = Counter(
    "planqa_answers_total", "Answers given, by intent and whether the plan covered them", ["intent", "found"]
)
CACHE = Counter("planqa_answer_cache_total", "Answer cache look-ups", ["result"])
WECHAT_DELIVERIES = Counter(
    "planqa_wechat_deliveries_total", "WeChat answers by how they reached the user", ["channel", "path"]
)
RATE_LIMITED = Counter("planqa_rate_limited_total", "Requests refused with 429", ["by"])


def observe_cache(service: AnsweringService) -> None:
    """Count the service's answer-cache look-ups (the library calls back; it knows nothing of Prometheus)."""
    service.answer_cache.observer = lambda hit: CACHE.labels("hit" if hit else "miss").inc()


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, method, str(status)).inc()
    LATENCY.labels(route).observe(seconds)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
