"""The server's own Prometheus metrics, next to the streams' (``streamrt.observe.metrics``) at ``/metrics``.

Read at scrape time from what the service already counts, as the stream metrics are: open subscriptions, events
logged, streams and clients known to the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from streamrt.serve.eventlog import EventLog
from streamrt.serve.limits import Budget

__all__ = ["Counted", "ServeMetrics"]


class Counted(Protocol):
    """What the metrics read of the service (:class:`~streamrt.serve.engine.StreamService`): its event log (which
    the service may swap for a durable one as it opens) and its subscriber budget."""

    @property
    def log(self) -> EventLog: ...
    @property
    def budget(self) -> Budget: ...


class ServeMetrics(Collector):
    """``streamrt_serve_*``: subscribers, events logged, streams in the log, clients with streams."""

    def __init__(self, service: Counted) -> None:
        self._service = service

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        service = self._service
        log = service.log
        stats = log.stats()
        owners = log.owners()
        subscribers = GaugeMetricFamily("streamrt_serve_subscribers", "Open event streams and WebSockets")
        subscribers.add_metric([], service.budget.total_subscribers())
        yield subscribers
        logged = CounterMetricFamily("streamrt_serve_events_logged", "Events appended to the event log")
        logged.add_metric([], stats["appended"])
        yield logged
        held = GaugeMetricFamily("streamrt_serve_events_held", "Events held in memory by the event log")
        held.add_metric([], stats["held"])
        yield held
        streams = GaugeMetricFamily("streamrt_serve_streams", "Streams the server keeps for its clients")
        streams.add_metric([], len(owners))
        yield streams
        clients = GaugeMetricFamily("streamrt_serve_clients", "Clients with at least one stream")
        clients.add_metric([], len({o.client for o in owners.values()}))
        yield clients
