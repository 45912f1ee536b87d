"""Reconnect policy shared by the network sources (SSE, MCP, WebSocket), built on tenacity.

Theory of operation: a source runs its connect-and-read loop as tenacity attempts::

    async for attempt in policy.retrying(retry_on=(httpx.TransportError,)):
        with attempt:
            ...  # connect and read; raise to fail the attempt

Waits between attempts are exponential with full jitter (tenacity's ``wait_random_exponential``), capped at
``maximum``. A server can ask for an exact wait instead (an SSE ``retry:`` field, a ``Retry-After`` header): the
source raises :class:`RetryAfter` wrapping the cause, and :class:`_WaitHonouringRetryAfter` uses that delay, capped
by :meth:`RetryPolicy.cap` at ``maximum`` and at what is left of ``max_elapsed``, so a server answering
``Retry-After: 86400`` cannot stall a stream for a day (the cap is logged and noted on the exception). The
policy gives up after ``max_attempts`` consecutive failed attempts or ``max_elapsed`` seconds since the first one,
whichever comes first, by raising ``tenacity.RetryError``; :meth:`RetryPolicy.explain` turns that into a message and
:func:`root_cause` finds the real error. "Consecutive" is the caller's to define: a source that made progress (got
events) starts a fresh :meth:`RetryPolicy.retrying`, which resets both counters. Health updates are the caller's too.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
import tenacity
from tenacity.wait import wait_base

from streamrt.errors import UsageError

__all__ = ["RetryAfter", "RetryPolicy", "parse_retry_after", "root_cause", "wait_note"]

logger = logging.getLogger(__name__)


class RetryAfter(Exception):
    """Raised by a source to ask the policy to wait ``delay`` seconds before the next attempt.

    The policy waits at most its ``maximum`` and never past its time budget; when it waits less than asked it sets
    :attr:`capped_to`, which :func:`wait_note` turns into words for health and logs.
    """

    def __init__(self, delay: float, cause: BaseException | None = None) -> None:
        super().__init__(f"retry after {delay:g}s" + (f": {cause}" if cause is not None else ""))
        self.delay = max(0.0, float(delay))
        self.cause = cause
        self.capped_to: float | None = None


def root_cause(error: BaseException | None) -> BaseException | None:
    """The error behind a ``RetryError`` or ``RetryAfter`` (what a user should read)."""
    while True:
        if isinstance(error, tenacity.RetryError):
            error = error.last_attempt.exception() if error.last_attempt.failed else None
        elif isinstance(error, RetryAfter) and error.cause is not None:
            error = error.cause
        else:
            return error


def wait_note(error: BaseException | None) -> str:
    """``"; the server asked to wait 86400s, waiting 20s (retry policy cap)"`` for a capped wait, else ``""``."""
    if isinstance(error, RetryAfter) and error.capped_to is not None:
        return f"; the server asked to wait {error.delay:g}s, waiting {error.capped_to:g}s (retry policy cap)"
    return ""


class _WaitHonouringRetryAfter(wait_base):
    """Full-jitter exponential backoff, unless the failed attempt raised :class:`RetryAfter` (then capped)."""

    def __init__(self, fallback: wait_base, policy: RetryPolicy) -> None:
        self.fallback = fallback
        self.policy = policy

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        if outcome is not None and outcome.failed:
            exc = outcome.exception()
            if isinstance(exc, RetryAfter):
                delay = self.policy.cap(exc.delay, retry_state.seconds_since_start or 0.0)
                if delay < exc.delay:
                    exc.capped_to = delay
                    logger.info(
                        "server asked to retry after %gs; waiting %gs (retry policy: maximum %gs, max-elapsed %gs)",
                        exc.delay,
                        delay,
                        self.policy.maximum,
                        self.policy.max_elapsed,
                    )
                return delay
        return float(self.fallback(retry_state))


_OPTION_ALIASES = {
    "max_attempts": "max_attempts",
    "max-attempts": "max_attempts",
    "max_elapsed": "max_elapsed",
    "max-elapsed": "max_elapsed",
    "initial": "initial",
    "maximum": "maximum",
    "reconnect_delay": "reconnect_delay",
    "reconnect-delay": "reconnect_delay",
    "reconnect_reset": "reconnect_reset",
    "reconnect-reset": "reconnect_reset",
}


class RetryPolicy(msgspec.Struct, frozen=True):
    """How long and how often to retry; ``0`` for ``max_attempts`` or ``max_elapsed`` means unlimited.

    ``reconnect_delay`` is the least wait before reconnecting after a connection that delivered and then dropped,
    whatever the server's ``retry:`` asks: a server that sends one event and closes cannot make the source reconnect
    hundreds of times a second. Drops in a row double the wait up to ``maximum`` (:meth:`after_drop`); a connection
    that stayed up ``reconnect_reset`` seconds starts them afresh.
    """

    max_attempts: int = 8
    max_elapsed: float = 120.0
    initial: float = 0.2
    maximum: float = 20.0
    reconnect_delay: float = 0.5
    reconnect_reset: float = 60.0

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value < 0
            ):
                raise UsageError(f"retry policy: {name} must be a non-negative number, got {value!r}")
        if self.maximum < self.initial:
            raise UsageError(f"retry policy: maximum ({self.maximum}) is below initial ({self.initial})")

    @classmethod
    def from_mapping(cls, options: Mapping[Any, Any], base: RetryPolicy | None = None) -> RetryPolicy:
        """Build a policy from a user map (``{:max-attempts 3 :initial 0.1}`` or str keys), over ``base``."""
        values: dict[str, Any] = {}
        for key, value in options.items():
            name = getattr(key, "qualified", key)
            field_name = _OPTION_ALIASES.get(str(name))
            if field_name is None:
                known = ", ".join(sorted({k for k in _OPTION_ALIASES if "_" not in k}))
                raise UsageError(f"retry policy: unknown option {name!r} (known: {known})")
            values[field_name] = value
        start = base or cls()
        merged = {name: values.get(name, getattr(start, name)) for name in cls.__struct_fields__}
        return cls(**merged)

    def after_drop(self, requested: float | None, drops: int = 1) -> float:
        """The wait before reconnecting after the ``drops``-th connection in a row that delivered and then dropped.

        ``reconnect_delay`` after the first; each further drop doubles the window, up to ``maximum``, and the wait
        is random in its upper half (jitter: sources that lost one server together do not all come back at the
        same instant), so never below ``reconnect_delay``. The server's ``retry:`` when longer, never beyond
        ``maximum``. A caller counts a connection that stayed up :meth:`stable` as a fresh first drop.
        """
        floor = min(self.reconnect_delay, self.maximum)
        window = min(self.maximum, self.reconnect_delay * 2.0 ** min(max(drops, 1) - 1, 64))
        return max(floor, random.uniform(window / 2, window), self.cap(requested or 0.0))

    def stable(self, lasted: float) -> bool:
        """True for a connection that stayed up ``reconnect_reset`` seconds: its drop starts the backoff afresh."""
        return lasted >= self.reconnect_reset

    def cap(self, requested: float, elapsed: float = 0.0) -> float:
        """A server-requested wait bounded by ``maximum`` and by what is left of ``max_elapsed`` after ``elapsed``.

        Raise ``maximum`` to honour longer ``Retry-After`` / ``retry:`` requests.
        """
        delay = min(max(0.0, requested), self.maximum)
        if self.max_elapsed:
            delay = min(delay, max(0.0, self.max_elapsed - elapsed))
        return delay

    def retrying(
        self,
        *,
        retry_on: tuple[type[BaseException], ...],
        before_sleep: Callable[[tenacity.RetryCallState], Awaitable[None] | None] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> tenacity.AsyncRetrying:
        """A fresh tenacity controller: retries ``retry_on`` and :class:`RetryAfter`, raises ``RetryError`` at the end.

        ``before_sleep`` runs before each wait (a source sets its health to ``reconnecting`` there); ``sleep``
        replaces ``asyncio.sleep`` (tests).
        """
        stops: list[tenacity.stop.stop_base] = []
        if self.max_attempts:
            stops.append(tenacity.stop_after_attempt(self.max_attempts))
        if self.max_elapsed:
            stops.append(tenacity.stop_after_delay(self.max_elapsed))
        stop: tenacity.stop.stop_base = tenacity.stop_any(*stops) if stops else tenacity.stop_never
        wait = _WaitHonouringRetryAfter(
            tenacity.wait_random_exponential(multiplier=self.initial, max=self.maximum, exp_base=2), self
        )
        kwargs: dict[str, Any] = {}
        if sleep is not None:
            kwargs["sleep"] = sleep
        return tenacity.AsyncRetrying(
            stop=stop,
            wait=wait,
            retry=tenacity.retry_if_exception_type((*retry_on, RetryAfter)),
            before_sleep=before_sleep,
            **kwargs,
        )

    @staticmethod
    def explain(error: tenacity.RetryError) -> str:
        """``gave up after 8 attempts: <cause>`` for a ``RetryError`` from :meth:`retrying`."""
        attempts = error.last_attempt.attempt_number
        cause = root_cause(error)
        reason = f"{type(cause).__name__}: {cause}" if cause is not None else "no error recorded"
        plural = "s" if attempts != 1 else ""
        return f"gave up after {attempts} attempt{plural}: {reason}"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP-date); ``None`` if absent or garbled."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
