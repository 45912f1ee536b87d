"""The typed stream spec: one parse of a stream's options, whichever way they come."""

from __future__ import annotations

from typing import Any

import pytest

from streamrt.errors import UsageError
from streamrt.policy.guard import OnError
from streamrt.runtime import Provider, StreamSpec
from streamrt.values import Keyword

K = Keyword


def test_keyword_options_are_parsed_into_typed_fields_and_the_rest_kept() -> None:
    spec = StreamSpec.parse(
        {
            K("stream-id"): "w",
            K("queue-capacity"): 8,
            K("on-end"): K("finish"),
            K("input-schema"): (K("map"), (K("v"), K("int"))),
            K("on-error"): K("skip"),
            K("limits"): {K("fuel"): 1000},
            K("retry"): {K("max-attempts"): 3},
        }
    )
    assert (spec.stream_id, spec.queue_capacity, spec.on_end) == ("w", 8, "finish")
    assert spec.input_schema is not None and spec.input_schema.check({K("v"): 1})
    assert spec.on_error is OnError.SKIP and spec.guarded
    assert spec.limits == {K("fuel"): 1000}
    assert dict(spec.extra) == {K("retry"): {K("max-attempts"): 3}}


def test_a_json_body_with_string_keys_gives_the_same_spec() -> None:
    body = {
        "stream_id": "w",
        "queue-capacity": 8,
        "on_end": "finish",
        "input_schema": "[:map [:v :int]]",
        "on_error": "skip",
        "limits": {"fuel": 1000},
        "retry": {"max-attempts": 3},
    }
    from_json = StreamSpec.from_json(body)
    keyworded = StreamSpec.parse(
        {
            K("stream-id"): "w",
            K("queue-capacity"): 8,
            K("on-end"): "finish",
            K("input-schema"): "[:map [:v :int]]",
            K("on-error"): "skip",
            K("limits"): {K("fuel"): 1000},
            K("retry"): {K("max-attempts"): 3},
        }
    )
    assert from_json.options() == keyworded.options()
    assert (from_json.stream_id, from_json.queue_capacity) == ("w", 8)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({K("queue-capacity"): 0}, ":queue-capacity must be a positive integer", id="capacity"),
        pytest.param({K("stream-id"): ""}, ":stream-id must be a non-empty string", id="empty-id"),
        pytest.param({K("on-error"): K("ignore")}, ":on-error must be one of", id="policy"),
        pytest.param({K("input-schema"): (K("nope"),)}, ":input-schema: malformed schema", id="schema"),
        pytest.param({K("limits"): {K("gas"): 1}}, ":limits has an unknown key :gas", id="limit-key"),
        pytest.param({K("limits"): 5}, ":limits must be a map", id="limits-shape"),
        pytest.param({K("on-end"): 3}, ":on-end must be a non-empty string", id="on-end"),
    ],
)
def test_a_bad_option_is_refused_by_its_name(options: dict[Keyword, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        StreamSpec.parse(options)


def test_overrides_win_field_by_field_and_keep_the_rest() -> None:
    spec = StreamSpec.parse({K("stream-id"): "a", K("queue-capacity"): 4, K("tag"): 1})
    flags = StreamSpec(stream_id="b")  # what the command line's --stream-id gives
    merged = spec.merged(flags)
    assert (merged.stream_id, merged.queue_capacity, dict(merged.extra)) == ("b", 4, {K("tag"): 1})
    assert spec.merged(StreamSpec()) is spec


def test_options_round_trip_through_parse() -> None:
    spec = StreamSpec.parse(
        {K("state-schema"): ":map", K("on-error"): K("dead-letter"), K("endpoint"): "jsonl:x", K("tag"): 1}
    )
    again = StreamSpec.parse(spec.options())
    assert again.options() == spec.options()
    assert again.on_error is OnError.DEAD_LETTER
    assert K("stream-id") not in spec.options(), "the id is the stream's own, not an option"


async def test_start_takes_a_spec_and_keywords_on_top() -> None:
    spec = StreamSpec.parse({K("stream-id"): "s", K("queue-capacity"): 2, K("tag"): "x"})
    async with Provider() as p:
        sid = p.start(lambda s, c: s, spec=spec, queue_capacity=5)
        view = p.record(sid)
        assert (sid, view.capacity, view.options) == ("s", 5, {K("tag"): "x"})
        assert view.spec.queue_capacity is None and view.spec.extra == {K("tag"): "x"}, (
            "kept apart, as the id"
        )
