"""Effects: the labels of what a ``call`` does, the script's ``(effects ...)`` promise, and the guard that holds both.

Theory of operation
-------------------
Every capability a script can ``call`` needs a set of *effects*, computed from its arguments before it runs:

| capability | effects |
|---|---|
| ``:mcp.stream.start`` | what reading the endpoint has (:func:`streamrt.sources.source_effects`): ``:network`` (``http(s)``, ``mcp+http(s)``, ``ws(s)``, a bare stream name), ``:fs`` (``jsonl:``, ``*.jsonl``), ``:stdin`` (``-``), ``:process`` (``mcp+stdio:``), none (``mock:``); a plugin's source type declares its own; and ``:spawn`` when a function of the script calls it (a processor starting streams), not its top level |
| ``:mcp.stream.inspect`` / ``pause`` / ``resume`` / ``cancel`` | ``:stream`` (looks at or directs streams of the host) |
| ``:log`` | ``:log`` |
| ``:clock`` | ``:clock`` (so do a result's ``:timers``, checked by the runtime when they are set) |
| a host's own capability | what :func:`declare_effects` gave it (which overrides the rows above), else ``:host`` |

:func:`guard_capabilities` wraps a capability table so each call checks its effects against an
:class:`EffectPolicy` *before* the capability runs, and so before any I/O; a denial is an
:class:`~streamrt.errors.EffectDeniedError` located at the ``call``. There are two kinds of policy: the host's
:class:`~streamrt.policy.effects.SecurityContext` (``--allow`` / ``--deny``) and the script's own
:class:`Declaration`. The provider guards the table it hands out (``Provider(security=...)``),
:func:`~streamrt.lang.script.load_script` the script's (``load_script(..., security=...)``), and both may apply: a
call must pass every guard.

A script may declare what it needs with ``(effects :network :log)`` at its top level. The declaration is a promise
the runtime holds the script to (a call needing an undeclared effect is denied), and lets ``streamrt check`` and
:func:`check_script` report a denial before anything runs, with the declaration's ``file:line:col``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

import msgspec

from streamrt.errors import EffectDeniedError, Pos, ScriptCompileError, UsageError
from streamrt.lang.forms import Form, Kw, ListF, Lit, MapF, SetF, Sym, VecF
from streamrt.printer import pr_str
from streamrt.sources import source_effects
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.lang.compiled import CompiledScript

__all__ = [
    "KNOWN_EFFECTS",
    "Caller",
    "Declaration",
    "EffectPolicy",
    "capability_effects",
    "check_declaration",
    "check_declared",
    "check_script",
    "declaration_labels",
    "declare_effects",
    "declared_effects",
    "effect_labels",
    "guard_capabilities",
    "uri_effects",
]

KNOWN_EFFECTS: Final[Mapping[str, str]] = {
    "network": "opens network connections (SSE, MCP, WebSocket sources; bare stream names)",
    "fs": "reads files (jsonl: sources)",
    "stdin": "reads the process's standard input (the - source)",
    "process": "starts programs (mcp+stdio: sources launch an MCP server)",
    "log": "writes to the host's log",
    "stream": "inspects or directs streams of the host (inspect, pause, resume, cancel)",
    "clock": "reads processing time or sets timers (:clock, a result's :timers)",
    "spawn": "starts streams from a function of the script (a processor at work), not from its top level",
    "host": "a capability of the host that declares no effects of its own",
}
"""Every effect label, with what it means."""

_NONE: Final[frozenset[str]] = frozenset()
_HOST: Final = frozenset({"host"})
_FIXED: Final[Mapping[str, frozenset[str]]] = {
    "log": frozenset({"log"}),
    "clock": frozenset({"clock"}),
    "mcp.stream.inspect": frozenset({"stream"}),
    "mcp.stream.pause": frozenset({"stream"}),
    "mcp.stream.resume": frozenset({"stream"}),
    "mcp.stream.cancel": frozenset({"stream"}),
}
_START: Final = "mcp.stream.start"
_SPAWN: Final = frozenset({"spawn"})
_ENDPOINT: Final = Keyword("endpoint")
_EFFECTS_ATTR: Final = "__streamrt_effects__"
_GUARD_ATTR: Final = "__streamrt_security__"

C = TypeVar("C", bound=Callable[..., Any])


class _Lines(Protocol):
    def source_line(self, line: int) -> str | None: ...


class Caller(Protocol):
    """What the guard learns of a ``call`` (a :class:`~streamrt.lang.script.CallContext` is one): where it is, the
    script's line there, and whether the script's top level made it."""

    @property
    def script(self) -> _Lines: ...
    @property
    def pos(self) -> Pos | None: ...
    @property
    def toplevel(self) -> bool: ...


Ctx = TypeVar("Ctx", bound=Caller)
Guarded = Callable[[dict[Keyword, Any], Ctx], Any]
"""A capability as the guard sees it (:data:`streamrt.lang.script.Capability` is one, with its ``CallContext``)."""


def effect_labels(labels: Iterable[str], what: str) -> frozenset[str]:
    """``labels`` (``"network"`` or ``":network"``) checked against :data:`KNOWN_EFFECTS`; ``what`` names their owner."""
    out = set()
    for label in labels:
        name = label.strip().lstrip(":")
        if name not in KNOWN_EFFECTS:
            known = ", ".join(KNOWN_EFFECTS)
            raise UsageError(f"{what}: unknown effect {label!r}; known effects: {known}")
        out.add(name)
    return frozenset(out)


def uri_effects(uri: str) -> frozenset[str]:
    """The effects of reading a source URI, decided by the source parser and registry alone (no I/O)."""
    return effect_labels(source_effects(uri), f"the source type of {uri!r}")


def declare_effects(*labels: str) -> Callable[[C], C]:
    """Give a host's own capability its effect labels: ``@declare_effects("network")`` (none: effect-free)."""
    effects = effect_labels(labels, "declare_effects")

    def mark(capability: C) -> C:
        setattr(capability, _EFFECTS_ATTR, effects)
        return capability

    return mark


def capability_effects(
    name: str,
    args: Any,
    capability: object | None = None,
    endpoint_uri: Callable[[str], str] | None = None,
    *,
    toplevel: bool = True,
) -> frozenset[str]:
    """The effects a call of capability ``name`` with ``args`` needs (see the table in the module docs).

    ``endpoint_uri`` maps a ``:mcp.stream.start`` endpoint to the URI the host will really open (the CLI's
    ``--source``, say), so effects are judged on what is read rather than on what the script names. ``toplevel``:
    the call comes from the script's top level (its load), not from one of its functions; a stream started by a
    function needs ``:spawn`` too, so a processor cannot start streams unless the host allows it.
    """
    declared = getattr(capability, _EFFECTS_ATTR, None)
    if isinstance(declared, frozenset):
        return declared
    if name == _START:
        endpoint = args.get(_ENDPOINT) if isinstance(args, Mapping) else None
        if not isinstance(endpoint, str) or not endpoint:
            return _NONE if toplevel else _SPAWN  # the capability refuses the call itself, before any I/O
        effects = uri_effects(endpoint_uri(endpoint) if endpoint_uri is not None else endpoint)
        return effects if toplevel else effects | _SPAWN
    return _FIXED.get(name, _HOST)


class EffectPolicy(Protocol):
    """What a guard asks of a policy: whether an effect is permitted, and if not, why and how to permit it."""

    def permits(self, effect: str) -> bool: ...

    def refusal(self, effect: str) -> str: ...


class Declaration(msgspec.Struct, frozen=True):
    """A script's ``(effects ...)``: the labels it declares and where each is written."""

    labels: frozenset[str]
    positions: Mapping[str, Pos]
    pos: Pos

    def permits(self, effect: str) -> bool:
        return effect in self.labels

    def refusal(self, effect: str) -> str:
        return (
            f"the script's (effects ...) declaration at line {self.pos.line} does not list :{effect}; "
            f"add :{effect} to it"
        )


def _denial(
    policy: EffectPolicy,
    capability: str,
    effects: frozenset[str],
    detail: str,
    pos: Pos | None,
    line: str | None,
) -> EffectDeniedError | None:
    for effect in sorted(effects):
        if not policy.permits(effect):
            return EffectDeniedError(
                f":{capability}{detail} needs the :{effect} effect, but {policy.refusal(effect)}",
                capability=capability,
                effect=effect,
                pos=pos,
                source_line=line,
            )
    return None


def _detail(name: str, args: Any, endpoint_uri: Callable[[str], str] | None) -> str:
    if name != _START or not isinstance(args, Mapping):
        return ""
    endpoint = args.get(_ENDPOINT)
    if not isinstance(endpoint, str):
        return ""
    uri = endpoint_uri(endpoint) if endpoint_uri is not None else endpoint
    return f" for {pr_str(endpoint)}" + (f" (read from {pr_str(uri)})" if uri != endpoint else "")


def _guard(
    name: str, capability: Guarded[Ctx], policy: EffectPolicy, endpoint_uri: Callable[[str], str] | None
) -> Guarded[Ctx]:
    def guarded(args: dict[Keyword, Any], ctx: Ctx) -> Any:
        effects = capability_effects(name, args, capability, endpoint_uri, toplevel=ctx.toplevel)
        if effects:
            line = ctx.script.source_line(ctx.pos.line) if ctx.pos is not None else None
            denied = _denial(policy, name, effects, _detail(name, args, endpoint_uri), ctx.pos, line)
            if denied is not None:
                raise denied
        return capability(args, ctx)

    declared = getattr(capability, _EFFECTS_ATTR, None)
    if declared is not None:
        setattr(guarded, _EFFECTS_ATTR, declared)
    setattr(guarded, _GUARD_ATTR, (*getattr(capability, _GUARD_ATTR, ()), policy))
    return guarded


def guard_capabilities(
    table: Mapping[str, Guarded[Ctx]],
    policy: EffectPolicy | None,
    *,
    endpoint_uri: Callable[[str], str] | None = None,
) -> dict[str, Guarded[Ctx]]:
    """``table`` with every capability checking its effects against ``policy`` first (None: unchanged).

    A capability already guarded by an equal policy is left as it is, so a provider's table handed to
    ``load_script(..., security=...)`` with the same context is checked once.
    """
    if policy is None:
        return dict(table)
    out: dict[str, Guarded[Ctx]] = {}
    for name, capability in table.items():
        if policy in getattr(capability, _GUARD_ATTR, ()):
            out[name] = capability
        else:
            out[name] = _guard(name, capability, policy, endpoint_uri)
    return out


# --- declarations and static checks ---------------------------------------------------------------------------


def declaration_labels(labels: list[Form]) -> dict[str, Pos]:
    """The labels of an ``(effects ...)`` form; a compile error at a label that is not a known effect keyword."""
    out: dict[str, Pos] = {}
    for form in labels:
        if not isinstance(form, Kw) or form.value.qualified not in KNOWN_EFFECTS:
            known = " ".join(":" + e for e in KNOWN_EFFECTS)
            what = pr_str(form.value.qualified) if isinstance(form, Kw) else "that"
            raise ScriptCompileError(f"effects: {what} is not an effect label; known: {known}", form.pos)
        out.setdefault(form.value.qualified, form.pos)
    return out


def _is_effects(form: Form) -> bool:
    head = form.items[0] if isinstance(form, ListF) and form.items else None
    return isinstance(head, Sym) and head.name == "effects"


def declared_effects(forms: list[Form]) -> Declaration | None:
    """The union of a script's top-level ``(effects ...)`` forms, or None when it declares nothing."""
    positions: dict[str, Pos] = {}
    first: Pos | None = None
    for form in forms:
        if _is_effects(form):
            assert isinstance(form, ListF)
            first = first or form.pos
            for label, pos in declaration_labels(form.items[1:]).items():
                positions.setdefault(label, pos)
    if first is None:
        return None
    return Declaration(frozenset(positions), positions, first)


_FUNCTIONS: Final = frozenset({"fn", "defn"})
"""Special forms whose body runs later, as a function (so a ``call`` inside is not the top level's)."""


def _calls(form: Form) -> Iterator[tuple[ListF, bool]]:
    """Every ``(call :capability ...)`` inside ``form``, macros expanded, quoted forms skipped, each with whether
    it runs at the top level (outside every function body)."""
    # only a check needs the macros, not a run (start-up, issue #17)
    from streamrt.lang.macros import expand_all

    todo: list[tuple[Form, bool]] = [(expand_all(form), True)]
    while todo:
        f, toplevel = todo.pop()
        if isinstance(f, ListF):
            head = f.items[0] if f.items else None
            if isinstance(head, Sym) and head.name == "quote":
                continue
            if (
                isinstance(head, Sym)
                and head.name == "call"
                and len(f.items) > 1
                and isinstance(f.items[1], Kw)
            ):
                yield f, toplevel
            inner = toplevel and not (isinstance(head, Sym) and head.name in _FUNCTIONS)
            todo.extend((item, inner) for item in reversed(f.items))
        elif isinstance(f, VecF | MapF | SetF):
            todo.extend((item, toplevel) for item in reversed(f.items))


def _literal_args(form: Form | None) -> Any:
    """The literal string entries of a call's argument map, enough to judge its effects (None when unknown)."""
    if form is None:
        return {}
    if not isinstance(form, MapF):
        return None
    return {k.value: v.value for k, v in form.pairs() if isinstance(k, Kw) and isinstance(v, Lit)}


def check_script(
    compiled: CompiledScript, security: EffectPolicy | None, source_lines: list[str] | None = None
) -> None:
    """What ``streamrt check`` can tell before running: a declaration the context denies, and literal ``call``
    forms that the context or the script's own declaration would refuse. Raises the first denial found."""

    def line(pos: Pos) -> str | None:
        return source_lines[pos.line - 1] if source_lines and 0 < pos.line <= len(source_lines) else None

    declaration = declared_effects(compiled.forms)
    if security is not None:
        check_declared(compiled, security, source_lines or [])
    policies: list[EffectPolicy] = [p for p in (security, declaration) if p is not None]
    for form in compiled.forms:
        for call, toplevel in _calls(form):
            cap = call.items[1]
            assert isinstance(cap, Kw)
            args = _literal_args(call.items[2] if len(call.items) > 2 else None)
            name = cap.value.qualified
            if args is None or (name == _START and not isinstance(args.get(_ENDPOINT), str)):
                continue  # not known before running; the guards check it then
            effects = capability_effects(name, args, toplevel=toplevel)
            for policy in policies:
                denied = _denial(policy, name, effects, _detail(name, args, None), call.pos, line(call.pos))
                if denied is not None:
                    raise denied


def check_declared(compiled: CompiledScript, security: EffectPolicy, source_lines: list[str]) -> None:
    """Before a script runs: its declaration must not ask for an effect ``security`` denies."""
    check_declaration(declared_effects(compiled.forms), security, source_lines)


def check_declaration(
    declaration: Declaration | None, security: EffectPolicy, source_lines: list[str]
) -> None:
    """:func:`check_declared` for a declaration already read (a script from the compiled-script cache)."""
    if declaration is None:
        return
    for label in sorted(declaration.labels):
        if not security.permits(label):
            pos = declaration.positions[label]
            raise EffectDeniedError(
                f"the script declares the :{label} effect, but {security.refusal(label)}",
                capability=None,
                effect=label,
                pos=pos,
                source_line=source_lines[pos.line - 1] if 0 < pos.line <= len(source_lines) else None,
            )
