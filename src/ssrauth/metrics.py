"""Metrics for dashboards: ssrauth's events as Prometheus or OpenTelemetry series.

Every :class:`~ssrauth.Event` a :class:`~ssrauth.SessionManager` emits already carries a count;
this module maps each one, once, to a named series (:data:`SERIES`), and two thin faces record
them: :class:`PrometheusMetrics` (extra ``prometheus``: ``prometheus_client``) and
:class:`OpenTelemetryMetrics` (extra ``otel``: ``opentelemetry-api``). Both subscribe to the
manager's :class:`~ssrauth.Events` when made, so make them at startup, next to the manager::

    manager = SessionManager(config)
    PrometheusMetrics(manager.events)

Provider latency is one histogram (:data:`LATENCY`), fed by each timed provider call
(``Event.PROVIDER_CALL``), labelled by operation and outcome.

Labels carry only closed sets of values (an outcome), never a request's path, user or error text:
a label value per user or per message would grow a series per value without bound, the classic
way a metrics backend runs out of memory. The events' details stay in ssrauth's log lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._core.events import CALL_OUTCOMES, PROVIDER_OPERATIONS, Event, Events

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter as OtelCounter
    from opentelemetry.metrics import Histogram as OtelHistogram
    from opentelemetry.metrics import MeterProvider
    from prometheus_client import CollectorRegistry
    from prometheus_client import Counter as PromCounter

__all__ = ["LATENCY", "SERIES", "Histogram", "OpenTelemetryMetrics", "PrometheusMetrics",
           "Series"]


@dataclass(frozen=True, slots=True)
class Series:
    """One counter: its name without namespace or ``_total``, what it counts, and which events
    feed it, with the value each gives the series' one label (no label: ``label`` empty)."""

    name: str
    description: str
    events: Mapping[Event, str]
    label: str = ""


def _one(event: Event) -> Mapping[Event, str]:
    return {event: ""}


#: Every counter, in dashboard order. Each event feeds exactly one of them, or :data:`LATENCY`.
SERIES: tuple[Series, ...] = (
    Series("refreshes", "Refresh outcomes: started (this process called the provider), "
           "succeeded (that call answered), coalesced (waited for another request's call: a "
           "coordinator wait), reused (a stored result from the grace window), rejected (the "
           "provider said no: session cleared)",
           {Event.REFRESH_STARTED: "started", Event.REFRESH_SUCCEEDED: "succeeded",
            Event.REFRESH_COALESCED: "coalesced", Event.REFRESH_REUSED: "reused",
            Event.REFRESH_REJECTED: "rejected"}, label="outcome"),
    Series("provider_unavailable", "Provider or JWKS calls that failed (connect error, "
           "timeout, 5xx, throttling): cookies kept, require_user answers 503",
           _one(Event.PROVIDER_UNAVAILABLE)),
    Series("store_fallbacks", "Shared coordinator store failures: refreshes coordinated "
           "in-process meanwhile", _one(Event.STORE_UNAVAILABLE)),
    Series("duplicates_seen", "Duplicate auth cookies requests carried (the response's cookie "
           "plan deletes the extra copies)", _one(Event.DUPLICATES_SEEN)),
    Series("cookies_deleted", "Deletion Set-Cookie lines sent (one per path and domain a copy "
           "may live on)", _one(Event.COOKIES_DELETED)),
    Series("cookies_written", "Auth cookies written", _one(Event.COOKIES_WRITTEN)),
    Series("set_cookie_capped", "Deletions left out of a response by the Set-Cookie cap (sent "
           "on a later response)", _one(Event.SET_COOKIE_CAPPED)),
    Series("tokens_invalid", "Requests carrying a token that failed verification",
           _one(Event.TOKEN_INVALID)),
    Series("bad_requests", "Unreadable or oversized cookie input, served as anonymous",
           _one(Event.BAD_REQUEST)),
    Series("sign_ins", "Successful sign-ins", _one(Event.SIGNED_IN)),
    Series("sign_outs", "Sign-outs", _one(Event.SIGNED_OUT)),
    Series("jwks_fetches", "JWKS fetches", _one(Event.JWKS_FETCHED)),
    Series("insecure_origins", "Hosts first reached over plain http while the cookies are "
           "Secure: browsers drop them there (logged once per host)",
           _one(Event.INSECURE_ORIGIN)),
)

_SERIES_OF: dict[Event, Series] = {
    event: series for series in SERIES for event in series.events
}


@dataclass(frozen=True, slots=True)
class Histogram:
    """One histogram: its name without namespace, what it measures, the event whose
    ``seconds`` detail it observes, its labels (details with closed sets of values) and its
    bucket bounds in seconds."""

    name: str
    description: str
    event: Event
    labels: tuple[str, ...]
    buckets: tuple[float, ...]

    def label_values(self, details: Mapping[str, Any]) -> tuple[str, ...]:
        """The event's label values, each from its closed set (anything else: ``other``), so
        a provider of one's own that emits odd values cannot grow the series."""
        return tuple(str(details.get(label)) if details.get(label) in _ALLOWED[label]
                     else "other" for label in self.labels)


_ALLOWED: dict[str, tuple[str, ...]] = {"operation": PROVIDER_OPERATIONS,
                                        "outcome": CALL_OUTCOMES}

#: Provider call latency. Buckets from 10 ms (a provider in the same region answers a refresh
#: in tens of milliseconds) to 10 s (twice the default 5 s timeout, so timed-out calls land in
#: the last finite bucket rather than only in ``+Inf``).
LATENCY = Histogram(
    "provider_call_seconds",
    "Provider call latency in seconds (refresh, sign-in, code exchange, revocation, global "
    "sign-out), by operation and outcome (ok, rejected, unavailable, error)",
    Event.PROVIDER_CALL, ("operation", "outcome"),
    (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class PrometheusMetrics:
    """Counters in a ``prometheus_client`` registry (the default one unless given), named
    ``<namespace>_<series>_total``. Serve them with the registry's usual exposition
    (``prometheus_client.make_asgi_app``, ``make_wsgi_app`` or ``start_http_server``)."""

    def __init__(
        self,
        events: Events,
        *,
        registry: CollectorRegistry | None = None,
        namespace: str = "ssrauth",
    ) -> None:
        from prometheus_client import REGISTRY, Counter
        from prometheus_client import Histogram as PromHistogram

        self._latency = PromHistogram(f"{namespace}_{LATENCY.name}", LATENCY.description,
                                      LATENCY.labels, buckets=LATENCY.buckets,
                                      registry=registry or REGISTRY)
        self._counters: dict[str, PromCounter] = {}
        for series in SERIES:
            counter = Counter(f"{namespace}_{series.name}", series.description,
                              (series.label,) if series.label else (),
                              registry=registry or REGISTRY)
            if series.label:
                for value in series.events.values():
                    counter.labels(value)  # every outcome shows, at 0, before it happens
            self._counters[series.name] = counter
        events.subscribe(self.record)

    def record(self, event: Event, count: int, details: Mapping[str, Any]) -> None:
        """An :class:`Events` listener: add ``count`` to the event's series; a timed
        provider call goes to the latency histogram."""
        if event is LATENCY.event:
            self._latency.labels(*LATENCY.label_values(details)).observe(details["seconds"])
            return
        # Other details are unbounded values (paths, users, messages): for logs, not labels.
        series = _SERIES_OF[event]
        counter = self._counters[series.name]
        (counter.labels(series.events[event]) if series.label else counter).inc(count)


class OpenTelemetryMetrics:
    """Counters on an OpenTelemetry meter (the global meter provider unless given), named
    ``<namespace>.<series>``; an OTLP or Prometheus exporter configured in the SDK ships them."""

    def __init__(
        self,
        events: Events,
        *,
        meter_provider: MeterProvider | None = None,
        namespace: str = "ssrauth",
    ) -> None:
        from opentelemetry import metrics

        meter = (meter_provider or metrics.get_meter_provider()).get_meter("ssrauth")
        self._latency: OtelHistogram = meter.create_histogram(
            f"{namespace}.{LATENCY.name}", unit="s", description=LATENCY.description,
            explicit_bucket_boundaries_advisory=LATENCY.buckets)
        self._counters: dict[str, OtelCounter] = {
            series.name: meter.create_counter(f"{namespace}.{series.name}",
                                              description=series.description)
            for series in SERIES
        }
        events.subscribe(self.record)

    def record(self, event: Event, count: int, details: Mapping[str, Any]) -> None:
        """An :class:`Events` listener: add ``count`` to the event's series; a timed
        provider call goes to the latency histogram."""
        if event is LATENCY.event:
            values = LATENCY.label_values(details)
            self._latency.record(details["seconds"], dict(zip(LATENCY.labels, values,
                                                              strict=True)))
            return
        # Other details are unbounded values (paths, users, messages): for logs, not attributes.
        series = _SERIES_OF[event]
        attributes = {series.label: series.events[event]} if series.label else None
        self._counters[series.name].add(count, attributes)
