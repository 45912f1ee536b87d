"""The bounded SSE parser: the same events as httpx-sse for any split of the input, and a hard size bound."""

from __future__ import annotations

import pytest
from httpx_sse._decoders import SSEDecoder, SSELineDecoder
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrt.sources.sse_parse import EventTooLarge, SseEvent, SseParser


def reference(body: bytes) -> list[SseEvent]:
    """What httpx-sse makes of the whole body (its line decoder, then its event decoder)."""
    lines = SSELineDecoder()
    decoder = SSEDecoder()
    out = []
    for line in [*lines.decode(body.decode("utf-8", "replace")), *lines.flush()]:
        event = decoder.decode(line.rstrip("\n"))
        if event is not None:
            out.append(SseEvent(event.event, event.data, event.id, event.retry))
    return out


def parse(pieces: list[bytes], limit: int = 1 << 20) -> list[SseEvent]:
    parser = SseParser(limit)
    out = []
    for piece in pieces:
        out.extend(parser.feed(piece))
    return out + parser.end()


LINE = st.one_of(
    st.sampled_from(
        ["", ": ping", "data", "data:", "data: x", "data:  two", "event: tick", "id: 7", "id:", "retry: 250"]
    ),
    st.sampled_from(["retry: x", "id: a\0b", "x-unknown: 1", "no colon", 'data: {"a": 1}', "data: é€"]),
)
ENDING = st.sampled_from(["\n", "\r\n", "\r"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(LINE, ENDING), max_size=30),
    st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_same_events_as_httpx_sse_for_any_split(lines: list[tuple[str, str]], cuts: list[int]) -> None:
    body = "".join(line + end for line, end in lines).encode()
    points = sorted({min(c, len(body)) for c in cuts})
    pieces = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]
    assert parse(pieces) == reference(body)


def test_fields_ids_and_retry() -> None:
    events = parse([b"\xef\xbb\xbfevent: a\nid: 1\nretry: 50\ndata: x\ndata: y\n\n: c\n\ndata: z\n\n"])
    assert events == [
        SseEvent("a", "x\ny", "1", 50),
        SseEvent("message", "", "1", None),
        SseEvent("message", "z", "1", None),
    ]


def test_a_line_without_end_is_refused_at_the_limit() -> None:
    parser = SseParser(1000)
    for _ in range(9):
        assert parser.feed(b"data: " + b"x" * 100) == []
    assert parser.started and parser.held == 954
    with pytest.raises(EventTooLarge, match="1000 bytes"):
        parser.feed(b"x" * 100)


def test_an_event_whose_lines_never_stop_is_refused() -> None:
    parser = SseParser(1000)
    with pytest.raises(EventTooLarge):
        for _ in range(200):
            parser.feed(b"data: " + b"y" * 9 + b"\n")
    assert parser.held <= 1000 + 16


def test_heartbeats_start_no_event_but_a_partial_line_does() -> None:
    parser = SseParser()
    assert parser.feed(b": ping\n\n: ping\n") == [] and not parser.started
    parser.feed(b"da")
    assert parser.started
    assert parser.feed(b"ta: 1\n") == [] and parser.started  # a field waits for its blank line
    assert parser.feed(b"\n") == [SseEvent("message", "1", "", None)] and not parser.started
