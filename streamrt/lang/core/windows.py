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

from collections.abc import Callable
from typing import Any, Final

from streamrt.lang.core.coerce import describe
from streamrt.lang.core.registry import core, fail
from streamrt.lang.core.windowspec import (
    LATE_SIDE,
    LATE_UPDATE,
    SESSION,
    TUMBLING,
    WindowPlan,
    check_time,
    is_window,
    window,
)
from streamrt.meta import KIND, RECEIVED_AT, TIMER
from streamrt.values import Keyword

__all__ = ["window_bounds", "window_flush", "window_step"]

_K = Keyword
STATE, OUTPUTS, TIMERS = _K("state"), _K("outputs"), _K("timers")
TIME: Final = _K("time")
"""A timer chunk's processing time, restated from ``streamrt.runtime.timers.TIME`` (the language is below the
runtime; a test keeps the two equal)."""
CLOSE_TIMER: Final = _K("window/close")
IDLE_TIMER: Final = _K("window/idle")
_AT = _K("at")
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
_KEY, _VALUE = _K("key"), _K("value")
_START, _END, _COUNT, _UPDATE, _LATE_OUT = _K("start"), _K("end"), _K("count"), _K("update"), _K("late")


_PLANS: dict[int, WindowPlan] = {}
_MAX_PLANS: Final = 512


_LAST: list[Any] = [object(), None]
"""The last spec and its plan: a processor steps one spec, so most lookups are one identity check."""


def _plan(fname: str, w: Any) -> WindowPlan:
    if w is _LAST[0]:
        return _LAST[1]  # type: ignore[no-any-return]
    plan = _PLANS.get(id(w))
    if plan is not None and plan.spec is w:
        _LAST[:] = (w, plan)
        return plan
    if not is_window(w):
        fail(f"{fname}: expected a window made by (window {{...}}), got {describe(w)}")
    plan = WindowPlan(window(w))
    if plan.fast_fits:
        plan.fast = _fast_for(plan)
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[id(w)] = plan
    plan.spec = w
    _LAST[:] = (w, plan)
    return plan


@core("window-bounds")
def window_bounds(w: Any, t: Any) -> tuple[tuple[Any, Any], ...]:
    """The ``[start end]`` of each fixed window of ``w`` that holds time ``t``, earliest first."""
    plan = _plan("window-bounds", w)
    if plan.kind is SESSION:
        fail("window-bounds: session windows have no fixed bounds; they grow with their events")
    check_time("window-bounds", t)
    size = plan.size
    return tuple((s, s + size) for s in plan.starts(t))


# --- stepping ---------------------------------------------------------------------------------------------------


class _Run:
    """One step's working copy of a window state (the input map is never changed)."""

    __slots__ = ("armed", "dropped", "emitted", "next", "open", "plan", "seen", "wm")

    def __init__(self, plan: WindowPlan, ws: Any) -> None:
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
        if plan.late is LATE_UPDATE and not fired:
            return end
        return end + plan.lateness

    def event(self, ev: Any, t: Any) -> None:
        plan = self.plan
        key = plan.key(ev) if plan.key is not None else None
        value = plan.value(ev) if plan.value is not None else ev
        placed = self.session(key, value, t) if plan.kind is SESSION else self.fixed(key, value, t)
        if not placed:
            self.late(ev, key, t)
        self.advance(t)

    def fixed(self, key: Any, value: Any, t: Any) -> bool:
        plan, open_, wm = self.plan, self.open, self.wm
        size, lateness, add = plan.size, plan.lateness, plan.add
        placed = False
        for start in (t - t % size,) if plan.kind is TUMBLING else plan.starts(t):
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
        if self.plan.late is LATE_SIDE:
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
        update = self.plan.late is LATE_UPDATE
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
            check_time("window-step", t)
        run.event(ev, t)
    if plan.idle is not None:
        run.seen = _now_ms("window-step", meta)
        if run.armed is None:
            run.armed = run.seen + plan.idle
            timers = {IDLE_TIMER: {_AT: run.armed}}
    return run.result(timers)


def _fast_for(plan: WindowPlan) -> Callable[[dict[Keyword, Any], Any], dict[Keyword, Any] | None]:
    """The step of one event into a tumbling event-time window that is not late, fires nothing and was not fired
    (the common case), for a spec whose time, key and value are keywords, with the plan's parts bound; it returns
    None for anything else, which the general step takes."""
    assert plan.fields is not None
    time_kw, key_kw, value_kw = plan.fields
    size, lateness, add, init = plan.size, plan.lateness, plan.add, plan.init
    extra = 0 if plan.late is LATE_UPDATE else lateness
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
