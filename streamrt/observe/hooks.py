"""The two places the runtime tells an observer about work: after a batch of chunks and after a snapshot write.

Counters cost nothing on the hot path because metrics read them from the stream records at scrape time; only the
histograms need a call, and they get one per batch (``Driver._run_batch``) and one per committed snapshot write
(``Persister``), never one per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from streamrt.observe.logs import log_snapshots

if TYPE_CHECKING:
    from streamrt.runtime.stream import StreamRecord
    from streamrt.store import Snapshot

__all__ = ["Observer", "snapshots_written"]


class Observer(Protocol):
    """What a provider's ``_observer`` slot holds (see :func:`streamrt.observe.metrics.instrument`)."""

    def batch(self, s: StreamRecord, n: int) -> None:
        """``s`` just processed ``n`` chunks; ``s.last_latency`` is the last one's latency."""

    def snapshots(self, snapshots: Sequence[Snapshot], seconds: float) -> None:
        """``snapshots`` were committed together in ``seconds``."""


def snapshots_written(provider: Any, snapshots: Sequence[Snapshot], seconds: float) -> None:
    """Log a committed snapshot write and hand it to the provider's observer, if it has one."""
    log_snapshots(snapshots, seconds)
    observer: Observer | None = getattr(provider, "_observer", None)
    if observer is not None:
        observer.snapshots(snapshots, seconds)
