"""Many nodes: streams owned through Redis leases with fencing tokens, snapshots in a shared store.

:class:`RedisLeases` is a :class:`~streamrt.runtime.ports.Leases` port (``Persister(store, leases=RedisLeases(url))``):
a lease per stream with a TTL Redis enforces, renewed for all streams in one call per tick, and a fencing token per
claim that every snapshot carries (:class:`FencedStore`), so a node that lost its lease cannot overwrite the new
owner's state. ``docs/scaling.md`` is the design. redis-py is imported only when leases are opened.
"""

from __future__ import annotations

from streamrt.cluster.fencing import FencedStore
from streamrt.cluster.leases import CLUSTER_LEASE_TTL, FENCE_TTL, RedisLeases

__all__ = ["CLUSTER_LEASE_TTL", "FENCE_TTL", "FencedStore", "RedisLeases"]
