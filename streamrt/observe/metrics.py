"""Prometheus metrics for a :class:`~streamrt.runtime.provider.Provider`, with prometheus-client.

Theory of operation
-------------------
A stream already keeps its counters (processed, outputs, errors, dropped, backpressure wait) as plain attributes of
its record, so :class:`StreamMetrics` is a custom collector that reads them *at scrape time* and yields
``CounterMetricFamily`` / ``GaugeMetricFamily`` values: the per-chunk path does no metrics work at all. The two
histograms cannot be derived later, so they are observed as work happens, but sparingly: chunk latency once per
processed batch (the latency of the batch's last chunk: a sample, not every chunk) and snapshot write time once
per committed write.

Labels stay bounded: ``processor`` on every stream metric and ``status`` on the stream count; a ``stream_id``
label is added only with ``per_stream=True`` (one series per stream: fine for a handful of long-lived streams,
not for ten thousand).

A scrape runs on the HTTP server's thread while the event loop runs; it copies the list of records first and
reads each counter once, so a scrape sees every counter as it was at some moment during the scrape.

Use :func:`instrument` to attach metrics to a provider (one registry per provider: the metric names are fixed)
and :func:`serve_metrics` to serve ``/metrics`` over HTTP, as ``streamrt run --metrics-port`` does.
"""

from __future__ import annotations

import contextlib
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

import msgspec
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector

from streamrt.errors import UsageError
from streamrt.runtime.events import Observer
from streamrt.runtime.machine import Status
from streamrt.runtime.provider import Provider
from streamrt.runtime.views import StreamView

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from streamrt.store import Snapshot

__all__ = [
    "LATENCY_BUCKETS",
    "METRICS",
    "SNAPSHOT_BUCKETS",
    "MetricsServer",
    "StreamMetrics",
    "instrument",
    "serve_metrics",
]

LATENCY_BUCKETS: Final = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0)
"""Seconds from a chunk's acceptance to the end of its processing."""
SNAPSHOT_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
"""Seconds one snapshot transaction takes."""

METRICS: Final = {
    "streamrt_chunks_processed_total": "counter: chunks handed to the processor",
    "streamrt_outputs_total": "counter: values emitted",
    "streamrt_errors_total": "counter: failures (processor exceptions, bad results, undecodable chunks)",
    "streamrt_chunks_dropped_total": "counter: chunks never processed (discarded, refused after the end)",
    "streamrt_source_reconnects_total": "counter: reconnects of live sources",
    "streamrt_backpressure_wait_seconds_total": "counter: seconds producers waited for queue room",
    "streamrt_snapshots_written_total": "counter: snapshots committed to the store",
    "streamrt_queue_depth": "gauge: chunks waiting in queues",
    "streamrt_queue_capacity": "gauge: total queue capacity",
    "streamrt_producers_waiting": "gauge: producers blocked on a full queue now",
    "streamrt_streams": "gauge: streams by status (label status)",
    "streamrt_chunk_latency_seconds": "histogram: acceptance to end of processing, one sample per batch",
    "streamrt_snapshot_write_seconds": "histogram: one snapshot transaction",
}
"""Every metric name and what it counts (docs/observability.md has the labels)."""

_LATENCY_LE: Final = (*(repr(bound) for bound in LATENCY_BUCKETS), "+Inf")
_STATUSES: Final = tuple(status.value for status in Status)
_COUNTERS: Final = (
    # (attribute of the record, metric name without _total, help)
    ("processed", "streamrt_chunks_processed", "Chunks handed to the processor."),
    ("outputs", "streamrt_outputs", "Values emitted by processors."),
    ("errors", "streamrt_errors", "Stream failures: processor exceptions, bad results, undecodable chunks."),
    (
        "dropped",
        "streamrt_chunks_dropped",
        "Chunks never processed: discarded by cancel or an end, or refused.",
    ),
    ("backpressure_wait", "streamrt_backpressure_wait_seconds", "Seconds producers waited for queue room."),
)


class StreamMetrics(Collector, Observer):
    """The collector and the two histograms of one provider, and the observer that feeds the histograms; see
    :func:`instrument`."""

    def __init__(self, provider: Provider, *, per_stream: bool = False) -> None:
        self.provider = provider
        self.per_stream = per_stream
        self.registry: CollectorRegistry | None = None
        self._labels: tuple[str, ...] = ("processor", "stream_id") if per_stream else ("processor",)
        # Latency: per label set, [count per bucket..., count above the last bound, sum]; see batch().
        self._latency: dict[Any, tuple[list[str], list[float]]] = {}
        # Not registered themselves: yielded by collect(), so one register/unregister covers everything.
        self.snapshot_seconds = Histogram(
            "streamrt_snapshot_write_seconds",
            "Seconds one snapshot transaction took to commit.",
            registry=None,
            buckets=SNAPSHOT_BUCKETS,
        )
        self.snapshots_written = Counter(
            "streamrt_snapshots_written", "Snapshots committed to the store.", ("processor",), registry=None
        )

    # --- the observer (streamrt.runtime.events) -----------------------------------------------------------------

    def batch(self, stream_id: str, processor: str, n: int, latency: float | None) -> None:
        """Observe the latency of the batch's last chunk (called by the provider once per batch).

        prometheus-client's ``Histogram.observe`` takes a lock per counter it bumps (about 3 µs on a small VM,
        several percent of a 32-chunk batch); this is one bisect and two list increments on the event loop's
        thread, turned into a ``HistogramMetricFamily`` at scrape time.
        """
        key = stream_id if self.per_stream else processor
        entry = self._latency.get(key)
        if entry is None:
            labels = [processor, stream_id] if self.per_stream else [processor]
            entry = self._latency[key] = (labels, [0.0] * (len(LATENCY_BUCKETS) + 2))
        if latency is not None:
            row = entry[1]
            row[bisect_left(LATENCY_BUCKETS, latency)] += 1
            row[-1] += latency

    def snapshots(self, snapshots: Sequence[Snapshot], seconds: float) -> None:
        """Observe one committed snapshot write."""
        self.snapshot_seconds.observe(seconds)
        for snap in snapshots:
            self.snapshots_written.labels(snap.processor).inc()

    # --- scrape -------------------------------------------------------------------------------------------------

    def describe(self) -> Iterable[Metric]:
        """The families without samples, so a registry can refuse a second provider's metrics by name."""
        yield from self._families(())
        yield HistogramMetricFamily("streamrt_chunk_latency_seconds", "", labels=list(self._labels))
        yield from self.snapshot_seconds.describe()
        yield from self.snapshots_written.describe()

    def collect(self) -> Iterable[Metric]:
        yield from self._families(self.provider.streams.views())
        yield self._latency_family()
        yield from self.snapshot_seconds.collect()
        yield from self.snapshots_written.collect()

    def _latency_family(self) -> Metric:
        family = HistogramMetricFamily(
            "streamrt_chunk_latency_seconds",
            "Seconds from a chunk's acceptance to the end of its processing (one sample per processed batch).",
            labels=list(self._labels),
        )
        for labels, row in list(self._latency.values()):
            counts = list(row)  # one copy, so the buckets and the count agree even while the loop observes
            cumulative = 0.0
            buckets = []
            for le, count in zip(_LATENCY_LE, counts, strict=False):
                cumulative += count
                buckets.append((le, cumulative))
            family.add_metric(labels, buckets, counts[-1])
        return family

    def _families(self, records: Sequence[StreamView]) -> Iterator[Metric]:
        labels = list(self._labels)
        counters = [CounterMetricFamily(name, text, labels=labels) for _, name, text in _COUNTERS]
        reconnects = CounterMetricFamily(
            "streamrt_source_reconnects", "Reconnects of the streams' live sources.", labels=labels
        )
        depth = GaugeMetricFamily(
            "streamrt_queue_depth", "Chunks waiting in the streams' queues.", labels=labels
        )
        capacity = GaugeMetricFamily(
            "streamrt_queue_capacity", "Capacity of the streams' queues (sum).", labels=labels
        )
        waiting = GaugeMetricFamily(
            "streamrt_producers_waiting",
            "Producers (sources, push) blocked on a full queue now; backpressure_wait grows when they resume.",
            labels=labels,
        )
        streams = GaugeMetricFamily("streamrt_streams", "Streams by status.", labels=[*labels, "status"])
        attrs = [attr for attr, _, _ in _COUNTERS]
        # One row of sums per label set: [counters..., waiting, reconnects, depth, capacity], plus a status tally.
        rows: dict[tuple[str, ...], list[float]] = {}
        tally: dict[tuple[str, ...], dict[str, int]] = {}
        width = len(attrs) + 4
        for s in records:
            key: tuple[str, ...] = (s.processor_name, s.id) if self.per_stream else (s.processor_name,)
            row = rows.get(key)
            if row is None:
                row = rows[key] = [0.0] * width
                tally[key] = dict.fromkeys(_STATUSES, 0)
            for i, attr in enumerate(attrs):
                row[i] += getattr(s, attr)
            row[-4] += s.producers_waiting
            row[-3] += s.source_reconnects
            row[-2] += s.queue_depth
            row[-1] += s.capacity
            tally[key][s.status.value] += 1
        for labels_of, row in rows.items():
            values = list(labels_of)
            for family, value in zip(counters, row, strict=False):
                family.add_metric(values, value)
            waiting.add_metric(values, row[-4])
            reconnects.add_metric(values, row[-3])
            depth.add_metric(values, row[-2])
            capacity.add_metric(values, row[-1])
            for status, count in tally[labels_of].items():
                streams.add_metric([*values, status], count)
        yield from counters
        yield reconnects
        yield depth
        yield capacity
        yield waiting
        yield streams

    def close(self) -> None:
        """Detach from the provider and the registry."""
        if self in self.provider.observers:
            self.provider.remove_observer(self)
        if self.registry is not None:
            with contextlib.suppress(KeyError):
                self.registry.unregister(self)
            self.registry = None


def instrument(
    provider: Provider, registry: CollectorRegistry | None = None, *, per_stream: bool = False
) -> StreamMetrics:
    """Expose ``provider``'s streams as Prometheus metrics in ``registry`` (default: prometheus_client's global one).

    One provider per registry (the metric names are fixed; a second one raises :class:`UsageError`), and one set
    of metrics per provider. ``per_stream=True`` adds a ``stream_id`` label to every stream metric. Call
    :meth:`StreamMetrics.close` to detach.
    """
    if any(isinstance(o, StreamMetrics) for o in provider.observers):
        raise UsageError("this provider already has metrics attached")
    metrics = StreamMetrics(provider, per_stream=per_stream)
    target = REGISTRY if registry is None else registry
    try:
        target.register(metrics)
    except ValueError as exc:
        raise UsageError(
            f"the registry already holds streamrt metrics (another provider's?): {exc}; "
            "give each provider its own CollectorRegistry"
        ) from None
    metrics.registry = target
    provider.add_observer(metrics)
    return metrics


class MetricsServer(msgspec.Struct):
    """A running ``/metrics`` HTTP server (prometheus_client's, on its own thread); :meth:`close` stops it."""

    host: str
    port: int
    _server: WSGIServer
    _thread: Any

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(
    registry: CollectorRegistry | None = None, *, port: int = 0, host: str = "127.0.0.1"
) -> MetricsServer:
    """Serve ``registry`` at ``http://host:port/metrics``; port 0 picks a free one (see ``.port``)."""
    try:
        server, thread = start_http_server(
            port, addr=host, registry=REGISTRY if registry is None else registry
        )
    except OSError as exc:
        raise UsageError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from None
    return MetricsServer(host, int(server.server_address[1]), server, thread)
