"""The per-chunk loop: written once, as :func:`_template`, and generated for each stream configuration.

Theory of operation
-------------------
Processors are synchronous, so a batch of chunks runs as one tight loop with no await inside: a chunk is never
half-processed when a task is cancelled (cancellation lands between batches). What that loop must do depends on
the stream: whether the processor takes metadata, whether its script's compiler proved the shape of every result
(:func:`~streamrt.runtime.callables.result_shape`), which schemas it checks, what a failed chunk does
(``:on-error``), and whether it takes chunks from its queue or straight from a producer's iterable (the hand-off
of ``push_many``). Testing each of those with an ``if`` per chunk costs every stream the checks of all the others.

So the loop is written once, below, as an ordinary function whose configuration-dependent parts are ``if K.flag:``
blocks, and :func:`chunk_loop` generates the variant for one :class:`LoopKey`: it parses the template's source,
replaces each ``K.flag`` with the key's constant, drops the blocks that cannot run, and compiles the rest, once per
key (the way :mod:`streamrt.policy.schema` compiles a check per schema). The generated code keeps the template's
line numbers and file name, so a traceback points into this file.

A variant processes chunks from ``chunks`` until it runs out, the stream stops being active (a directive, a
failure, a processor pausing its own stream through a capability), its turn on the event loop is over (the time a
batch may take, :mod:`streamrt.lang.turn`: so a slow stream cannot starve the others, nor a shutdown) or a write
the stream must wait for is set off (``rec.tasks.pending``). The status and the turn cost one test per chunk
between them, ``seq >= rec.look_at``: a status change sets ``look_at`` to 0, and the clock is read only every
``rec.pace`` chunks. A halt (a shutdown) that stops a metered processor part way puts its chunk back in the queue. It keeps the state and the counters in locals and writes them back to the record before
anything else can look at it: the slow path of the result contract, a failure, the end of the batch. Queued chunks
come as ``(seq, chunk, meta, received_at)`` entries popped one at a time; handed-off chunks as ``(seq, chunk)``
pairs numbered as they are taken, all with the batch's metadata and time.
"""

from __future__ import annotations

import ast
import functools
import linecache
import textwrap
from collections.abc import Iterator
from typing import Any, Final

import msgspec

from streamrt.errors import SchemaViolation
from streamrt.lang.cache import ScriptCache
from streamrt.lang.turn import TURN, Halted
from streamrt.meta import RECEIVED_AT, SEQ, SOURCE, STREAM_ID
from streamrt.policy.guard import Guard, OnError
from streamrt.runtime.callables import failure_text
from streamrt.runtime.contract import STATE, interpret
from streamrt.runtime.machine import Status
from streamrt.runtime.stream import ChunkLoop, LoopHost, Loops, Meta, StreamRecord

__all__ = [
    "ChunkLoop",
    "LoopHost",
    "LoopKey",
    "Loops",
    "cache_loops",
    "chunk_failure",
    "chunk_loop",
    "loop_source",
    "loops_for",
]

NO_OUTPUTS: Final[tuple[Any, ...]] = ()
ACTIVE: Final = Status.ACTIVE


class LoopKey(msgspec.Struct, frozen=True):
    """One stream configuration, as far as its chunk loop differs by it."""

    queued: bool = True
    """Chunks come from the queue as entries (else: a producer's hand-off, numbered as they are taken)."""
    meta: bool = False
    """The processor takes a third argument, the chunk's metadata."""
    shape: str | None = None
    """What every result is, when the compiler could tell: ``"bare"`` (the new state) or ``"state"`` (``{:state
    x}`` alone); None: each result is checked against the contract."""
    input: bool = False
    """Each chunk is checked against the input schema (a batch that fits as a whole runs the variant without)."""
    state: bool = False
    """The new state is checked against the state schema."""
    output: bool = False
    """Outputs are checked against the output schema (never with a known shape: those results have none)."""
    fail: bool = True
    """A failed chunk fails the stream (else the engine's :meth:`~LoopHost.skip` applies ``:skip`` or
    ``:dead-letter``)."""

    def name(self) -> str:
        parts = ["queued" if self.queued else "handoff", "meta" if self.meta else "", self.shape or "checked"]
        parts += [flag for flag in ("input", "state", "output") if getattr(self, flag)]
        parts.append("fail" if self.fail else "skip")
        return "chunk_loop_" + "_".join(p for p in parts if p)


class _Flags:
    """What the template reads as ``K.flag``; the generator replaces each read with a constant."""

    queued: bool
    meta: bool
    input: bool
    state: bool
    output: bool
    fail: bool
    bare: bool
    """The result is the new state."""
    wrapped: bool
    """The result is ``{:state x}``."""
    checked: bool
    """The shape is unknown: results go through the contract."""
    direct: bool
    """The result is the new state, taken as it is (bare, no state schema)."""


K: Final = _Flags()


def _template(
    host: LoopHost, rec: StreamRecord, chunks: Iterator[Any], cmeta: Meta, received: float, seq: int
) -> int:
    """One batch of one stream; see the module's docs. Never called itself: :func:`chunk_loop` generates from it."""
    program = rec.program
    proc = program.processor
    guard: Guard = program.guard  # type: ignore[assignment]
    sid = rec.id
    active = ACTIVE
    state = rec.state
    start = done = seq
    failed: Exception | None = None
    TURN.begin(rec, seq)
    if K.meta:
        kind = rec.source_kind
    if K.input:
        fits = guard.input.check  # type: ignore[union-attr]
    if K.state:
        state_fits = guard.state.check  # type: ignore[union-attr]
    if K.checked:
        disjoint = program.state_only
        mode = program.result_mode
        name = program.name
    try:
        for seq, chunk in chunks:  # queued variants take (seq, chunk, cmeta, received) entries
            try:
                if K.input and not fits(chunk):
                    guard.check_input(sid, seq, chunk)
                if K.meta:
                    meta = {STREAM_ID: sid, SEQ: seq, SOURCE: kind, RECEIVED_AT: received}
                    if cmeta:
                        meta = {**cmeta, **meta}
                if K.direct:
                    state = proc(state, chunk, meta) if K.meta else proc(state, chunk)
                else:
                    res = proc(state, chunk, meta) if K.meta else proc(state, chunk)
                    if K.wrapped:
                        res = res[STATE]
                    # the commonest results go straight on: a bare map, and {:state x} alone
                    if K.checked and (type(res) is not dict or not disjoint(res)):
                        if type(res) is dict and len(res) == 1 and STATE in res:
                            res = res[STATE]
                        else:
                            res, event, outs, timers = interpret(res, state, name, mode)
                            if K.state or K.output:
                                guard.check_result(sid, seq, res, outs)
                            if event is not None or outs or timers:
                                # the record is brought up to date before anything can look at it
                                state = res
                                rec.state = state
                                rec.processed += seq - done
                                done = seq
                                if not K.queued:
                                    rec.seq = seq
                                try:
                                    if timers:
                                        host.set_timers(rec, timers)
                                    if outs:
                                        host.emit(rec, outs)
                                    if event is not None:
                                        host.carry_out(rec, rec.apply(event), seq)
                                except Exception as exc:
                                    # not the chunk's fault (an output sink failed): the stream fails, whatever
                                    # its policy
                                    failed = exc
                                    break
                                if rec.tasks.pending is not None:
                                    break
                                res = rec.state
                    if K.state and not state_fits(res):
                        guard.check_result(sid, seq, res, NO_OUTPUTS)
                    state = res
            except Exception as exc:
                rec.state = state
                rec.processed += seq - done
                done = seq
                if not K.queued:
                    rec.seq = seq
                if K.fail:
                    failed = exc
                    break
                if not host.skip(rec, exc, seq, chunk, cmeta, received):
                    break
            # one test after every chunk: the status changed (a processor may pause or cancel its own stream
            # through a capability), the stream's turn is over, or its pace says to look at the clock
            if seq >= rec.look_at and (rec.status is not active or not TURN.look(rec, seq, start)):
                break
    except Halted:
        # a halt stopped the processor part way through the chunk, which is therefore not processed (the state is
        # the one before it): it goes back to the front of the queue, for the snapshot and a resume
        if seq == start:
            raise  # a timer's run (numbered as the chunk before it), which its runner keeps due
        done = seq  # so it is not counted as processed
        rec.queue.appendleft((seq, chunk, cmeta, received))
    finally:
        rec.state = state
        rec.processed += seq - done
        if not K.queued:
            rec.seq = seq
        n = seq - start
        if failed is not None:
            host.fail(rec, chunk_failure(failed, seq), seq)
        if n:
            host.batch_done(rec, n, received, K.queued)
    return n


def chunk_failure(exc: BaseException, seq: int) -> str:
    """A failed chunk's message: a schema's verdict says it all; anything else is prefixed with the chunk."""
    return str(exc) if isinstance(exc, SchemaViolation) else f"chunk {seq}: {failure_text(exc)}"


# --- the generator ------------------------------------------------------------------------------------------------


def _constants(key: LoopKey) -> dict[str, bool]:
    checked = key.shape is None
    values = {f: bool(getattr(key, f)) for f in key.__struct_fields__ if f != "shape"}
    values.update(
        bare=key.shape == "bare",
        wrapped=key.shape == "state",
        checked=checked,
        direct=key.shape == "bare" and not key.state,
    )
    return values


class _Specialize(ast.NodeTransformer):
    """``K.flag`` → its constant; an ``if`` on constants → the branch that runs; code after a jump → gone."""

    def __init__(self, values: dict[str, bool], queued: bool) -> None:
        self.values = values
        self.queued = queued

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == "K":
            return ast.copy_location(ast.Constant(self.values[node.attr]), node)
        return self.generic_visit(node)

    def visit_If(self, node: ast.If) -> Any:
        self.generic_visit(node)
        node.test = _fold(node.test)
        if not isinstance(node.test, ast.Constant):
            return node
        return (node.body if node.test.value else node.orelse) or None

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        self.generic_visit(node)
        test = _fold(node.test)
        if isinstance(test, ast.Constant):
            return node.body if test.value else node.orelse
        return node

    def visit_For(self, node: ast.For) -> ast.AST:
        self.generic_visit(node)
        if self.queued and isinstance(node.target, ast.Tuple):
            names = ("seq", "chunk", "cmeta", "received")
            node.target = ast.copy_location(
                ast.Tuple([ast.Name(n, ast.Store()) for n in names], ast.Store()), node.target
            )
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        if isinstance(node, ast.stmt | ast.ExceptHandler):
            for name in ("body", "orelse", "finalbody"):
                block = getattr(node, name, None)
                if isinstance(block, list) and (block or name == "body"):
                    setattr(node, name, _reachable(block))
        return node


def _fold(test: ast.expr) -> ast.expr:
    """``test`` with its constant parts worked out (``not``, ``and``, ``or``); a Constant if nothing is left."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _fold(test.operand)
        if isinstance(inner, ast.Constant):
            return ast.copy_location(ast.Constant(not inner.value), test)
        test.operand = inner
        return test
    if isinstance(test, ast.BoolOp):
        decisive = isinstance(test.op, ast.Or)  # the value that settles the whole test
        kept = []
        for value in map(_fold, test.values):
            if isinstance(value, ast.Constant):
                if bool(value.value) is decisive:
                    return ast.copy_location(ast.Constant(decisive), test)
                continue
            kept.append(value)
        if not kept:
            return ast.copy_location(ast.Constant(not decisive), test)
        if len(kept) == 1:
            return kept[0]
        test.values = kept
        return test
    return test


def _reachable(block: list[ast.stmt]) -> list[ast.stmt]:
    """The statements of a block up to its first unconditional jump, and ``pass`` for an emptied block."""
    out: list[ast.stmt] = []
    for stmt in block:
        out.append(stmt)
        if isinstance(stmt, ast.Continue | ast.Break | ast.Return | ast.Raise):
            break
    return out or [ast.Pass()]


@functools.cache
def _template_source() -> str:
    """The text of :func:`_template`: the lines of this file its code spans.

    Not ``inspect.getsource``, which finds where a function ends by tokenizing it: about 2-4 ms of every start, more
    than the rest of this module's import (issue #17). The code's positions say where its last statement ends.
    Read on first use: a run whose loops come from the compiled-script cache never needs it.
    """
    code = _template.__code__
    last = max(end for _, end, _, _ in code.co_positions() if end is not None)
    return textwrap.dedent("".join(linecache.getlines(code.co_filename)[code.co_firstlineno - 1 : last]))


_FIRST_LINE: Final = _template.__code__.co_firstlineno
_NAMESPACE: Final = {
    name: globals()[name]
    for name in (
        "ACTIVE",
        "NO_OUTPUTS",
        "RECEIVED_AT",
        "SEQ",
        "SOURCE",
        "STATE",
        "STREAM_ID",
        "chunk_failure",
        "interpret",
        "Halted",
        "TURN",
    )
}
_GENERATED: dict[LoopKey, ChunkLoop] = {}


def chunk_loop(key: LoopKey) -> ChunkLoop:
    """The loop for ``key``, generated from :func:`_template` on first use and kept."""
    loop = _GENERATED.get(key)
    if loop is None:
        loop = _GENERATED[key] = _generate(key)
    return loop


def loop_source(key: LoopKey) -> str:
    """The Python text of the loop generated for ``key`` (for reading; what runs is compiled from the tree)."""
    return ast.unparse(_specialized(key))


def _specialized(key: LoopKey) -> ast.Module:
    # parsed below as many empty lines as the template starts at, so every node has its line in this file without
    # a walk of the tree to move it (ast.increment_lineno: a fifth of the generation's time)
    tree = ast.parse("\n" * (_FIRST_LINE - 1) + _template_source())
    func = tree.body[0]
    assert isinstance(func, ast.FunctionDef)
    func.name = key.name()
    func.body = func.body[1:]  # the docstring
    specialized = _Specialize(_constants(key), key.queued).visit(tree)
    assert isinstance(specialized, ast.Module)
    return ast.fix_missing_locations(specialized)


def _generate(key: LoopKey) -> ChunkLoop:
    cache = _code_cache
    name = f"chunk loop {key!r}"
    code = None if cache is None else cache.load_code(name, __file__)
    if code is None:
        code = compile(_specialized(key), __file__, "exec")
        if cache is not None:
            cache.store_code(name, __file__, code)
    namespace = dict(_NAMESPACE)
    exec(code, namespace)
    loop: ChunkLoop = namespace[key.name()]
    return loop


_code_cache: ScriptCache | None = None


def cache_loops(cache: ScriptCache | None) -> None:
    """Keep the code of the loops generated from now on in ``cache``, and take it from there (None: generate each
    one): a parse and a compile of the template, ~4 ms of a start, become a read (``streamrt run``; issue #17).
    An entry's key has this file's mtime and size, so an edited template is generated again."""
    global _code_cache
    _code_cache = cache


def loops_for(meta: bool, shape: str | None, guard: Guard | None) -> Loops:
    """The loops of a stream whose processor takes ``meta``, returns ``shape`` and is checked by ``guard``
    (one set per configuration, shared by its streams)."""
    key = (
        meta,
        shape,
        guard is not None and guard.input is not None,
        guard is not None and guard.state is not None,
        guard is not None and guard.output is not None and shape is None,
        guard is None or guard.on_error is OnError.FAIL,
    )
    loops = _LOOPS.get(key)
    if loops is None:
        loops = _LOOPS[key] = _loops(meta, shape, guard)
    return loops


_LOOPS: dict[tuple[bool, str | None, bool, bool, bool, bool], Loops] = {}


def _loops(meta: bool, shape: str | None, guard: Guard | None) -> Loops:
    state = guard is not None and guard.state is not None
    output = guard is not None and guard.output is not None and shape is None
    fail = guard is None or guard.on_error is OnError.FAIL
    checked = guard is not None and guard.input is not None
    base = LoopKey(meta=meta, shape=shape, state=state, output=output, fail=fail)
    handoff = LoopKey(queued=False, meta=meta, shape=shape, state=state, output=output, fail=fail)
    return Loops(
        chunk_loop(base),
        chunk_loop(_with_input(base)) if checked else None,
        _on_first_call(handoff),
        _on_first_call(_with_input(handoff)) if checked else None,
    )


def _on_first_call(key: LoopKey) -> ChunkLoop:
    """The loop for ``key``, generated when it first runs: only ``push_many`` hands chunks off, so a stream fed by
    its source never runs its hand-off loops, and generating one is a parse and a compile (3.7% of the instructions
    of a whole ``streamrt run processors/weather.rtfs``, issue #17). The call through costs a frame and a test once
    a batch."""
    loop: ChunkLoop | None = None

    def handoff(
        host: LoopHost, rec: StreamRecord, chunks: Iterator[Any], cmeta: Meta, received: float, seq: int
    ) -> int:
        nonlocal loop
        if loop is None:
            loop = chunk_loop(key)
        return loop(host, rec, chunks, cmeta, received, seq)

    return handoff


def _with_input(key: LoopKey) -> LoopKey:
    return LoopKey(
        queued=key.queued,
        meta=key.meta,
        shape=key.shape,
        input=True,
        state=key.state,
        output=key.output,
        fail=key.fail,
    )
