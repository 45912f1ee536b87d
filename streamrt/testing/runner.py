"""Running the tests of a test file: examples step by step, properties with hypothesis; one :class:`TestResult` each.

Every test runs a real :class:`~streamrt.runtime.provider.Provider` through a
:class:`~streamrt.testing.harness.StreamHarness`, so the runtime's invariants are checked in example tests too.

A property asks hypothesis (``find``) for the smallest list of steps (chunks from the test's generator spec, bursts
of chunks, host directives, the end of the input) that makes a run fail: an invariant broken, the processor raising
(unless ``:allow-errors``), or a ``:check`` function returning false. The failure is shown with that shrunk list,
written as a ``:steps`` vector a ``deftest`` can take as it is.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Final, Literal

import msgspec

from streamrt.errors import Pos, ScriptError, StreamrtError
from streamrt.printer import pr_str
from streamrt.runtime.machine import Status
from streamrt.runtime.stream import DEFAULT_QUEUE_CAPACITY
from streamrt.sources import open_source
from streamrt.testing.compare import describe, show
from streamrt.testing.harness import StreamHarness
from streamrt.testing.scripts import TestFile
from streamrt.testing.specs import ExampleTest, PropertyTest, Step, Subject, parse_steps
from streamrt.values import Keyword, is_truthy

__all__ = ["TestResult", "run_example", "run_property", "run_test_file"]

_K = Keyword
_PROPERTY_CAPACITY: Final = 4
"""Small by default in properties, so bursts fill the queue and backpressure is exercised."""


class TestResult(msgspec.Struct):
    """The outcome of one test: ``reason`` is one line; ``details`` are the lines to show under it."""

    __test__ = False  # not a pytest class

    name: str
    kind: Literal["example", "property"]
    pos: Pos
    ok: bool
    reason: str = ""
    details: list[str] = msgspec.field(default_factory=list)
    seconds: float = 0.0
    runs: int = 0


class _Failed(Exception):
    """A test's verdict, raised from deep inside a run."""

    def __init__(self, reason: str, details: list[str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details or []


def _error_lines(exc: BaseException) -> tuple[str, list[str]]:
    """A script error as its one-line message and the source line with a caret."""
    if isinstance(exc, ScriptError):
        head, *rest = exc.format().split("\n")
        return head, rest
    if isinstance(exc, StreamrtError):
        return str(exc), []
    return f"{type(exc).__name__}: {exc}", []


def _where(fn: Callable[..., Any]) -> str:
    """``file:line`` of a script function, for messages about a ``:check``."""
    code = getattr(fn, "__code__", None)
    return f"{code.co_filename}:{code.co_firstlineno}" if code is not None else getattr(fn, "__name__", "fn")


def _harness(subject: Subject, capacity: int, *, bystander: bool = False) -> StreamHarness:
    return StreamHarness(
        subject.processor,
        initial_state=subject.initial_state,
        queue_capacity=subject.queue_capacity or capacity,
        on_end=subject.on_end,
        processor_name=subject.name,
        options=subject.options,
        bystander=bystander,
    )


def _apply(h: StreamHarness, step: Step, number: int, *, strict: bool) -> None:
    """Do one step; ``strict`` (examples) fails a push that could only wait for ever."""
    if step.kind in ("chunk", "chunks"):
        chunks = [step.value] if step.kind == "chunk" else list(step.value)
        if "full" in h.push_many(chunks, step.meta) and strict:
            raise _Failed(
                f"step {number}: the stream is paused and its queue is full ({h.capacity} chunks), so a "
                "chunk would wait for ever; resume first, or give a larger :queue-capacity"
            )
    elif step.kind == "directive":
        h.directive(step.value)
    elif step.kind == "advance-ms":
        h.advance(step.value)
    else:
        h.end_input()


def _invariants(h: StreamHarness, when: str) -> None:
    try:
        h.check()
    except AssertionError as exc:
        raise _Failed(f"runtime invariant broken {when}: {exc}") from None


def _unexpected_error(h: StreamHarness, expected: str) -> _Failed:
    record = h.provider.record(h.sid)
    if h.failures:
        head, lines = _error_lines(h.failures[-1])
        return _Failed(f"the stream ended in :error{expected}: {head}", lines)
    return _Failed(f"the stream ended in :error{expected}: {record.message}")


def _run_checks(checks: tuple[Callable[..., Any], ...], result: dict[Keyword, Any]) -> None:
    for fn in checks:
        try:
            verdict = fn(result)
        except Exception as exc:
            head, lines = _error_lines(exc)
            raise _Failed(f"the :check at {_where(fn)} failed: {head}", lines) from None
        if not is_truthy(verdict):
            raise _Failed(
                f"the :check at {_where(fn)} returned {pr_str(verdict)}",
                [f"result: {show({k: v for k, v in result.items() if k is not _K('chunks')}, 400)}"],
            )


# --- examples -------------------------------------------------------------------------------------------------


def _example(test: ExampleTest) -> None:
    h = _harness(test.subject, DEFAULT_QUEUE_CAPACITY)
    try:
        if test.source is not None:
            try:
                h.start(open_source(test.source, options=test.subject.options))
            except StreamrtError as exc:
                raise _Failed(f"cannot open :source {test.source}: {exc}") from None
            if not h.wait(test.timeout):
                raise _Failed(
                    f"the stream is still {h.status.value} after {test.timeout:g} s of :source {test.source}"
                )
        else:
            h.start()
            for number, step in enumerate(test.steps, start=1):
                _apply(h, step, number, strict=True)
            if test.end_input:
                h.end_input()
        _invariants(h, "")
        _judge(test, h)
    finally:
        h.close()


def _judge(test: ExampleTest, h: StreamHarness) -> None:
    result = h.result()
    expect = test.expect
    status = result[_K("status")]
    want_status = expect.get("status")
    if status is _K("error") and want_status is not _K("error") and "error" not in expect:
        raise _unexpected_error(h, f" (expected {pr_str(want_status)})" if want_status is not None else "")
    failures: list[tuple[str, list[str]]] = []
    if want_status is not None and want_status is not status:
        reason = f":status: expected {pr_str(want_status)}, got {pr_str(status)}"
        message = result[_K("error")]
        failures.append((reason + (f" ({message})" if message else ""), []))
    if "error" in expect:
        message = result[_K("error")]
        if message is None or expect["error"] not in message:
            failures.append(
                (f":error: expected a message containing {pr_str(expect['error'])}, got {show(message)}", [])
            )
    for key in ("outputs", "state"):
        if key in expect:
            found = describe(":" + key, expect[key], result[_K(key)])
            if found is not None:
                failures.append(found)
    if "stats" in expect:
        stats = result[_K("stats")]
        wanted = expect["stats"]
        found = describe(":stats", wanted, {k: stats[k] for k in wanted})
        if found is not None:
            failures.append(found)
    if failures:
        details = [line for _, lines in failures for line in lines]
        details += [f"also {reason}" for reason, _ in failures[1:]]
        raise _Failed(failures[0][0], details)
    _run_checks(test.checks, result)


def run_example(test: ExampleTest) -> TestResult:
    """Run one ``deftest`` through a real provider."""
    started = time.perf_counter()
    try:
        _example(test)
    except _Failed as exc:
        return TestResult(
            test.name, "example", test.pos, False, exc.reason, exc.details, time.perf_counter() - started, 1
        )
    return TestResult(test.name, "example", test.pos, True, seconds=time.perf_counter() - started, runs=1)


# --- properties -----------------------------------------------------------------------------------------------


def _steps_strategy(test: PropertyTest, capacity: int) -> Any:
    from hypothesis import strategies as st

    chunk = test.strategy
    options = [
        chunk.map(lambda c: {_K("chunk"): c}),
        st.lists(chunk, min_size=2, max_size=capacity + 2).map(lambda cs: {_K("chunks"): tuple(cs)}),
    ]
    if test.directives:
        options.append(st.sampled_from(test.directives).map(lambda d: {_K("directive"): d}))
    if test.end_input:
        options.append(st.just({_K("end-input"): True}))
    if test.advance_ms is not None:
        options.append(st.integers(0, test.advance_ms).map(lambda ms: {_K("advance-ms"): ms}))
    return st.lists(st.one_of(options), max_size=test.max_steps).map(tuple)


def _property_run(test: PropertyTest, steps: tuple[dict[Keyword, Any], ...]) -> _Failed | None:
    """One run of a property on ``steps``; the failure, or None when everything held."""
    h = _harness(test.subject, _PROPERTY_CAPACITY, bystander=True)
    try:
        h.start()
        for number, step in enumerate(parse_steps(steps), start=1):
            _apply(h, step, number, strict=False)
            _invariants(h, f"after step {number}")
            if h.failures and not test.allow_errors:
                head, lines = _error_lines(h.failures[-1])
                return _Failed(f"the processor raised at step {number}: {head}", lines)
        if test.end_input:
            h.end_input()
            _invariants(h, "after the input ended")
        if not test.allow_errors and h.status is Status.ERROR:
            return _unexpected_error(h, "")
        _run_checks(test.checks, h.result())
    except _Failed as exc:
        return exc
    except Exception as exc:
        return _Failed(f"the run failed: {type(exc).__name__}: {exc}")
    finally:
        h.close()
    return None


def run_property(test: PropertyTest, *, runs: int | None = None, seed: int | None = None) -> TestResult:
    """Look for a failing run of a ``defproperty`` with hypothesis; report the shrunk failure if there is one."""
    from hypothesis import find, settings
    from hypothesis.errors import NoSuchExample

    started = time.perf_counter()
    count = runs or test.runs
    capacity = test.subject.queue_capacity or _PROPERTY_CAPACITY
    chosen_seed = seed if seed is not None else test.seed if test.seed is not None else 0
    config = settings(max_examples=count, database=None, deadline=None, print_blob=False)
    try:
        found = find(
            _steps_strategy(test, capacity),
            lambda steps: _property_run(test, steps) is not None,
            settings=config,
            random=random.Random(chosen_seed),
        )
    except NoSuchExample:
        return TestResult(
            test.name, "property", test.pos, True, seconds=time.perf_counter() - started, runs=count
        )
    failure = _property_run(test, found)
    elapsed = time.perf_counter() - started
    if failure is None:
        failure = _Failed(
            "the failure did not happen again when the shrunk case was rerun (flaky processor?)"
        )
    details = [
        *failure.details,
        f"shrunk to {len(found)} step(s) (seed {chosen_seed}); as a deftest :steps vector:",
        f"  {pr_str(found)}",
    ]
    return TestResult(test.name, "property", test.pos, False, failure.reason, details, elapsed, count)


def run_test_file(
    test_file: TestFile,
    *,
    select: Callable[[str], bool] | None = None,
    runs: int | None = None,
    seed: int | None = None,
) -> list[TestResult]:
    """Run the file's tests (those ``select`` keeps, by name), in file order."""
    results = []
    for test in test_file.tests:
        if select is not None and not select(test.name):
            continue
        if isinstance(test, ExampleTest):
            results.append(run_example(test))
        else:
            results.append(run_property(test, runs=runs, seed=seed))
    return results
