"""Prometheus metrics, served at GET /metrics.

Every label comes from a fixed set, so no client can grow the metrics (or, with several workers, the
multiprocess files on disk): the route is the matched route's template (``/tasks/{number}``) or
``unmatched``, the method one of ``METHODS`` or ``OTHER``, the status one the server itself chose.

Per process. With several uvicorn workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder before
start-up and every worker's figures are summed at scrape time (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.routing import compile_path

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
WECHAT_DUPLICATES = Counter(
    "planqa_wechat_duplicates_total", "WeChat retries of a message already claimed (answered once)", ["channel"]
)
RATE_LIMITED = Counter("planqa_rate_limited_total", "Requests refused with 429", ["by"])

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in METHODS else "OTHER"


class RouteLabels:
    """The route label of a request path: the template of the route it matches, else ``unmatched``.

    Built from the app's routes (so early refusals — 401, 413, 429 — are labelled like the route they were
    meant for), whatever the method, so a 405 is labelled too. Paths without parameters are one dict look-up.
    """

    def __init__(self, templates: Iterable[str]) -> None:
        self.exact: dict[str, str] = {}
        self.patterns: list[tuple[re.Pattern[str], str]] = []
        for template in templates:
            if "{" not in template:
                self.exact.setdefault(template, template)
            else:
                self.patterns.append((compile_path(template)[0], template))

    def __call__(self, path: str) -> str:
        label = self.exact.get(path)
        if label is not None:
            return label
        for pattern, template in self.patterns:
            if pattern.match(path):
                return template
        return UNMATCHED


class Recorder:
    """Counts a finished request. The labelled children are kept (their label sets are fixed), which saves
    prometheus-client's label look-up on every request."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, int], Counter] = {}
        self._latency: dict[str, Histogram] = {}
        self._answers: dict[tuple[str, str], Counter] = {}

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        counter = self._requests.get(key)
        if counter is None:
            counter = self._requests[key] = REQUESTS.labels(route, method, str(status))
        counter.inc()
        histogram = self._latency.get(route)
        if histogram is None:
            histogram = self._latency[route] = LATENCY.labels(route)
        histogram.observe(seconds)

    def answer(self, intent: object, found: object) -> None:
        key = (str(intent), str(found).lower())
        counter = self._answers.get(key)
        if counter is None:
            counter = self._answers[key] = ANSWERS.labels(*key)
        counter.inc()

    @staticmethod
    def rate_limited(by: str) -> None:
        RATE_LIMITED.labels(by).inc()


def observe_cache(service: AnsweringService) -> None:
    """Count the service's answer-cache look-ups (the library calls back; it knows nothing of Prometheus)."""
    hit, miss = CACHE.labels("hit"), CACHE.labels("miss")
    service.answer_cache.observer = lambda found: (hit if found else miss).inc()


def settled_files(folder: str | os.PathLike[str], kind: str = "*") -> list[Path]:
    """The multiprocess files of metric ``kind`` (``counter``, ``histogram``, …) in ``folder`` that can be read.

    A worker creates its file for a kind on the first metric of that kind, by opening it (0 bytes) and then
    growing it to its mapped size; a scrape that lands between the two would read a header that is not there
    and fail (prometheus-client raises ``struct.error``, so /metrics would answer 500). A file only grows, so one
    with any bytes has its header (zeros until its first value: read as empty), and an empty one is left for the
    next scrape. A file removed meanwhile (a dead worker's live gauge) is skipped.
    """
    files = []
    for path in sorted(Path(folder).glob(f"{kind}_*.db")):
        try:
            if path.stat().st_size > 0:
                files.append(path)
        except FileNotFoundError:
            continue
    return files


class SettledCollector(MultiProcessCollector):
    """Every worker's figures, summed, from the files that are readable now (``settled_files``)."""

    def __init__(self, registry: CollectorRegistry, folder: str) -> None:
        self.folder = folder  # before registering: a registry may collect at once
        super().__init__(registry, path=folder)

    def collect(self) -> Iterable[Any]:
        return self.merge([str(f) for f in settled_files(self.folder)], accumulate=True)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        registry = CollectorRegistry()
        SettledCollector(registry, folder)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def route_templates(routes: Iterable[Any]) -> list[str]:
    """Every route's path template (``/tasks/{number}``), routers' prefixes included."""
    try:  # newer FastAPI keeps included routers as branches of the app's routes; this walks them
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI copies included routes, prefixed, into the app's list
        return [t for r in routes if isinstance(t := getattr(r, "path_format", None), str)]
    return [c.path_format for c in iter_route_contexts(list(routes)) if c.path_format]
