"""ssrauth.metrics: docs/metrics.md's Prometheus and OpenTelemetry examples, run as written,
against the emulator: one sign-in and one refresh show up in both."""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics.export import HistogramDataPoint

from ssrauth import Event, Events, ProviderRejected, SessionManager
from ssrauth.metrics import LATENCY, SERIES, PrometheusMetrics
from tests.accounts import HOST as APP_HOST
from tests.accounts import PASSWORD
from tests.browser_jar import BrowserJar

pytestmark = pytest.mark.anyio

DOC = (Path(__file__).resolve().parents[1] / "docs" / "metrics.md").read_text(encoding="utf-8")
HOST = "127.0.0.1"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.S)


@pytest.fixture
def example() -> Iterator[types.ModuleType]:
    """Both python blocks of the doc, in order, in one module (the second continues the first)."""
    module = types.ModuleType("metrics_example")
    for number, source in enumerate(blocks("python")):
        exec(compile(source, f"docs/metrics.md:block{number}", "exec"), module.__dict__)
    yield module
    module.emulator.stop()


def sign_in_then_refresh(example: types.ModuleType) -> None:
    manager, jar = example.manager, BrowserJar(HOST)
    auth = manager.load("", "/", HOST)
    auth.sign_in("alice@example.com", "Passw0rd!x")
    jar.apply(auth.set_cookie_headers())
    example.emulator.clock.advance(3600)
    refreshed = manager.load(jar.cookie_header("/orders"), "/orders", HOST)
    assert refreshed.is_authenticated
    jar.apply(refreshed.set_cookie_headers(), "/orders")


async def test_the_prometheus_example_serves_the_series_the_doc_shows(
    example: types.ModuleType,
) -> None:
    sign_in_then_refresh(example)

    transport = httpx.ASGITransport(app=example.app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as client:
        scraped = await client.get("/metrics/")

    assert scraped.status_code == 200
    shown = [line for line in blocks("text")[0].splitlines() if line]
    assert shown
    assert [line for line in shown if line not in scraped.text.splitlines()] == []
    assert example.emulator.refresh_calls() == 1


def otel_points(example: types.ModuleType) -> dict[tuple[str, tuple[Any, ...]], int]:
    data = example.reader.get_metrics_data()
    points: dict[tuple[str, tuple[Any, ...]], int] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    key = (metric.name, tuple(sorted(point.attributes.items())))
                    points[key] = (point.count if isinstance(point, HistogramDataPoint)
                                   else point.value)
    return points


def test_the_opentelemetry_example_counts_the_same_events(example: types.ModuleType) -> None:
    sign_in_then_refresh(example)

    points = otel_points(example)

    assert points[("ssrauth.refreshes", (("outcome", "started"),))] == 1
    assert points[("ssrauth.refreshes", (("outcome", "succeeded"),))] == 1
    assert points[("ssrauth.sign_ins", ())] == 1
    for operation in ("sign_in", "refresh"):
        latency = points[("ssrauth.provider_call_seconds",
                          (("operation", operation), ("outcome", "ok")))]
        assert latency == 1
    snapshot = example.manager.events.snapshot()
    assert points[("ssrauth.cookies_written", ())] == snapshot["cookies_written"]
    assert points[("ssrauth.cookies_deleted", ())] == snapshot["cookies_deleted"] > 0


def test_every_event_feeds_exactly_one_series() -> None:
    fed = [event for series in SERIES for event in series.events] + [LATENCY.event]
    assert sorted(fed, key=str) == sorted(Event, key=str)


def test_counts_and_labels_come_from_the_event_never_from_its_details() -> None:
    from prometheus_client import CollectorRegistry

    events, registry = Events(), CollectorRegistry()
    PrometheusMetrics(events, registry=registry, namespace="app_auth")
    events.emit(Event.DUPLICATES_SEEN, 3, path="/orders/42")
    events.emit(Event.REFRESH_REJECTED, reason="NotAuthorizedException: Refresh Token revoked")

    assert registry.get_sample_value("app_auth_duplicates_seen_total") == 3
    assert registry.get_sample_value("app_auth_refreshes_total", {"outcome": "rejected"}) == 1
    labelled = {sample.labels.get("outcome") for metric in registry.collect()
                for sample in metric.samples}
    assert labelled <= {None, "started", "succeeded", "coalesced", "reused", "rejected"}


def test_each_provider_call_is_timed_with_its_operation_and_outcome(
    manager: SessionManager,
) -> None:
    calls: list[tuple[str, str, float]] = []
    manager.events.subscribe(lambda event, count, details: calls.append(
        (details["operation"], details["outcome"], details["seconds"]))
        if event is Event.PROVIDER_CALL else None)

    with pytest.raises(ProviderRejected):
        manager.load("", "/", APP_HOST).sign_in("alice", "not-" + PASSWORD)
    auth = manager.load("", "/", APP_HOST)
    auth.sign_in("alice", PASSWORD)
    auth.sign_out()
    auth.set_cookie_headers()

    assert [(operation, outcome) for operation, outcome, _ in calls] == [
        ("sign_in", "rejected"), ("sign_in", "ok"), ("revoke", "ok")]
    assert all(seconds >= 0 for _, _, seconds in calls)
    assert manager.events.count(Event.PROVIDER_CALL) == 3


def test_the_latency_histogram_keeps_its_labels_to_closed_sets() -> None:
    from prometheus_client import CollectorRegistry

    events, registry = Events(), CollectorRegistry()
    PrometheusMetrics(events, registry=registry)
    events.emit(Event.PROVIDER_CALL, operation="refresh", outcome="unavailable", seconds=7.5)
    events.emit(Event.PROVIDER_CALL, operation="/users/42", outcome="boom", seconds=0.02)

    def sample(name: str, operation: str, outcome: str, **more: str) -> float | None:
        labels = {"operation": operation, "outcome": outcome, **more}
        return registry.get_sample_value(f"ssrauth_provider_call_seconds_{name}", labels)

    assert sample("count", "refresh", "unavailable") == 1
    assert sample("bucket", "refresh", "unavailable", le="5.0") == 0
    assert sample("bucket", "refresh", "unavailable", le="10.0") == 1
    assert sample("count", "other", "other") == 1
