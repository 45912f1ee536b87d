"""``:on-error`` through a real Provider: :fail, :skip and :dead-letter, for schema violations and failures alike."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from streamrt.errors import SchemaViolation, StreamClosedError, UsageError
from streamrt.jsoncodec import from_json_text
from streamrt.lang.script import load_script
from streamrt.policy.guard import MEMORY_DEAD_LETTERS, OnError
from streamrt.runtime import Provider
from streamrt.runtime.machine import Status
from streamrt.values import Keyword

pytestmark = pytest.mark.timeout(30)

K = Keyword

SCRIPT = load_script(
    """
(defn add [state chunk]
  (cond
    (= (:v chunk) 13) (/ 1 0)
    (= (:v chunk) 14) 42
    (= (:v chunk) 15) {:state state :action :explode}
    (= (:v chunk) 16) {:state {:sum "not a number"}}
    (= (:v chunk) 17) {:state state :outputs [{:sum 1} {:sum "bad"}]}
    :else {:state {:sum (+ (:sum state) (:v chunk))} :output {:sum (+ (:sum state) (:v chunk))}}))

(defn add-meta [state chunk meta] (add state chunk))
""",
    filename="add.rtfs",
)
ADD = SCRIPT.processor("add")
ADD_META = SCRIPT.processor("add-meta")
SCHEMAS: dict[str, Any] = {
    "input_schema": "[:map [:v :int]]",
    "state_schema": "[:map [:sum :int]]",
    "output_schema": "[:map [:sum :int]]",
}


def chunks(*values: Any) -> list[Any]:
    return [{K("v"): v} for v in values]


async def run_one(
    p: Provider, items: list[Any], *, stream_id: str = "s", processor: Any = ADD, **kwargs: Any
) -> list[Any]:
    """Start a stream, push ``items``, end it; return the outputs it emitted."""
    outputs: list[Any] = []
    p.add_sink(lambda out: outputs.append(out.value) if out.stream_id == stream_id else None)
    sid = p.start(processor, stream_id=stream_id, initial_state={K("sum"): 0}, **kwargs)
    await p.push_many(sid, items)
    p.end_input(sid)
    await p.wait(sid)
    return outputs


# one bad chunk of each kind, between two good ones: (chunk value, what the failure message says)
FAILURES = [
    pytest.param(
        "x", 'chunk 2 does not match :input-schema at [:v]: expected :int, found "x" (a string)', id="input"
    ),
    pytest.param(13, "chunk 2: add.rtfs:4:23: /: division by zero", id="processor-raises"),
    pytest.param(14, "returned 42 (integer); expected a map", id="not-a-map"),
    pytest.param(15, "unknown action :explode (keyword); known actions:", id="unknown-action"),
    pytest.param(
        16,
        'the state after chunk 2 does not match :state-schema at [:sum]: expected :int, found "not a number"',
        id="state",
    ),
    pytest.param(
        17,
        'output 2 of chunk 2 does not match :output-schema at [:sum]: expected :int, found "bad"',
        id="output",
    ),
]


@pytest.mark.parametrize(("bad", "says"), FAILURES)
async def test_fail_puts_the_stream_in_error(bad: Any, says: str) -> None:
    async with Provider() as p:
        outputs = await run_one(p, chunks(1, bad, 2), **SCHEMAS)
        record = p.record("s")
        assert record.status is Status.ERROR
        assert record.message is not None and says in record.message
        assert outputs == [{K("sum"): 1}], "the failed chunk emits nothing, later chunks are not processed"
        assert record.state == {K("sum"): 1}
        assert record.statistics().errors == 1 and record.statistics().skipped == 0


@pytest.mark.parametrize(("bad", "says"), FAILURES)
async def test_skip_counts_the_chunk_and_goes_on(bad: Any, says: str) -> None:
    async with Provider() as p:
        outputs = await run_one(p, chunks(1, bad, 2), on_error="skip", **SCHEMAS)
        record = p.record("s")
        assert record.status is Status.COMPLETED
        assert outputs == [{K("sum"): 1}, {K("sum"): 3}], "nothing of the failed chunk is emitted"
        assert record.state == {K("sum"): 3}, "the stream went on with the state it had before the chunk"
        stats = record.statistics()
        assert (stats.processed, stats.skipped, stats.errors, stats.dead_lettered) == (3, 1, 1, 0)
        assert p.inspect("s")["stats"]["skipped"] == 1
        assert p.dead_letters("s") == []


@pytest.mark.parametrize(("bad", "says"), FAILURES)
async def test_dead_letter_keeps_chunk_meta_and_error(bad: Any, says: str) -> None:
    async with Provider() as p:
        outputs = await run_one(
            p, chunks(1, bad, 2), processor=ADD_META, on_error=K("dead-letter"), **SCHEMAS
        )
        record = p.record("s")
        assert record.status is Status.COMPLETED
        assert outputs == [{K("sum"): 1}, {K("sum"): 3}]
        [letter] = p.dead_letters("s")
        assert (letter.stream_id, letter.seq, letter.chunk) == ("s", 2, {K("v"): bad})
        assert says in letter.error
        assert letter.meta[K("seq")] == 2 and letter.meta[K("stream-id")] == "s"
        assert letter.meta[K("source")] == "host"
        stats = record.statistics()
        assert (stats.skipped, stats.dead_lettered, stats.errors) == (1, 1, 1)


async def test_dead_letter_keeps_the_source_metadata_too() -> None:
    async with Provider() as p:
        sid = p.start(
            ADD, stream_id="s", initial_state={K("sum"): 0}, on_error="dead-letter", input_schema=":map"
        )
        await p.push(sid, 7, {K("line"): 12})
        p.end_input(sid)
        await p.wait(sid)
        [letter] = p.dead_letters(sid)
        assert letter.meta[K("line")] == 12
        assert (
            letter.error
            == "stream s: chunk 1 does not match :input-schema: expected a map, found 7 (an integer)"
        )


async def test_memory_dead_letters_are_bounded_and_the_overflow_counted() -> None:
    extra = 5
    async with Provider() as p:
        await run_one(
            p, chunks(*(["bad"] * (MEMORY_DEAD_LETTERS + extra)), 1), on_error="dead-letter", **SCHEMAS
        )
        letters = p.dead_letters("s")
        assert len(letters) == MEMORY_DEAD_LETTERS
        assert letters[0].seq == extra + 1, "the oldest were pushed out"
        assert p.record("s").dead_letters_dropped == extra
        assert p.record("s").statistics().dead_lettered == MEMORY_DEAD_LETTERS + extra
        assert p.record("s").state == {K("sum"): 1}


async def test_a_failing_stream_leaves_a_healthy_one_running() -> None:
    async with Provider() as p:
        healthy = p.start(ADD, stream_id="healthy", initial_state={K("sum"): 0}, **SCHEMAS)
        failing = p.start(ADD, stream_id="failing", initial_state={K("sum"): 0}, **SCHEMAS)
        skipping = p.start(ADD, stream_id="skipping", initial_state={K("sum"): 0}, on_error="skip", **SCHEMAS)
        for i in range(1, 101):
            await p.push(healthy, {K("v"): 1})
            await p.push(skipping, {K("v"): "bad" if i % 2 else 1})
            with contextlib.suppress(StreamClosedError):  # refused once it failed
                await p.push(failing, {K("v"): "bad" if i == 3 else 1})
        for sid in (healthy, skipping):
            p.end_input(sid)
        await p.wait()
        assert p.record(failing).status is Status.ERROR
        assert p.record(failing).state == {K("sum"): 2}
        assert p.record(healthy).status is Status.COMPLETED
        assert p.record(healthy).state == {K("sum"): 100}
        assert p.record(skipping).state == {K("sum"): 50}
        assert p.record(skipping).statistics().skipped == 50


async def test_state_schema_checks_the_initial_state_at_start() -> None:
    async with Provider() as p:
        with pytest.raises(SchemaViolation) as info:
            p.start(ADD, stream_id="s", initial_state={K("sum"): "zero"}, state_schema="[:map [:sum :int]]")
        assert str(info.value) == (
            'stream s: the initial state does not match :state-schema at [:sum]: expected :int, found "zero" (a string)'
        )
        assert p.stream_ids() == []


async def test_on_end_results_are_checked_and_fail_the_stream_whatever_the_policy() -> None:
    script = load_script(
        "(defn add [state chunk] {:sum (+ (:sum state) (:v chunk))})\n"
        '(defn done [state] {:state {:sum "over"} :output {:total (:sum state)}})',
        filename="end.rtfs",
    )
    async with Provider() as p:
        sid = p.start(
            script.processor("add"),
            stream_id="s",
            initial_state={K("sum"): 0},
            on_end=script.processor("done"),
            state_schema="[:map [:sum :int]]",
            on_error="skip",
        )
        await p.push(sid, {K("v"): 1})
        p.end_input(sid)
        await p.wait(sid)
        record = p.record(sid)
        assert record.status is Status.ERROR
        assert record.message is not None
        assert "the state returned by :on-end does not match :state-schema at [:sum]" in record.message
        assert record.outputs == 0


async def test_options_and_arguments_set_the_policy_and_are_recorded() -> None:
    async with Provider() as p:
        sid = p.start(
            ADD,
            stream_id="s",
            options={K("on-error"): K("skip"), K("input-schema"): from_json_text('["map"]')},
            input_schema="[:map [:v :int]]",
        )
        options = p.record(sid).options
        assert options is not None
        assert options[K("input-schema")] == (K("map"), (K("v"), K("int"))), (
            "the argument wins over the option"
        )
        assert options[K("on-error")] is K("skip")
        assert p.record(sid).spec.on_error is OnError.SKIP


async def test_plain_streams_have_no_guard() -> None:
    async with Provider() as p:
        assert not p.record(p.start(ADD)).spec.guarded
        assert not p.record(p.start(ADD, on_error="fail")).spec.guarded
        assert p.record(p.start(ADD, on_error="skip")).spec.guarded
        assert p.record(p.start(ADD, output_schema=":any")).spec.guarded


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"on_error": "retry"}, ':on-error must be one of :fail :skip :dead-letter, not "retry"'),
        (
            {"options": {K("on-error"): K("ignore")}},
            ":on-error must be one of :fail :skip :dead-letter, not :ignore",
        ),
        ({"input_schema": "[:map [:v :integer]]"}, ":input-schema: malformed schema [:map [:v :integer]]"),
        ({"options": {K("state-schema"): 3}}, ":state-schema: malformed schema 3"),
    ],
)
async def test_bad_policy_options_are_refused_at_start(kwargs: dict[str, Any], says: str) -> None:
    async with Provider() as p:
        with pytest.raises(UsageError) as info:
            p.start(ADD, stream_id="s", **kwargs)
        assert says in str(info.value)
        assert p.stream_ids() == []


async def test_directives_still_work_under_a_guard() -> None:
    script = load_script(
        "(defn f [state chunk] (if (= chunk 3) {:state (inc state) :action :complete :output state}"
        " {:state (inc state)}))",
        filename="d.rtfs",
    )
    async with Provider() as p:
        outputs: list[Any] = []
        p.add_sink(lambda out: outputs.append(out.value))
        sid = p.start(
            script.processor("f"), initial_state=0, input_schema=":int", state_schema=":int", on_error="skip"
        )
        await p.push_many(sid, [1, "x", 2, 3, 4])
        await p.wait(sid)
        record = p.record(sid)
        assert record.status is Status.COMPLETED
        assert outputs == [2] and record.state == 3
        assert record.statistics().skipped == 1
