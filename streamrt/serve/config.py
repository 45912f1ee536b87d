"""What a server is told when it is made: scripts, store, auth, limits and timings, with their defaults."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import msgspec

from streamrt.errors import UsageError
from streamrt.policy.effects import SecurityContext
from streamrt.serve.eventlog import DEFAULT_KEEP_EVENTS, DEFAULT_KEEP_SECONDS

__all__ = ["DEFAULT_SOURCE_SECURITY", "ClientLimits", "ServeConfig", "is_loopback"]

DEFAULT_SOURCE_SECURITY: Final = SecurityContext(allow=frozenset({"network"}))
"""What a client's ``source`` may need unless the operator says otherwise: the network, never the server's files,
stdin or programs (``mcp+stdio:`` launches one), nor any effect added later."""


class ClientLimits(msgspec.Struct, frozen=True):
    """Per client: concurrent live streams, live subscribers, and chunk pushes (requests) per minute."""

    streams: int = 5
    subscribers: int = 50
    pushes_per_minute: int = 6_000


class ServeConfig(msgspec.Struct, frozen=True):
    """A server's settings; :func:`streamrt.serve.create_app` and ``streamrt serve`` take one."""

    scripts: Sequence[str | Path] = ()
    """Scripts whose processors clients may start; their ``mcp-stream`` forms start at boot."""
    store: str | None = "memory:"
    """Snapshot store and event log: ``memory:``, a SQLite path or URL, ``postgresql://``."""
    tokens: Mapping[str, str] = msgspec.field(default_factory=dict)
    """sha256 hex digest of a token -> client id (see :mod:`streamrt.serve.auth`)."""
    no_auth: bool = False
    """Every request is client ``anonymous`` (refused unless ``host`` is a loopback address)."""
    host: str = "127.0.0.1"
    port: int = 8750
    limits: ClientLimits = ClientLimits()
    push_timeout: float = 5.0
    """How long a push waits for queue room before it is answered 429."""
    heartbeat: float = 15.0
    """Seconds between heartbeat comments on an idle event stream."""
    retry_ms: int = 1_000
    """The ``retry:`` hint sent to event-stream clients."""
    events_per_connection: int | None = None
    """End an event stream after this many events (the client reconnects with Last-Event-ID); None: never."""
    idle_ttl: float = 3600.0
    """Cancel a live stream after this long with no push, no subscriber and no source activity."""
    keep_events: int = DEFAULT_KEEP_EVENTS
    keep_seconds: float = DEFAULT_KEEP_SECONDS
    snapshot_every: str | None = None
    cors_origins: Sequence[str] = ()
    source_security: SecurityContext = DEFAULT_SOURCE_SECURITY
    queue_capacity: int | None = None
    """Default queue capacity of client streams (the provider's default when None)."""
    mcp_session_idle: float = 1800.0
    """An MCP session (``--mcp``) with no request in flight for this long is closed and what it holds released."""
    secrets: Mapping[str, str] = msgspec.field(default_factory=dict)
    """Values of the secrets that restored streams' snapshots only name (``{"bearer-token": ...}``, from
    ``--secret NAME=VARIABLE``); a secret not here is read from its standard environment variable."""

    def check(self) -> None:
        if self.no_auth and not is_loopback(self.host):
            raise UsageError(f"--no-auth serves loopback addresses only, not {self.host!r}")
        if not self.no_auth and not self.tokens:
            raise UsageError(
                "no API tokens: give --tokens FILE or STREAMRT_API_TOKENS (or --no-auth on a loopback address)"
            )
        for name in ("push_timeout", "heartbeat", "idle_ttl", "keep_seconds", "mcp_session_idle"):
            if getattr(self, name) <= 0:
                raise UsageError(f"{name.replace('_', '-')} must be positive")
        limits = self.limits
        if min(limits.streams, limits.subscribers, limits.pushes_per_minute) < 1:
            raise UsageError(
                "the per-client limits (streams, subscribers, pushes per minute) must be positive"
            )
        if self.keep_events < 1 or self.retry_ms < 0:
            raise UsageError("keep-events must be positive and retry-ms not negative")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
