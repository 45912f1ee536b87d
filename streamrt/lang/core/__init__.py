"""The language's core function library.

The compiler reads :data:`CORE` (language name -> :class:`CoreFn`) to resolve symbols such as ``get-in``, to check
arity when a script is compiled, and to skip truthiness guards around functions marked ``returns_bool``. The
implementations are plain Python functions over the value model of :mod:`streamrt.values`, split by job:

| module | functions |
|---|---|
| ``numeric`` | ``+ - * / quot mod inc dec abs max min < <= > >=``, rounding, ``parse-int`` ``parse-float`` |
| ``equality`` | ``= not=`` and :func:`equals` (also the compiler's inline fast path) |
| ``ordering`` | ``compare sort sort-by`` |
| ``predicates`` | ``not nil? some? number? ... fn?`` |
| ``maps`` | ``get get-in assoc ... select-keys zipmap hash-map`` |
| ``colls`` | ``count first rest ... range partition into vec`` |
| ``functions`` | ``map filter remove reduce some every? ... apply comp partial`` |
| ``strings`` | ``str subs ... keyword name parse-json to-json pr-str`` |
| ``regex`` | ``re-pattern re-find re-matches re-seq`` (RE2), the patterns ``str/replace`` and ``split`` take |
| ``seqs`` | ``peek pop subvec take-last partition-by dedupe interleave flatten reductions ...`` |
| ``combinators`` | ``constantly complement fnil juxt some-fn every-pred max-key min-key ...`` |
| ``sets`` | ``set hash-set set? disj`` and ``clojure.set/union ...`` |
| ``text`` | ``clojure.string/blank? ...`` (also ``str/...``), ``format``, ``namespace`` |
| ``windowspec`` | ``window``: a window spec checked, its aggregations, the plan it compiles to |
| ``windows`` | ``window-step window-flush window-bounds``: tumbling, sliding and session windows run |

Rules every function keeps: arguments are never mutated; only nil and false are falsy; booleans are not numbers;
nil acts as an empty collection where Clojure's does; a user's mistake raises :class:`ScriptRuntimeError` (via
:func:`fail`) with a message naming the function, what it expected and what it got.
"""

from __future__ import annotations

from streamrt.lang.core import (  # noqa: F401  (imported for their registrations in CORE)
    colls,
    combinators,
    functions,
    maps,
    numeric,
    ordering,
    predicates,
    regex,
    seqs,
    sets,
    strings,
    text,
    windows,
    windowspec,
)
from streamrt.lang.core.equality import equals
from streamrt.lang.core.registry import CORE, CoreFn, core, core_name, display_name, fail, script_names

__all__ = ["CORE", "CoreFn", "core", "core_name", "display_name", "equals", "fail", "script_names"]
