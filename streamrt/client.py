"""A Python client of ``streamrt serve`` (httpx and httpx-sse): start, push, direct, inspect, follow events.

.. code-block:: python

    async with Client("http://127.0.0.1:8750", token="s3cret") as api:
        sid = (await api.start("aggregate", stream_id="oslo"))["id"]
        await api.push(sid, readings)                 # NDJSON batches; waits out 429s, each chunk applied once
        await api.end(sid)
        async for event in api.events(sid):           # reconnects with Last-Event-ID; ends when the stream has
            print(event.kind, event.data)              # ended and every event was read

Pushes are sent in batches, each with its own ``Idempotency-Key``: a batch answered ``429`` (the stream's queue
stayed full) is sent again, same body and key, after the server's ``Retry-After``, and the server skips the chunks
it had already taken, so every chunk is applied once however often a batch is retried. :meth:`Client.events`
reconnects after a dropped connection or a server restart with ``Last-Event-ID`` and yields each event once, in
order. A refusal is an :class:`~streamrt.errors.ApiError` carrying the problem's ``status``, ``code`` and
``detail``; a server out of reach is an ``httpx.TransportError`` (after ``events``' retries, for a subscription).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from types import TracebackType
from typing import Any, Final, NamedTuple

import httpx
from httpx_sse import aconnect_sse

from streamrt.errors import ApiError

__all__ = ["ENV_TOKEN", "ENV_URL", "Client", "Event"]

ENV_TOKEN: Final = "STREAMRT_API_TOKEN"
ENV_URL: Final = "STREAMRT_API_URL"
_BATCH: Final = 1_000


class Event(NamedTuple):
    """One event of a stream: ``kind`` is ``output``, ``status`` or ``error``; ``data`` is the decoded JSON."""

    stream_id: str
    id: int
    kind: str
    data: Any


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    raise ApiError(
        response.status_code,
        str(body.get("code", "http-error")),
        str(body.get("detail", response.reason_phrase)),
        retry_after=_retry_after(response),
        body=body,
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class Client:
    """A connection to one server; ``url`` and ``token`` default to ``STREAMRT_API_URL`` / ``STREAMRT_API_TOKEN``."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base = url or os.environ.get(ENV_URL) or "http://127.0.0.1:8750"
        token = token if token is not None else os.environ.get(ENV_TOKEN)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = base.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._http.request(method, path, **kwargs)
        _raise_for(response)
        return response.json() if response.content else None

    # --- streams -------------------------------------------------------------------------------------------------

    async def start(
        self,
        processor: str,
        *,
        state: Any = None,
        source: str | None = None,
        options: Mapping[str, Any] | None = None,
        stream_id: str | None = None,
    ) -> dict[str, Any]:
        """Start a stream; returns it as the server shows it (``id``, ``status``, ``urls``)."""
        body: dict[str, Any] = {"processor": processor}
        if state is not None:
            body["state"] = state
        if source is not None:
            body["source"] = source
        if options:
            body["options"] = dict(options)
        if stream_id is not None:
            body["id"] = stream_id
        result: dict[str, Any] = await self._call("POST", "/streams", json=body)
        return result

    async def streams(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = (await self._call("GET", "/streams"))["streams"]
        return result

    async def inspect(self, stream_id: str, *, queue: bool = False) -> dict[str, Any]:
        params = {"queue": "1"} if queue else None
        result: dict[str, Any] = await self._call("GET", f"/streams/{stream_id}", params=params)
        return result

    async def delete(self, stream_id: str) -> None:
        await self._call("DELETE", f"/streams/{stream_id}")

    # --- directives ----------------------------------------------------------------------------------------------

    async def direct(self, stream_id: str, action: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "POST", f"/streams/{stream_id}/directives", json={"action": action}
        )
        return result

    async def pause(self, stream_id: str) -> dict[str, Any]:
        return await self.direct(stream_id, "pause")

    async def resume(self, stream_id: str) -> dict[str, Any]:
        return await self.direct(stream_id, "resume")

    async def cancel(self, stream_id: str) -> dict[str, Any]:
        return await self.direct(stream_id, "cancel")

    async def end(self, stream_id: str) -> dict[str, Any]:
        """No more chunks: the queue drains and the stream completes."""
        return await self.direct(stream_id, "end")

    # --- pushing -------------------------------------------------------------------------------------------------

    async def push(
        self, stream_id: str, chunks: Iterable[Any], *, batch: int = _BATCH, max_wait: float | None = None
    ) -> int:
        """Push ``chunks`` in order in NDJSON batches, retrying a batch after ``429``; returns how many were sent.

        ``max_wait``: give up (raise the 429's ApiError) once one batch has waited that long in total.
        """
        sent = 0
        pending: list[bytes] = []
        for chunk in chunks:
            pending.append(json.dumps(chunk, separators=(",", ":")).encode())
            if len(pending) >= batch:
                sent += await self._push_batch(stream_id, pending, max_wait)
                pending = []
        if pending:
            sent += await self._push_batch(stream_id, pending, max_wait)
        return sent

    async def _push_batch(self, stream_id: str, lines: list[bytes], max_wait: float | None) -> int:
        body = b"\n".join(lines) + b"\n"
        headers = {"Content-Type": "application/x-ndjson", "Idempotency-Key": uuid.uuid4().hex}
        waited = 0.0
        while True:
            response = await self._http.post(f"/streams/{stream_id}/chunks", content=body, headers=headers)
            if response.status_code != 429:
                _raise_for(response)
                return len(lines)
            delay = _retry_after(response) or 1.0
            if max_wait is not None and waited + delay > max_wait:
                _raise_for(response)
            waited += delay
            await asyncio.sleep(delay)

    # --- events --------------------------------------------------------------------------------------------------

    async def events(
        self, stream_id: str, *, after: int = 0, retries: int | None = 30
    ) -> AsyncIterator[Event]:
        """The stream's events after id ``after``, reconnecting with ``Last-Event-ID``; ends once the stream has
        ended and every event was read. ``retries``: failed connections in a row before giving up (None: never)."""
        last = after
        failures = 0
        delay = 1.0
        path = f"/streams/{stream_id}/events"
        while True:
            headers = {"Last-Event-ID": str(last)}
            try:
                async with aconnect_sse(self._http, "GET", path, headers=headers, timeout=None) as sse:
                    if sse.response.status_code == 204:
                        return
                    if sse.response.status_code >= 400:
                        await sse.response.aread()
                        _raise_for(sse.response)
                    failures = 0
                    async for message in sse.aiter_sse():
                        if message.retry is not None:
                            delay = message.retry / 1000
                        if not message.data:
                            continue
                        last = int(message.id)
                        yield Event(stream_id, last, message.event, json.loads(message.data))
            except httpx.TransportError:
                failures += 1
                if retries is not None and failures > retries:
                    raise
                await asyncio.sleep(delay)
