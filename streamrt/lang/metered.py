"""The metered variant of a script: its forms compiled again with the meter's prologue (see
:mod:`streamrt.lang.meter`), run once per :class:`~streamrt.lang.meter.Limits`, and the processors taken from it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from streamrt.lang.meter import SLICE, Limits, _Meter, install_meter
from streamrt.lang.rt import support_names
from streamrt.lang.script import Script
from streamrt.values import Keyword

__all__ = ["metered"]


def _namespace(script: Script, limits: Limits) -> dict[str, Any]:
    """Compile (once per script) and run (once per limits) the metered variant of ``script``."""
    compiled = script._metered_code
    if compiled is None:  # not from the cache: the compiler is imported only now (start-up, issue #17)
        from streamrt.lang.compiling import compile_forms

        compiled = script._metered_code = compile_forms(script.compiled.forms, script.filename, meter=True)
    ns: dict[str, Any] = {"__builtins__": {}, **support_names(), **compiled.constants}
    replay = iter(script.toplevel_results)

    def replayed(capability: Keyword, args: Any, line: int, column: int) -> Any:
        return next(replay, None)

    install_meter(ns, limits, script.runtime_error)
    ns["_rt_call"] = replayed
    meter: _Meter = ns["_M"]
    # the top level ran once already, within no limits; running it again must not fail on them
    meter.k = meter.dm = sys.maxsize
    exec(compiled.code, ns)
    meter.k, meter.dm, meter.d = min(SLICE, limits.fuel), limits.depth, 0
    ns["_rt_call"] = script._call
    for gdef in compiled.globals.values():
        value = ns.get(gdef.pyname)
        if gdef.arity is not None and callable(value):
            value.__name__ = value.__qualname__ = gdef.name
            value.__doc__ = gdef.doc
    return ns


def _script_of(fn: Callable[..., Any]) -> Script | None:
    """The script whose namespace ``fn`` was compiled in (its ``_rt_call`` is the script's bound ``_call``)."""
    namespace = getattr(fn, "__globals__", None)
    owner = getattr(namespace.get("_rt_call"), "__self__", None) if isinstance(namespace, dict) else None
    return owner if isinstance(owner, Script) else None


def metered(
    fn: Callable[..., Any],
    limits: Limits | None,
    *,
    when_ready: Callable[[Callable[..., Any]], None] | None = None,
) -> Callable[..., Any]:
    """The metered variant of a named function of a script, or ``fn`` itself (no limits, or not a script's).

    While the script's top level is still running (an ``mcp-stream`` form starting a stream), the variant cannot be
    made yet, since making it replays the top level's results: ``fn`` is returned, and ``when_ready(variant)`` is
    called as soon as the top level is done, before any chunk can be processed.
    """
    script = _script_of(fn)
    if limits is None or script is None:
        return fn
    if script._recorded is not None:
        if when_ready is not None:
            script._after_toplevel.append(lambda: when_ready(metered(fn, limits)))
        return fn
    ns = script._metered.get(limits)
    if ns is None:
        ns = script._metered[limits] = _namespace(script, limits)
    for gdef in script.compiled.globals.values():
        if script.namespace.get(gdef.pyname) is fn:
            variant: Callable[..., Any] = ns[gdef.pyname]
            return variant
    return fn
