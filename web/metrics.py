"""``GET /metrics``: the fleet's numbers in Prometheus' text format
(prometheus-client), read from the store at each scrape
(``store.queries.metrics``), so every process of the fleet, on any host, is
counted and nothing is kept in the app between scrapes.

Prometheus scrapes with an ops or admin person's API token
(``fleet users token NAME``; ``authorization: {credentials: ...}`` in its
scrape config) or a signed-in ops session; others get 401 or 403.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from store.queries.metrics import FleetMetrics, fleet_metrics
from web.auth import principal
from web.config import WebConfig
from web.problems import Problem, forbidden

router = APIRouter(include_in_schema=False)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StoreCollector(Collector):
    """The store's figures as metric families, one read per scrape."""

    def __init__(self, config: WebConfig) -> None:
        self.config = config

    def collect(self) -> Iterator[Metric]:
        with self.config.db() as s:
            m = fleet_metrics(s)
        yield from families(m)


def families(m: FleetMetrics) -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "fleet_bot_runs", "Bot runs stored, by portal, task and outcome.",
        labels=["portal", "task", "outcome"],
    )  # fmt: skip
    for (portal, task, outcome), n in sorted(m.runs.items()):
        runs.add_metric([portal, task, outcome], n)
    yield runs
    failures = CounterMetricFamily(
        "fleet_bot_failures", "Failed bot runs, by portal and failure class.",
        labels=["portal", "error_class"],
    )  # fmt: skip
    for (portal, error_class), n in sorted(m.failures.items()):
        failures.add_metric([portal, error_class], n)
    yield failures
    running = GaugeMetricFamily(
        "fleet_bot_runs_in_progress", "Runs in progress, by portal.", labels=["portal"]
    )
    for portal, n in sorted(m.running.items()):
        running.add_metric([portal], n)
    yield running
    documents = GaugeMetricFamily(
        "fleet_documents_linked", "Documents retrieved and linked, by role.", labels=["role"]
    )
    for role, n in sorted(m.documents.items()):
        documents.add_metric([role], n)
    yield documents
    yield GaugeMetricFamily(
        "fleet_documents_stored", "Distinct documents in the vault.", value=m.documents_total
    )
    queue = GaugeMetricFamily(
        "fleet_ondemand_queue_depth", "On-demand requests queued or running.", labels=["status"]
    )
    for status, n in sorted(m.queue.items()):
        queue.add_metric([status], n)
    yield queue
    yield GaugeMetricFamily(
        "fleet_needs_human_open", "Items a person must resolve (CAPTCHA, locked account...).",
        value=m.needs_human,
    )  # fmt: skip
    last = GaugeMetricFamily(
        "fleet_account_last_success_timestamp_seconds",
        "Unix time of the account's last successful run.",
        labels=["portal", "account"],
    )
    for (portal, account), at in sorted(m.last_success.items()):
        last.add_metric([portal, account], at)
    yield last
    enabled = GaugeMetricFamily(
        "fleet_account_enabled", "1 while the account runs, 0 when disabled.",
        labels=["portal", "account"],
    )  # fmt: skip
    for (portal, account), on in sorted(m.accounts_enabled.items()):
        enabled.add_metric([portal, account], 1 if on else 0)
    yield enabled
    latency = HistogramMetricFamily(
        "fleet_ondemand_latency_seconds",
        "From an analyst's request to its end, requests finished in the last 7 days.",
    )
    latency.add_metric(
        [],
        buckets=[(_bound(b), n) for b, n in m.latency_buckets],
        sum_value=m.latency_sum,
    )
    yield latency


def _bound(b: float) -> str:
    return "+Inf" if b == float("inf") else repr(b)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    who = principal(request)
    if who is None:
        raise Problem(401, "Not signed in", "send an ops person's bearer token")
    if not who.may("metrics"):
        raise forbidden("metrics")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(request.app.state.config))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE)


__all__ = ["StoreCollector", "families", "router"]
