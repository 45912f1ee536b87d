"""Schemas: what a stream's chunks, outputs and state must look like, written in the language as data.

Theory of operation
-------------------
A schema is plain data, RTFS / Malli style::

    :int :float :number :string :bool :keyword :nil :any :map :vector
    [:vector T]
    [:map [:key T] [:other {:optional true} T]]      ; open: other keys are allowed
    [:map {:closed true} [:key T]]                   ; closed: no other keys
    [:or T U ...]  [:maybe T]  [:enum :a :b "c" 1]

:func:`compile_schema` parses it once into a tree (:mod:`streamrt.policy.schematree`; a malformed schema is a
:class:`~streamrt.errors.UsageError` naming the option and the bad part) and then generates one Python function for
the whole tree, a single boolean expression with no per-node calls, because a chunk check sits on the hot path of every chunk. Only when that check says no does
the slow path, :meth:`Schema.explain`, walk the value again beside the parsed tree to find *where* it went wrong and
say what was expected there; the two are kept in agreement by a property test.

Kinds are exact, as in the language: ``true`` is not an ``:int``, ``1`` is not a ``:float`` (``:number`` takes
both), and ``:vector`` takes vectors and lists (they compare equal in the language). The generated code refers to
schema constants (map keys, enum members) by name, never by their text, so no schema content becomes code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from streamrt.errors import SchemaViolation, ScriptError, UsageError
from streamrt.lang.forms import Kw, Lit, MapF, VecF
from streamrt.lang.reader import read
from streamrt.policy.schematree import (
    LEAF_TESTS,
    LEAF_TYPES,
    NUM,
    SEQ,
    Enum,
    Leaf,
    Malformed,
    Map,
    Maybe,
    Node,
    Or,
    Vector,
    describe_found,
    parse,
)
from streamrt.printer import pr_str
from streamrt.values import Keyword

__all__ = ["Schema", "compile_schema", "read_schema"]

_ABSENT: Final[Any] = object()


# --- the fast check: one generated function ---------------------------------------------------------------------


class _Codegen:
    """Turns a parsed tree into the text of one boolean expression, keeping constants in a namespace."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {
            "_A": _ABSENT,
            "_NUM": NUM,
            "_SEQ": SEQ,
            "_KW": Keyword,
            "__builtins__": {
                "type": type,
                "isinstance": isinstance,
                "all": all,
                "dict": dict,
                "int": int,
                "float": float,
                "str": str,
                "bool": bool,
            },
        }
        self.names = 0

    def fresh(self) -> str:
        self.names += 1
        return f"x{self.names}"

    def const(self, value: Any) -> str:
        name = f"c{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def expr(self, node: Node, v: str) -> str:
        if isinstance(node, Leaf):
            return LEAF_TYPES[node.name].format(v=v)
        if isinstance(node, Vector):
            if _is_any(node.item):
                return f"isinstance({v}, _SEQ)"
            x = self.fresh()
            return f"(isinstance({v}, _SEQ) and all({self.expr(node.item, x)} for {x} in {v}))"
        if isinstance(node, Map):
            parts = [f"isinstance({v}, dict)"]
            if node.closed:
                parts.append(f"{v}.keys() <= {self.const(frozenset(e.key for e in node.entries))}")
            for e in node.entries:
                key = self.const(e.key)
                if _is_any(e.schema):
                    if not e.optional:
                        parts.append(f"{key} in {v}")
                    continue
                if not e.optional and isinstance(e.schema, Leaf) and e.schema.name != "nil":
                    # a missing key reads as nil, which this test refuses anyway: no presence check needed
                    parts.append(LEAF_TYPES[e.schema.name].format(v=f"{v}.get({key})"))
                    continue
                x = self.fresh()
                test = self.expr(e.schema, x)
                if e.optional:
                    parts.append(f"(({x} := {v}.get({key}, _A)) is _A or {test})")
                else:
                    parts.append(f"(({x} := {v}.get({key}, _A)) is not _A and {test})")
            return "(" + " and ".join(parts) + ")"
        if isinstance(node, Or):
            return "(" + " or ".join(self.expr(o, v) for o in node.options) + ")"
        if isinstance(node, Maybe):
            return f"({v} is None or {self.expr(node.inner, v)})"
        types = self.const(frozenset(type(m) for m in node.members))
        pairs = self.const(frozenset((type(m), m) for m in node.members))
        return f"(type({v}) in {types} and (type({v}), {v}) in {pairs})"


def _is_any(node: Node) -> bool:
    return isinstance(node, Leaf) and node.name == "any"


_TEMPLATE: Final = """\
def make({params}):
    def {name}(v):
        return {body}
    def {name}_queued(entries):
        for _seq, v, _meta, _at in entries:
            if not ({body}):
                return False
        return True
    def {name}_all(values):
        for v in values:
            if not ({body}):
                return False
        return True
    return {name}, {name}_queued, {name}_all
"""


def _generate(
    node: Node, label: str
) -> tuple[Callable[[Any], bool], Callable[[Iterable[Any]], bool], Callable[[Iterable[Any]], bool]]:
    """The check of one value, and the same check in one loop (no call per chunk) over queue entries and values."""
    gen = _Codegen()
    body = gen.expr(node, "v")
    name = "check_" + "".join(ch if ch.isalnum() else "_" for ch in label.lstrip(":"))
    # every name the body uses is a closure variable of a factory: a fast load, and nothing to set up per call
    builtins: dict[str, Any] = gen.namespace.pop("__builtins__")
    values = {**gen.namespace, **builtins}
    source = _TEMPLATE.format(params=", ".join(values), name=name, body=body)
    scope: dict[str, Any] = {"__builtins__": {}}
    exec(compile(source, f"<schema {label}>", "exec"), scope)
    one, queued, every = scope["make"](**values)
    return one, queued, every


# --- the slow path: where and why -------------------------------------------------------------------------------


def _expected(node: Node) -> str:
    """What a node wants, in a few words, for messages."""
    if isinstance(node, Leaf):
        if node.name == "map":
            return "a map"
        if node.name == "vector":
            return "a vector"
        return pr_str(node.spec)
    if isinstance(node, Vector):
        return "a vector"
    if isinstance(node, Map):
        return "a map"
    if isinstance(node, Maybe):
        return f"nil or {_expected(node.inner)}"
    if isinstance(node, Or):
        return " or ".join(_expected(o) for o in node.options)
    return "one of " + " ".join(pr_str(m) for m in node.members)


def _gate(node: Node, value: Any) -> bool:
    """Whether ``value`` is at least of the kind ``node`` wants (used to pick which :or branch to blame)."""
    if isinstance(node, Leaf):
        return LEAF_TESTS[node.name](value)
    if isinstance(node, Vector):
        return isinstance(value, SEQ)
    if isinstance(node, Map):
        return isinstance(value, dict)
    if isinstance(node, Maybe):
        return value is None or _gate(node.inner, value)
    if isinstance(node, Or):
        return any(_gate(o, value) for o in node.options)
    return any(type(value) is type(m) and value == m for m in node.members)


def _explain(node: Node, value: Any, path: list[Any]) -> tuple[list[Any], str] | None:
    """``(path, what is wrong)`` for the first place ``value`` breaks ``node``, or None if it fits."""
    if isinstance(node, Leaf | Enum):
        if _gate(node, value):
            return None
        return path, f"expected {_expected(node)}, found {describe_found(value)}"
    if isinstance(node, Vector):
        if not isinstance(value, SEQ):
            return path, f"expected a vector, found {describe_found(value)}"
        for i, item in enumerate(value):
            found = _explain(node.item, item, [*path, i])
            if found is not None:
                return found
        return None
    if isinstance(node, Map):
        if not isinstance(value, dict):
            return path, f"expected a map, found {describe_found(value)}"
        if node.closed:
            allowed = {e.key for e in node.entries}
            for key in value:
                if key not in allowed:
                    names = " ".join(pr_str(e.key) for e in node.entries) or "none"
                    return [*path, key], f"key not allowed: the map is closed (allowed keys: {names})"
        for e in node.entries:
            item = value.get(e.key, _ABSENT)
            if item is _ABSENT:
                if e.optional:
                    continue
                return [*path, e.key], f"required key is missing (expected {_expected(e.schema)})"
            found = _explain(e.schema, item, [*path, e.key])
            if found is not None:
                return found
        return None
    if isinstance(node, Maybe):
        if value is None:
            return None
        found = _explain(node.inner, value, path)
        if found is not None and len(found[0]) == len(path):
            return path, f"expected {_expected(node)}, found {describe_found(value)}"
        return found
    results = [_explain(o, value, path) for o in node.options]
    if any(r is None for r in results):
        return None
    fitting = [r for o, r in zip(node.options, results, strict=True) if _gate(o, value)]
    if len(fitting) == 1:
        return fitting[0]
    return path, f"expected {_expected(node)}, found {describe_found(value)}"


# --- the public face --------------------------------------------------------------------------------------------


class Schema:
    """A compiled schema: ``check(value)`` is the fast yes/no, ``explain``/``violation`` say what is wrong."""

    __slots__ = ("_tree", "check", "check_all", "check_queued", "option", "spec")

    def __init__(self, spec: Any, option: str, tree: Node) -> None:
        self.spec = spec
        """The schema as data, as written (kept in snapshots so a resumed stream checks the same)."""
        self.option = option
        self._tree = tree
        self.check: Callable[[Any], bool]
        """True when the value fits; one generated function, no calls per node."""
        self.check_queued: Callable[[Iterable[Any]], bool]
        """True when the value of every ``(seq, value, meta, enqueued_at)`` queue entry fits: a whole batch of
        chunks checked in one call, which is what keeps an input schema cheap on the provider's hot path."""
        self.check_all: Callable[[Iterable[Any]], bool]
        """True when every value fits: ``check_queued`` for a batch of chunks that were never queued."""
        self.check, self.check_queued, self.check_all = _generate(tree, option)

    def __repr__(self) -> str:
        return f"<Schema {self.option} {pr_str(self.spec)}>"

    def explain(self, value: Any) -> tuple[tuple[Any, ...], str] | None:
        """``(path, what is wrong)`` where ``value`` first breaks the schema, or None if it fits."""
        found = _explain(self._tree, value, [])
        return None if found is None else (tuple(found[0]), found[1])

    def violation(
        self, value: Any, *, stream_id: str, subject: str, seq: int | None = None
    ) -> SchemaViolation:
        """The error for ``value`` (call it only when ``check`` said no) about ``subject``, e.g. ``chunk 3``."""
        found = self.explain(value)
        path, problem = found if found is not None else ((), "rejected by the compiled check")
        where = f" at {pr_str(path)}" if path else ""
        message = f"stream {stream_id}: {subject} does not match {self.option}{where}: {problem}"
        return SchemaViolation(
            message, stream_id=stream_id, seq=seq, option=self.option, path=path, problem=problem
        )


def read_schema(text: str) -> Any:
    """Read a schema written as language text (``"[:map [:value :int]]"``) into data, for Python hosts."""

    def value(form: Any) -> Any:
        if isinstance(form, Kw | Lit):
            return form.value
        if isinstance(form, VecF):
            return tuple(value(f) for f in form.items)
        if isinstance(form, MapF):
            return {value(k): value(v) for k, v in form.pairs()}
        raise Malformed("a schema is data: keywords, vectors, maps and literals only", text)

    try:
        forms = read(text, "<schema>")
    except ScriptError as exc:
        raise Malformed(f"cannot read it: {exc.message}", text) from None
    if len(forms) != 1:
        raise Malformed(f"expected one schema, found {len(forms)} forms", text)
    return value(forms[0])


def compile_schema(spec: Any, option: str = ":schema") -> Schema:
    """Parse and compile ``spec`` (data, a string of language text, or a Schema); ``option`` names it in errors."""
    if isinstance(spec, Schema):
        return spec if spec.option == option else Schema(spec.spec, option, spec._tree)
    try:
        data = read_schema(spec) if isinstance(spec, str) else spec
        tree = parse(data)
    except Malformed as exc:
        where = "" if exc.part is spec else f" in {_show(exc.part)}"
        raise UsageError(f"{option}: malformed schema {_show(spec)}: {exc}{where}") from None
    return Schema(data, option, tree)


def _show(part: Any) -> str:
    text = part if isinstance(part, str) else pr_str(part)
    return text if len(text) <= 120 else text[:119] + "…"
