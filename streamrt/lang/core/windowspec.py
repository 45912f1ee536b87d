"""Window specs: the keys of ``(window {...})``, the built-in aggregations, the check of a spec, and the plan a
checked spec compiles to (what ``window-step`` in :mod:`streamrt.lang.core.windows` runs)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, Final

from streamrt.lang.core.coerce import describe
from streamrt.lang.core.registry import core, fail
from streamrt.printer import pr_str
from streamrt.values import Keyword

__all__ = [
    "LATE_DROP",
    "LATE_SIDE",
    "LATE_UPDATE",
    "SESSION",
    "SLIDING",
    "SPEC_KEYS",
    "TUMBLING",
    "WindowPlan",
    "check_time",
    "is_window",
    "window",
]

_K = Keyword

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

# the kinds of windows, and what a late event does (:late)
TUMBLING, SLIDING, SESSION = _K("tumbling"), _K("sliding"), _K("session")
LATE_DROP, LATE_SIDE, LATE_UPDATE = _K("drop"), _K("side"), _K("update")


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


class WindowPlan:
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
        self.fast: Callable[[dict[Keyword, Any], Any], dict[Keyword, Any] | None] | None = None
        """One event of tumbling event-time windows: the common case, without the general machinery (the stepping
        module sets it, when :attr:`fast_fits`)."""

    @property
    def fast_fits(self) -> bool:
        """Whether the one-event fast step can run this plan: tumbling windows, keyword fields, no ``:idle``."""
        return self.kind is TUMBLING and self.fields is not None and self.idle is None

    def starts(self, t: Any) -> tuple[Any, ...]:
        """The starts of the fixed windows holding ``t``, earliest first."""
        if self.kind is TUMBLING:
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
    kind = SESSION if gap is not None else SLIDING if slide is not None and slide != size else TUMBLING
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
        if kind is SESSION and agg.get(_MERGE) is None:
            fail(f"{fname}: session windows merge: :agg needs :merge, a function of (acc1 acc2)")
    else:
        fail(
            f"{fname}: :agg must be a keyword such as :mean or a map {{:init v :add f}}, got {describe(agg)}"
        )
    late = spec.get(_LATE, LATE_DROP)
    if late not in (LATE_DROP, LATE_SIDE, LATE_UPDATE):
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
    if kind is SLIDING and slide is None:
        out[_SLIDE] = size
    return out


def is_window(w: Any) -> bool:
    """Whether ``w`` is a spec ``(window {...})`` returned."""
    return type(w) is dict and w.get(_TYPE) in (TUMBLING, SLIDING, SESSION)


def check_time(fname: str, t: Any) -> None:
    if type(t) not in (int, float) or t != t:
        fail(f"{fname}: an event's time must be a number (ms), got {describe(t)}")
