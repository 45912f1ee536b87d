"""Interactive use of the language: the session behind ``streamrt repl`` and ``streamrt eval EXPR``.

Theory of operation. A :class:`ReplSession` is one namespace that every input is compiled into, in turn, with the
script-level names and the generated-name counter of the inputs before it (``compile_forms(known=...,
counter=...)``), so a function defined at one prompt is called at the next, and redefining it changes what its
callers call, as Clojure's vars do. Inputs are read as lines of one growing ``<repl>`` text, so an error anywhere,
in this input or inside a function defined three inputs ago, names its ``<repl>:line:col`` and shows that line.

The session runs under the same sandbox and limits as a script: the code is the same compiled code with empty
builtins, capability calls go through the security context, and (unless limits are off) everything is compiled
metered, each expression evaluated as the body of a function called from the top, so it gets a fresh budget of
fuel, time, depth and size, as one chunk does. ``--load SCRIPT`` loads a script as ``load_script`` does (its
``mcp-stream`` forms are recorded, not run) and brings its definitions in, metered with the same limits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from streamrt.errors import ScriptCompileError, ScriptError
from streamrt.lang.compiler import GlobalDef
from streamrt.lang.compiling import compile_forms
from streamrt.lang.forms import Form, ListF, Sym, VecF
from streamrt.lang.meter import DEFAULT_LIMITS, Limits, install_meter
from streamrt.lang.metered import metered
from streamrt.lang.reader import read
from streamrt.lang.rt import mangle
from streamrt.lang.script import Script, load_script
from streamrt.printer import pr_str
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.lang.effects import EffectPolicy

__all__ = ["FILENAME", "Defined", "ReplSession", "show"]

FILENAME: Final = "<repl>"


class Defined(msgspec.Struct, frozen=True):
    """What a ``def`` or ``defn`` evaluates to at the prompt: the name it defined (printed ``#'name``)."""

    name: str

    def __str__(self) -> str:
        return f"#'{self.name}"


def show(value: Any) -> str:
    """A value as the REPL prints it: in the language's printed form."""
    return str(value) if isinstance(value, Defined) else pr_str(value)


class ReplSession:
    """One namespace that inputs are evaluated in, under ``limits`` (the default limits unless given; None for
    none) and ``security``; ``load`` a script to start from, ``log`` where ``(call :log ...)`` messages go."""

    def __init__(
        self,
        *,
        limits: Limits | Literal["default"] | None = "default",
        security: EffectPolicy | None = None,
        load: str | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.limits: Limits | None = DEFAULT_LIMITS if limits == "default" else limits
        """The limits every expression runs under, as one chunk would (None: none)."""
        self._log = log
        capabilities = {"log": self._log_capability}
        self._script: Script = Script(compile_forms([], FILENAME), "", capabilities, security)
        self.namespace = self._script.namespace
        if self.limits is not None:
            install_meter(self.namespace, self.limits, self._script.runtime_error)
        self._globals: dict[str, GlobalDef] = {}
        self._counter = 0
        self._serial = 0
        if load is not None:
            loaded = load_script(path=load, capabilities=capabilities, security=security)
            for gdef in loaded.compiled.globals.values():
                value = loaded.namespace.get(gdef.pyname)
                if gdef.arity is not None and callable(value) and self.limits is not None:
                    value = metered(value, self.limits)
                self.namespace[gdef.pyname] = value
                self._globals[gdef.name] = gdef
            self.loaded: Script | None = loaded
        else:
            self.loaded = None

    def _log_capability(self, args: Any, ctx: Any) -> None:
        message = args.get(Keyword("message"), args) if isinstance(args, Mapping) else args
        text = message if isinstance(message, str) else pr_str(message)
        if self._log is not None:
            self._log(text)

    @property
    def names(self) -> list[str]:
        """The names defined so far (by ``--load`` and at the prompt)."""
        return list(self._globals)

    def eval(self, text: str) -> list[Any]:
        """Evaluate every form of ``text``; a :class:`Defined` for a definition, else the form's value.

        Raises :class:`~streamrt.errors.ScriptError` (located in ``<repl>``) for a mistake; the definitions
        made before it in the same input stay.
        """
        offset = self._script.append_source(text)
        try:
            forms = read("\n" * offset + text, FILENAME)
            wrapped, results = self._wrap(forms)
            compiled = compile_forms(
                wrapped,
                FILENAME,
                meter=self.limits is not None,
                known=self._globals,
                counter=self._counter,
            )
        except ScriptError as exc:
            raise self._located(exc) from None
        except RecursionError:
            raise ScriptCompileError(f"{FILENAME}: forms nested too deeply to compile") from None
        self._counter = compiled.counter
        self.namespace.update(compiled.constants)
        try:
            exec(compiled.code, self.namespace)
        except ScriptError as exc:
            raise self._located(exc) from None
        except Exception as exc:  # an error of the top level itself, outside any function
            located = self._script.runtime_error(exc)
            if isinstance(located, ScriptError):
                raise self._located(located) from None
            raise
        finally:
            for name, gdef in compiled.globals.items():
                if "#" not in name and gdef.pyname in self.namespace:
                    self._globals[name] = gdef
        return [self.namespace.pop(r) if isinstance(r, _Hidden) else r for r in results]

    def _wrap(self, forms: list[Form]) -> tuple[list[Form], list[Any]]:
        """Each expression becomes ``(def repl#N ((fn [] (let [v# expr] v#))))``: run in a function called from
        the top (so metered code gives it a fresh budget, and a ``recur`` in it is not in tail position), its value
        kept under a name no script can write. A ``def``'s value is wrapped the same way."""

        def wrapped(expr: Form) -> Form:
            pos = expr.pos
            value = Sym("v#", pos)
            body = ListF([Sym("let", pos), VecF([value, expr], pos), value], pos)
            return ListF([ListF([Sym("fn", pos), VecF([], pos), body], pos)], pos)

        out: list[Form] = []
        results: list[Any] = []
        for form in forms:
            items = form.items if isinstance(form, ListF) else []
            head_name = items[0].name if items and isinstance(items[0], Sym) else None
            defined = items[1] if len(items) > 1 and isinstance(items[1], Sym) else None
            if head_name == "defn" and defined is not None:
                out.append(form)
                results.append(Defined(defined.name))
            elif head_name == "def" and defined is not None and len(items) == 3:
                out.append(ListF([items[0], defined, wrapped(items[2])], form.pos))
                results.append(Defined(defined.name))
            elif head_name == "effects":
                out.append(form)
                results.append(None)
            else:
                self._serial += 1
                hidden = f"repl#{self._serial}"
                out.append(ListF([Sym("def", form.pos), Sym(hidden, form.pos), wrapped(form)], form.pos))
                results.append(_Hidden("g_" + mangle(hidden)))
        return out, results

    def _located(self, exc: ScriptError) -> ScriptError:
        pos = exc.pos
        if exc.source_line is None and pos is not None and pos.filename == FILENAME:
            exc.source_line = self._script.source_line(pos.line)
        return exc


class _Hidden(str):
    """The Python name a wrapped expression's value is kept under until :meth:`ReplSession.eval` collects it."""

    __slots__ = ()
