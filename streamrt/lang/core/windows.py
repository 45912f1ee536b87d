"""Windows: tumbling, sliding and session windows over event time or processing time, as core functions.

Theory of operation
-------------------
``(window spec)`` checks a spec map once and returns it with its defaults filled in; ``(window-step w ws chunk
meta)`` is a whole processor step: it folds the chunk's events (a vector chunk is a batch of events) into the window
state ``ws`` and returns a result map ``{:state ws :outputs [...] :timers {...}}``. Everything lives in ``ws``, a
plain language map, so snapshots and resume need nothing of their own, and a step never mutates its input.

Per event: its time ``t`` (event time: the spec's ``:time`` of the event; processing time: ``(:received-at
meta)`` in ms), its key and value; the windows it belongs to (tumbling: one, ``[t - t mod size, + size)``;
sliding: every ``[k*slide, + size)`` holding ``t``; session: ``[t, t + gap)`` merged with the key's sessions it
overlaps); then the *watermark* moves to ``t`` if that is later (it never goes back) and the windows it passed
fire. A window whose end plus the allowed ``:lateness`` the watermark has passed is *closed*; an event all of whose
windows are closed is *late* and follows ``:late``:

| ``:late`` | a window fires | within ``:lateness`` | a late event |
|---|---|---|---|
| ``:drop`` (default) | once, when the watermark reaches end + lateness | counted in the window | counted in ``:dropped`` |
| ``:side`` | the same | the same | emitted as ``{:late event :key k :time t}`` |
| ``:update`` | at its end, then again (``:update true``) for each event that comes within lateness | updates it | counted in ``:dropped`` |

Processing-time windows are closed by a timer: a step asks for ``:window/close`` at the next window's close, and
the timer chunk moves the watermark to its ``:time``. An event-time spec with ``:idle ms`` fires every open window
when no event has come for that long in processing time. The state: ``{:wm watermark :open {[key start] [end acc
n fired]} :next earliest-close :dropped n :armed timer-time :seen last-event-ms}``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, Final

from streamrt.lang.core.coerce import describe
from streamrt.lang.core.registry import core, fail
from streamrt.meta import KIND, RECEIVED_AT, TIMER
from streamrt.printer import pr_str
from streamrt.values import Keyword

__all__ = ["window", "window_bounds", "window_flush", "window_step"]

_K = Keyword
STATE, OUTPUTS, TIMERS = _K("state"), _K("outputs"), _K("timers")
TIME: Final = _K("time")
"""A timer chunk's processing time, restated from ``streamrt.runtime.timers.TIME`` (the language is below the
runtime; a test keeps the two equal)."""
CLOSE_TIMER: Final = _K("window/close")
IDLE_TIMER: Final = _K("window/idle")
_AT = _K("at")

# spec keys
_SIZE, _SLIDE, _GAP, _TIME_FN, _KEY, _VALUE = (
    _K("size"),
    _K("slide"),
    _K("gap"),
    _K("time"),
    _K("key"),
    _K("value"),
)
_AGG, _LATENESS, _LATE, _IDLE, _TYPE = _K("agg"), _K("lateness"), _K("late"), _K("idle"), _K("type")
_INIT, _ADD, _MERGE, _DONE = _K("init"), _K("add"), _K("merge"), _K("done")
SPEC_KEYS: Final = ("size", "slide", "gap", "time", "key", "value", "agg", "lateness", "late", "idle", "type")
# state keys
_WM, _OPEN, _NEXT, _DROPPED, _ARMED, _SEEN = (
    _K("wm"),
    _K("open"),
    _K("next"),
    _K("dropped"),
    _K("armed"),
    _K("seen"),
)
# output keys
_START, _END, _COUNT, _UPDATE, _LATE_OUT = _K("start"), _K("end"), _K("count"), _K("update"), _K("late")

_DROP, _SIDE, _UPDATE_POLICY = _K("drop"), _K("side"), _K("update")
_TUMBLING, _SLIDING, _SESSION = _K("tumbling"), _K("sliding"), _K("session")


# --- aggregations ---------------------------------------------------------------------------------------------


def _minmax(pick: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda acc, x: x if acc is None else pick(acc, x)


_BUILT_IN: Final[
    dict[Keyword, tuple[Any, Callable[..., Any], Callable[..., Any], Callable[..., Any] | None]]
] = {
    # name: (init, add, merge, done(acc, n)); every window also counts its events (n)
    _K("count"): (None, lambda acc, x: None, lambda a, b: None, lambda acc, n: n),
    _K("sum"): (0, operator.add, operator.add, None),
    _K("mean"): (0, operator.add, operator.add, lambda acc, n: acc / n),
    _K("min"): (None, _minmax(min), _minmax(min), None),
    _K("max"): (None, _minmax(max), _minmax(max), None),
    _K("first"): (
        None,
        lambda acc, x: x if acc is None else acc,
        lambda a, b: a if a is not None else b,
        None,
    ),
    _K("last"): (None, lambda acc, x: x, lambda a, b: b if b is not None else a, None),
    _K("collect"): ((), lambda acc, x: (*acc, x), lambda a, b: (*a, *b), None),
}


# --- the compiled spec ------------------------------------------------------------------------------------------


class _Plan:
    """A checked spec, ready to run (cached per spec map: a ``def``'d spec is checked once)."""

    __slots__ = (
        "add",
        "done",
        "fast",
        "fields",
        "gap",
        "idle",
        "init",
        "key",
        "kind",
        "late",
        "lateness",
        "merge",
        "size",
        "slide",
        "spec",
        "time",
        "value",
    )

    def __init__(self, spec: dict[Keyword, Any]) -> None:
        self.spec = spec
        self.kind: Keyword = spec[_TYPE]
        self.size: Any = spec.get(_SIZE)
        self.slide: Any = spec.get(_SLIDE)
        self.gap: Any = spec.get(_GAP)
        self.time: Callable[[Any], Any] | None = _getter(spec.get(_TIME_FN))
        self.key: Callable[[Any], Any] | None = _getter(spec.get(_KEY))
        self.value: Callable[[Any], Any] | None = _getter(spec.get(_VALUE))
        self.lateness: Any = spec[_LATENESS]
        self.late: Keyword = spec[_LATE]
        self.idle: Any = spec.get(_IDLE)
        agg = spec[_AGG]
        if type(agg) is Keyword:
            self.init, self.add, self.merge, self.done = _BUILT_IN[agg]
        else:
            self.init = agg.get(_INIT)
            self.add = agg[_ADD]
            self.merge = agg.get(_MERGE)
            done = agg.get(_DONE)
            self.done = None if done is None else (lambda acc, n: done(acc))
        fields = (spec.get(_TIME_FN), spec.get(_KEY), spec.get(_VALUE))
        self.fields: tuple[Any, Any, Any] | None = (
            fields
            if type(fields[0]) is Keyword and all(f is None or type(f) is Keyword for f in fields)
            else None
        )
        """The time, key and value keywords, when all three are keywords (or absent): read straight from the map."""
        self.fast = (
            _fast_for(self)
            if self.kind is _TUMBLING and self.fields is not None and self.idle is None
            else None
        )
        """One event of tumbling event-time windows: the common case, without the general machinery."""

    def starts(self, t: Any) -> tuple[Any, ...]:
        """The starts of the fixed windows holding ``t``, earliest first."""
        if self.kind is _TUMBLING:
            return (t - t % self.size,)
        slide, size = self.slide, self.size
        start = t - t % slide
        out = []
        while start > t - size:
            out.append(start)
            start -= slide
        out.reverse()
        return tuple(out)


def _getter(fn: Any) -> Callable[[Any], Any] | None:
    """A keyword reads its own key straight from a map (no call through the keyword); a function is called."""
    if fn is None:
        return None
    if type(fn) is Keyword:
        kw = fn
        return lambda event: event.get(kw) if type(event) is dict else None
    return fn  # type: ignore[no-any-return]


_PLANS: dict[int, _Plan] = {}
_MAX_PLANS: Final = 512


_LAST: list[Any] = [object(), None]
"""The last spec and its plan: a processor steps one spec, so most lookups are one identity check."""


def _plan(fname: str, w: Any) -> _Plan:
    if w is _LAST[0]:
        return _LAST[1]  # type: ignore[no-any-return]
    plan = _PLANS.get(id(w))
    if plan is not None and plan.spec is w:
        _LAST[:] = (w, plan)
        return plan
    if type(w) is not dict or w.get(_TYPE) not in (_TUMBLING, _SLIDING, _SESSION):
        fail(f"{fname}: expected a window made by (window {{...}}), got {describe(w)}")
    plan = _Plan(window(w))
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[id(w)] = plan
    plan.spec = w
    _LAST[:] = (w, plan)
    return plan


def _ms(fname: str, spec: Mapping[Any, Any], key: Keyword, *, zero: bool = False) -> Any:
    value = spec.get(key)
    if value is None:
        return None
    if type(value) not in (int, float) or not (value >= 0 if zero else value > 0) or value != value:
        fail(
            f"{fname}: {pr_str(key)} must be a number of ms {'>= 0' if zero else '> 0'}, got {describe(value)}"
        )
    return value


@core("window")
def window(spec: Any) -> dict[Keyword, Any]:
    """A window spec, checked, with its defaults: ``{:size 60000 :time :ts :key :id :agg :mean}`` and more."""
    fname = "window"
    if type(spec) is not dict:
        fail(f"{fname}: expected a map such as {{:size 60000 :time :ts :agg :mean}}, got {describe(spec)}")
    for k in spec:
        if type(k) is not Keyword or k.qualified not in SPEC_KEYS:
            known = " ".join(":" + name for name in SPEC_KEYS)
            fail(f"{fname}: unknown key {pr_str(k)}; known: {known}")
    size, slide, gap = _ms(fname, spec, _SIZE), _ms(fname, spec, _SLIDE), _ms(fname, spec, _GAP)
    if (size is None) == (gap is None):
        fail(
            f"{fname}: give :size (tumbling, or sliding with :slide) or :gap (session windows), not both or neither"
        )
    if slide is not None and size is None:
        fail(f"{fname}: :slide goes with :size")
    kind = _SESSION if gap is not None else _SLIDING if slide is not None and slide != size else _TUMBLING
    if spec.get(_TYPE) not in (None, kind):
        fail(
            f"{fname}: :type {pr_str(spec.get(_TYPE))} does not match the spec, which makes {pr_str(kind)} windows"
        )
    for key in (_TIME_FN, _KEY, _VALUE):
        fn = spec.get(key)
        if fn is not None and not callable(fn):
            fail(f"{fname}: {pr_str(key)} must be a function or a keyword, got {describe(fn)}")
    agg = spec.get(_AGG, _K("count"))
    if type(agg) is Keyword:
        if agg not in _BUILT_IN:
            known = " ".join(pr_str(a) for a in _BUILT_IN)
            fail(
                f"{fname}: unknown :agg {pr_str(agg)}; known: {known}, or {{:init v :add f :merge g :done h}}"
            )
    elif type(agg) is dict:
        for k in agg:
            if k not in (_INIT, _ADD, _MERGE, _DONE):
                fail(f"{fname}: unknown key {pr_str(k)} in :agg; known: :init :add :merge :done")
        for k in (_ADD, _MERGE, _DONE):
            if agg.get(k) is not None and not callable(agg[k]):
                fail(f"{fname}: :agg's {pr_str(k)} must be a function, got {describe(agg[k])}")
        if agg.get(_ADD) is None:
            fail(f"{fname}: :agg needs :add, a function of (acc value)")
        if kind is _SESSION and agg.get(_MERGE) is None:
            fail(f"{fname}: session windows merge: :agg needs :merge, a function of (acc1 acc2)")
    else:
        fail(
            f"{fname}: :agg must be a keyword such as :mean or a map {{:init v :add f}}, got {describe(agg)}"
        )
    late = spec.get(_LATE, _DROP)
    if late not in (_DROP, _SIDE, _UPDATE_POLICY):
        fail(f"{fname}: :late must be :drop, :side or :update, got {describe(late)}")
    idle = _ms(fname, spec, _IDLE)
    if idle is not None and spec.get(_TIME_FN) is None:
        fail(
            f"{fname}: :idle is for event-time windows (with :time); processing-time windows close by the clock"
        )
    out = dict(spec)
    out[_TYPE] = kind
    out[_AGG] = agg
    out[_LATENESS] = _ms(fname, spec, _LATENESS, zero=True) or 0
    out[_LATE] = late
    if kind is _SLIDING and slide is None:
        out[_SLIDE] = size
    return out


@core("window-bounds")
def window_bounds(w: Any, t: Any) -> tuple[tuple[Any, Any], ...]:
    """The ``[start end]`` of each fixed window of ``w`` that holds time ``t``, earliest first."""
    plan = _plan("window-bounds", w)
    if plan.kind is _SESSION:
        fail("window-bounds: session windows have no fixed bounds; they grow with their events")
    _check_time("window-bounds", t)
    size = plan.size
    return tuple((s, s + size) for s in plan.starts(t))


def _check_time(fname: str, t: Any) -> None:
    if type(t) not in (int, float) or t != t:
        fail(f"{fname}: an event's time must be a number (ms), got {describe(t)}")


# --- stepping ---------------------------------------------------------------------------------------------------


class _Run:
    """One step's working copy of a window state (the input map is never changed)."""

    __slots__ = ("armed", "dropped", "emitted", "next", "open", "plan", "seen", "wm")

    def __init__(self, plan: _Plan, ws: Any) -> None:
        if ws is None:
            ws = {}
        elif type(ws) is not dict:
            fail(f"window-step: the window state must be a map (start with {{}}), got {describe(ws)}")
        self.plan = plan
        self.wm: Any = ws.get(_WM)
        self.open: dict[Any, Any] = dict(ws.get(_OPEN) or ())
        self.next: Any = ws.get(_NEXT)
        self.dropped: int = ws.get(_DROPPED, 0)
        self.armed: Any = ws.get(_ARMED)
        self.seen: Any = ws.get(_SEEN)
        self.emitted: list[Any] = []

    def due(self, end: Any, fired: bool) -> Any:
        """When a window of this end next fires (or, once fired, is dropped)."""
        plan = self.plan
        if plan.late is _UPDATE_POLICY and not fired:
            return end
        return end + plan.lateness

    def event(self, ev: Any, t: Any) -> None:
        plan = self.plan
        key = plan.key(ev) if plan.key is not None else None
        value = plan.value(ev) if plan.value is not None else ev
        placed = self.session(key, value, t) if plan.kind is _SESSION else self.fixed(key, value, t)
        if not placed:
            self.late(ev, key, t)
        self.advance(t)

    def fixed(self, key: Any, value: Any, t: Any) -> bool:
        plan, open_, wm = self.plan, self.open, self.wm
        size, lateness, add = plan.size, plan.lateness, plan.add
        placed = False
        for start in (t - t % size,) if plan.kind is _TUMBLING else plan.starts(t):
            end = start + size
            if wm is not None and end + lateness <= wm:
                continue
            slot = (key, start)
            entry = open_.get(slot)
            if entry is None:
                acc, n, fired = plan.init, 0, False
                due = self.due(end, False)
                if self.next is None or due < self.next:
                    self.next = due
            else:
                _, acc, n, fired = entry
            acc = add(acc, value)
            open_[slot] = (end, acc, n + 1, fired)
            if fired:
                self.emit(key, start, end, acc, n + 1, update=True)
            placed = True
        return placed

    def session(self, key: Any, value: Any, t: Any) -> bool:
        plan, open_ = self.plan, self.open
        start, end = t, t + plan.gap
        merged = []
        for slot, entry in open_.items():
            if slot[0] == key and t < entry[0] and end > slot[1]:
                merged.append((slot[1], slot, entry))
        for s, _, entry in merged:
            start, end = min(start, s), max(end, entry[0])
        if self.wm is not None and end + plan.lateness <= self.wm:
            return False
        acc, n, fired = plan.init, 0, False
        merge = plan.merge
        for _, slot, entry in sorted(merged, key=lambda m: m[0]):
            del open_[slot]
            acc = entry[1] if not n else merge(acc, entry[1])
            n += entry[2]
            fired = fired or entry[3]
        acc = plan.add(acc, value)
        open_[(key, start)] = (end, acc, n + 1, fired)
        due = self.due(end, fired)
        if self.next is None or due < self.next:
            self.next = due
        if fired:
            self.emit(key, start, end, acc, n + 1, update=True)
        return True

    def late(self, ev: Any, key: Any, t: Any) -> None:
        if self.plan.late is _SIDE:
            out = {_LATE_OUT: ev, TIME: t}
            if self.plan.key is not None:
                out[_KEY] = key
            self.emitted.append(out)
        else:
            self.dropped += 1

    def advance(self, t: Any) -> None:
        """The watermark moves on to ``t`` (never back); the windows it passed fire."""
        if self.wm is None or t > self.wm:
            self.wm = t
        if self.next is not None and self.wm >= self.next:
            self.fire(lambda end, fired: self.due(end, fired) <= self.wm)

    def fire(self, ready: Callable[[Any, bool], bool]) -> None:
        """Fire (and drop, or keep for updates) the windows ``ready`` says, in order of end then start."""
        open_ = self.open
        firing = [(entry[0], slot[1], slot) for slot, entry in open_.items() if ready(entry[0], entry[3])]
        firing.sort(key=lambda f: (f[0], f[1]))
        update = self.plan.late is _UPDATE_POLICY
        for end, start, slot in firing:
            _, acc, n, fired = open_[slot]
            if not fired:
                self.emit(slot[0], start, end, acc, n)
            if update and not fired and self.due(end, True) > (self.wm if self.wm is not None else end):
                open_[slot] = (end, acc, n, True)  # kept for late updates until end + lateness
            else:
                del open_[slot]
        self.next = min((self.due(e[0], e[3]) for e in open_.values()), default=None)

    def close_all(self) -> None:
        """Fire every window not yet fired and drop them all; the watermark moves past their closes, so an event
        for one of them is late from now on."""
        lateness = self.plan.lateness
        closes = [entry[0] + lateness for entry in self.open.values()]
        self.fire(lambda end, fired: not fired)
        for close in closes:
            if self.wm is None or close > self.wm:
                self.wm = close
        self.open = {}
        self.next = None

    def emit(self, key: Any, start: Any, end: Any, acc: Any, n: int, *, update: bool = False) -> None:
        plan = self.plan
        out: dict[Keyword, Any] = {}
        if plan.key is not None:
            out[_KEY] = key
        out[_START] = start
        out[_END] = end
        out[_COUNT] = n
        out[_VALUE] = plan.done(acc, n) if plan.done is not None else acc
        if update:
            out[_UPDATE] = True
        self.emitted.append(out)

    def result(self, timers: dict[Keyword, Any] | None = None) -> dict[Keyword, Any]:
        state: dict[Keyword, Any] = {_WM: self.wm, _OPEN: self.open, _NEXT: self.next, _DROPPED: self.dropped}
        plan = self.plan
        if plan.time is None:
            # processing time: the next close is a timer, asked for only when it moves
            want = self.next
            if want != self.armed:
                timers = {**(timers or {}), CLOSE_TIMER: None if want is None else {_AT: want}}
            self.armed = want
        if self.armed is not None:
            state[_ARMED] = self.armed
        if self.seen is not None:
            state[_SEEN] = self.seen
        out: dict[Keyword, Any] = {STATE: state}
        if self.emitted:
            out[OUTPUTS] = tuple(self.emitted)
        if timers:
            out[TIMERS] = timers
        return out


def _now_ms(fname: str, meta: Any) -> Any:
    received = meta.get(RECEIVED_AT) if type(meta) is dict else None
    if received is None:
        fail(
            f"{fname}: processing time comes from the chunk's meta: pass the processor's third argument, as in "
            "(defn p [state chunk meta] (window-step w state chunk meta))"
        )
    return round(received * 1000)


@core("window-step")
def window_step(w: Any, ws: Any, chunk: Any, meta: Any = None) -> dict[Keyword, Any]:
    """One processor step of window ``w`` over state ``ws``: ``{:state :outputs :timers}`` (a vector chunk: a
    batch of events)."""
    plan = _LAST[1] if w is _LAST[0] else _plan("window-step", w)
    fast = plan.fast
    if (
        fast is not None
        and type(chunk) is dict
        and type(ws) is dict
        and (type(meta) is not dict or KIND not in meta)
    ):
        done = fast(ws, chunk)
        if done is not None:
            return done
    run = _Run(plan, ws)
    timers: dict[Keyword, Any] | None = None
    if type(meta) is dict and meta.get(KIND) == "timer":
        name = meta.get(TIMER)
        now = chunk.get(TIME) if type(chunk) is dict else None
        if name is CLOSE_TIMER and plan.time is None:
            run.armed = None
            run.advance(now)
        elif name is IDLE_TIMER and plan.idle is not None:
            run.armed = None
            if run.seen is None or now - run.seen >= plan.idle:
                run.close_all()
            else:
                run.armed = run.seen + plan.idle
                timers = {IDLE_TIMER: {_AT: run.armed}}
        return run.result(timers)
    events = chunk if type(chunk) is tuple else (chunk,)
    time_fn = plan.time
    if time_fn is None:
        now = _now_ms("window-step", meta)
        for ev in events:
            run.event(ev, now)
        return run.result()
    for ev in events:
        t = time_fn(ev)
        if type(t) is not int and (type(t) is not float or t != t):
            _check_time("window-step", t)
        run.event(ev, t)
    if plan.idle is not None:
        run.seen = _now_ms("window-step", meta)
        if run.armed is None:
            run.armed = run.seen + plan.idle
            timers = {IDLE_TIMER: {_AT: run.armed}}
    return run.result(timers)


def _fast_for(plan: _Plan) -> Callable[[dict[Keyword, Any], Any], dict[Keyword, Any] | None]:
    """The step of one event into a tumbling event-time window that is not late, fires nothing and was not fired
    (the common case), for a spec whose time, key and value are keywords, with the plan's parts bound; it returns
    None for anything else, which the general step takes."""
    assert plan.fields is not None
    time_kw, key_kw, value_kw = plan.fields
    size, lateness, add, init = plan.size, plan.lateness, plan.add, plan.init
    extra = 0 if plan.late is _UPDATE_POLICY else lateness
    wm_k, open_k, next_k, dropped_k, state_k = _WM, _OPEN, _NEXT, _DROPPED, STATE

    def fast(ws: dict[Keyword, Any], ev: dict[Keyword, Any]) -> dict[Keyword, Any] | None:
        t = ev.get(time_kw)
        if type(t) is not int and type(t) is not float:
            return None
        start = t - t % size
        slot = (ev.get(key_kw) if key_kw is not None else None, start)
        value = ev.get(value_kw) if value_kw is not None else ev
        wm = ws.get(wm_k)
        open_ = ws.get(open_k)
        entry = open_.get(slot) if open_ else None
        nxt = ws.get(next_k)
        if entry is None:
            end = start + size
            if wm is not None and end + lateness <= wm:
                return None  # late
            due = end + extra
            if nxt is None or due < nxt:
                nxt = due
            entry = (end, add(init, value), 1, False)
        elif entry[3]:
            return None  # a fired window kept for updates
        else:
            entry = (entry[0], add(entry[1], value), entry[2] + 1, False)
        if wm is None or t > wm:
            wm = t
        if nxt is not None and wm >= nxt:
            return None  # something fires
        windows = open_.copy() if open_ else {}
        windows[slot] = entry
        return {state_k: {wm_k: wm, open_k: windows, next_k: nxt, dropped_k: ws.get(dropped_k, 0)}}

    return fast


@core("window-flush")
def window_flush(w: Any, ws: Any) -> dict[Keyword, Any]:
    """Fire every open window of ``ws`` now (for ``:on-end``): ``{:state :outputs}``."""
    plan = _plan("window-flush", w)
    run = _Run(plan, ws)
    run.close_all()
    return run.result()
