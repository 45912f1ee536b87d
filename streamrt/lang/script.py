"""Loading a script for a host: read, compile, run the top level, hand out processors.

The top level runs once, at load: ``def``/``defn`` define functions and ``call`` forms reach the capability table the
host supplies. Without a host table, ``:mcp.stream.start`` calls are recorded as :class:`StreamRequest` values (so a
host can start them later, and ``load_script`` alone never does I/O) and ``:log`` goes to the ``streamrt.script``
logger.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from types import EllipsisType
from typing import TYPE_CHECKING, Any

import msgspec

from streamrt.errors import (
    CapabilityError,
    Pos,
    ScriptCompileError,
    ScriptError,
    ScriptRuntimeError,
    UsageError,
)
from streamrt.lang.compiled import CompiledScript
from streamrt.lang.effects import (
    Declaration,
    EffectPolicy,
    check_declaration,
    declared_effects,
    guard_capabilities,
)
from streamrt.lang.rt import runtime_error, support_names
from streamrt.printer import pr_str
from streamrt.values import Keyword

if TYPE_CHECKING:
    from streamrt.lang.cache import ScriptCache
    from streamrt.lang.forms import Form
    from streamrt.lang.meter import Limits

# The reader (lark), the macros and the compiler are imported by the functions that read or compile: a script
# loaded from the compiled-script cache (streamrt.lang.cache) needs none of them (start-up, issue #17).

__all__ = [
    "CallContext",
    "Capability",
    "Script",
    "StreamRequest",
    "compile_script",
    "load_script",
    "lower_script",
    "python_script",
]

log = logging.getLogger("streamrt.script")


class CallContext(msgspec.Struct, frozen=True):
    """What a capability learns about its caller: the script, where the ``call`` is, and whether the script's top
    level is running (its load) rather than one of its functions (a processor at work)."""

    script: Script
    pos: Pos | None
    toplevel: bool = False


Capability = Callable[[dict[Keyword, Any], CallContext], Any]


class StreamRequest(msgspec.Struct, frozen=True):
    """One ``(mcp-stream ...)`` / ``(call :mcp.stream.start {...})`` made while the script loaded."""

    endpoint: str
    processor: str
    initial_state: Any
    options: dict[Keyword, Any]
    pos: Pos | None


_ENDPOINT = Keyword("endpoint")
_PROCESSOR = Keyword("processor")
_INITIAL = Keyword("initial-state")
_STREAM_ID = Keyword("stream-id")


def stream_request(args: Mapping[Keyword, Any], pos: Pos | None) -> StreamRequest:
    """Validate the argument map of ``:mcp.stream.start``."""
    if not isinstance(args, Mapping):
        raise CapabilityError(f":mcp.stream.start takes a map of arguments, got {pr_str(args)[:60]}")
    endpoint = args.get(_ENDPOINT)
    processor = args.get(_PROCESSOR)
    if not isinstance(endpoint, str) or not endpoint:
        raise CapabilityError(":mcp.stream.start needs :endpoint, a non-empty string")
    if isinstance(processor, Keyword):
        processor = processor.qualified
    if not isinstance(processor, str) or not processor:
        raise CapabilityError(":mcp.stream.start needs :processor, the name of a function of the script")
    options = {k: v for k, v in args.items() if k not in (_ENDPOINT, _PROCESSOR, _INITIAL)}
    initial = args.get(_INITIAL, {})
    return StreamRequest(endpoint, processor, {} if initial is None else initial, options, pos)


class Script:
    """A compiled and loaded script: its processors are plain Python callables.

    ``declaration`` is the script's ``(effects ...)`` declaration when the caller knows it already (a script from the
    cache, whose forms are not read); by default it is read from the compiled forms.
    """

    def __init__(
        self,
        compiled: CompiledScript,
        source: str,
        capabilities: Mapping[str, Capability] | None,
        security: EffectPolicy | None = None,
        *,
        declaration: Declaration | EllipsisType | None = ...,
    ) -> None:
        self.filename = compiled.filename
        self.source = source
        self.source_hash = hashlib.sha256(source.encode("utf-8")).hexdigest()
        self.compiled = compiled
        self.stream_requests: list[StreamRequest] = []
        self._lines = source.splitlines()
        self._capabilities: dict[str, Capability] = dict(self._default_capabilities())
        if capabilities is not None:
            self._capabilities.update(capabilities)
        # the script's own (effects ...) declaration binds it; the host's context is checked first (outermost)
        self.declaration = declared_effects(compiled.forms) if declaration is ... else declaration
        self._capabilities = guard_capabilities(self._capabilities, self.declaration)
        self._capabilities = guard_capabilities(self._capabilities, security)
        self.toplevel_results: tuple[Any, ...] = ()
        """What the ``call`` forms returned while the top level ran (replayed by the metered variant)."""
        self._recorded: list[Any] | None = None
        self._metered_code: CompiledScript | None = None
        self._metered: dict[Limits, dict[str, Any]] = {}
        self._after_toplevel: list[Callable[[], None]] = []
        self.namespace: dict[str, Any] = {"__builtins__": {}, **support_names(), **compiled.constants}
        self.namespace["_rt_error"] = self.runtime_error
        self.namespace["_rt_call"] = self._call

    # --- capabilities -------------------------------------------------------------------------------------------

    def _default_capabilities(self) -> dict[str, Capability]:
        def start(args: dict[Keyword, Any], ctx: CallContext) -> str:
            request = stream_request(args, ctx.pos)
            self.stream_requests.append(request)
            sid = request.options.get(_STREAM_ID)
            return sid if isinstance(sid, str) else f"{request.processor}-{len(self.stream_requests)}"

        def log_capability(args: dict[Keyword, Any], ctx: CallContext) -> None:
            message = args.get(Keyword("message"), args) if isinstance(args, Mapping) else args
            log.info(
                "%s",
                message if isinstance(message, str) else pr_str(message),
                extra={"script": self.filename, "line": ctx.pos.line if ctx.pos else None},
            )

        return {"mcp.stream.start": start, "log": log_capability}

    def _call(self, capability: Keyword, args: Any, line: int, column: int) -> Any:
        pos = Pos(self.filename, line, column)
        cap = self._capabilities.get(capability.qualified)
        if cap is None:
            granted = ", ".join(":" + k for k in sorted(self._capabilities))
            raise ScriptRuntimeError(
                f"capability {capability!r} is not available here (granted: {granted or 'none'})",
                pos,
                self.source_line(line),
            )
        try:
            result = cap(args, CallContext(self, pos, self._recorded is not None))
        except CapabilityError as exc:
            raise ScriptRuntimeError(f"{capability!r}: {exc}", pos, self.source_line(line)) from exc
        if self._recorded is not None:
            self._recorded.append(result)
        return result

    # --- host API -----------------------------------------------------------------------------------------------

    def runtime_error(self, exc: BaseException) -> BaseException:
        """What to raise for ``exc``, raised by this script's code: a :class:`~streamrt.errors.ScriptError`
        located at the failing form, with its line (the code's ``_rt_error``; a metered namespace's wraps it)."""
        return runtime_error(exc, self.filename, self._lines)

    def source_line(self, line: int) -> str | None:
        return self._lines[line - 1] if 0 < line <= len(self._lines) else None

    def append_source(self, text: str) -> int:
        """Add ``text`` to the end of the script's source and return how many lines came before it.

        For a host that compiles more code into this script's namespace as it goes (``streamrt repl``): code read
        from ``text`` shifted down by that many lines gets its errors located, and shown with their line, like the
        script's own.
        """
        offset = len(self._lines)
        self._lines.extend(text.splitlines() or [""])
        self.source = "\n".join(self._lines)
        self.source_hash = hashlib.sha256(self.source.encode("utf-8")).hexdigest()
        return offset

    def run_toplevel(self) -> None:
        """Run the top-level forms (definitions and capability calls)."""
        self._recorded = []
        try:
            exec(self.compiled.code, self.namespace)
        except ScriptError as exc:
            if exc.pos is not None:
                raise
            raise self.runtime_error(exc) from None
        except Exception as exc:
            raise self.runtime_error(exc) from None
        finally:
            self.toplevel_results = tuple(self._recorded)
            self._recorded = None
        for gdef in self.compiled.globals.values():
            value = self.namespace.get(gdef.pyname)
            if gdef.arity is not None and callable(value):
                value.__name__ = gdef.name
                value.__qualname__ = gdef.name
                value.__doc__ = gdef.doc
        # streams started while the top level ran get their metered processors now (streamrt.lang.metered)
        hooks, self._after_toplevel = self._after_toplevel, []
        for hook in hooks:
            hook()

    @property
    def names(self) -> list[str]:
        """Names the script defines, in order."""
        return list(self.compiled.globals)

    @property
    def functions(self) -> dict[str, Callable[..., Any]]:
        """The script's ``defn`` functions by name."""
        out = {}
        for n, gdef in self.compiled.globals.items():
            value = self.namespace.get(gdef.pyname)
            if gdef.arity is not None and callable(value):
                out[n] = value
        return out

    def processor(self, name: str) -> Callable[..., Any]:
        """The function called ``name``, to be called as ``proc(state, chunk[, meta])``."""
        gdef = self.compiled.globals.get(name)
        value = self.namespace.get(gdef.pyname) if gdef is not None else None
        if not callable(value) or isinstance(value, Keyword):
            known = ", ".join(self.functions) or "none"
            raise UsageError(f"{self.filename}: no function named '{name}' (functions: {known})")
        fn: Callable[..., Any] = value
        return fn

    def get(self, name: str) -> Any:
        """The value of a script-level ``def``."""
        gdef = self.compiled.globals.get(name)
        if gdef is None:
            raise UsageError(f"{self.filename}: '{name}' is not defined")
        return self.namespace.get(gdef.pyname)

    def __repr__(self) -> str:
        return f"<Script {self.filename} functions={list(self.functions)}>"


def _source_of(
    text: str | None, path: str | os.PathLike[str] | None, filename: str | None
) -> tuple[str, str]:
    """The script's text and the name its errors show: ``text`` as it is, or the file at ``path``, never a guess.

    Text and paths are separate arguments on purpose: a file whose whole text was ``/etc/passwd`` used to be read
    as a path, and so printed a line of that file.
    """
    if path is not None:
        if text is not None:
            raise UsageError("give a script's text or its path, not both")
        try:
            with open(path, encoding="utf-8") as f:  # not pathlib: a run from the cache imports none
                return f.read(), filename or os.fspath(path)
        except OSError as exc:
            raise UsageError(f"cannot read script {os.fspath(path)}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise UsageError(f"cannot read script {os.fspath(path)}: not UTF-8 text ({exc.reason})") from None
    if not isinstance(text, str):
        what = "nothing" if text is None else type(text).__name__
        raise UsageError(f"a script's text must be a str, got {what}; to read a file, pass path=")
    return text, filename or "<script>"


def _with_source_line(exc: ScriptError, text: str) -> ScriptError:
    if exc.source_line is None and exc.pos is not None:
        lines = text.splitlines()
        if 0 < exc.pos.line <= len(lines):
            exc.source_line = lines[exc.pos.line - 1]
    return exc


def compile_script(
    text: str | None = None, *, path: str | os.PathLike[str] | None = None, filename: str | None = None
) -> CompiledScript:
    """Read and compile without running anything (what ``streamrt check`` does): the script ``text``, or the file at
    ``path``."""
    from streamrt.lang.compiling import compile_forms
    from streamrt.lang.reader import read

    text, fname = _source_of(text, path, filename)
    try:
        return compile_forms(read(text, fname), fname)
    except ScriptError as exc:
        raise _with_source_line(exc, text) from None
    except RecursionError:
        raise ScriptCompileError(f"{fname}: forms nested too deeply to compile") from None


def load_script(
    text: str | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    capabilities: Mapping[str, Capability] | None = None,
    filename: str | None = None,
    security: EffectPolicy | None = None,
    cache: ScriptCache | None = None,
) -> Script:
    """Compile a script and run its top level.

    The script is ``text``, or the file at ``path`` (one of the two; a string is never taken for a path).
    ``capabilities`` maps capability names (``"mcp.stream.start"``) to host functions ``(args, ctx) -> value``.
    ``security`` (a :class:`~streamrt.policy.effects.SecurityContext`, or any
    :class:`~streamrt.lang.effects.EffectPolicy`) is checked against the script's
    ``(effects ...)`` declaration before anything runs, and by every capability call before it does anything.
    ``cache`` (a :class:`~streamrt.lang.cache.ScriptCache`; none by default, the host decides where files go) loads
    the script compiled by an earlier load of the same text and file name, or compiles it and stores it there.
    """
    text, fname = _source_of(text, path, filename)
    metered_code: CompiledScript | None = None
    cached = (
        None if cache is None else cache.load(text, fname, lambda: compile_script(text, filename=fname).forms)
    )
    if cached is not None:
        compiled, metered_code, declaration = cached.plain, cached.metered, cached.declaration
    else:
        compiled = compile_script(text, filename=fname)
        declaration = declared_effects(compiled.forms)
        if cache is not None:
            metered_code = _store(cache, text, compiled, declaration)
    if security is not None:
        check_declaration(declaration, security, text.splitlines())
    script = Script(compiled, text, capabilities, security, declaration=declaration)
    script._metered_code = metered_code
    script.run_toplevel()
    return script


def _store(
    cache: ScriptCache, text: str, compiled: CompiledScript, declaration: Declaration | None
) -> CompiledScript | None:
    """Compile the metered variant too and write both to ``cache``; the variant, or None if it did not compile
    (then the first metered stream compiles it again and meets the error where it always did)."""
    from streamrt.lang.cache import CachedScript
    from streamrt.lang.compiling import compile_forms

    try:
        metered = compile_forms(compiled.forms, compiled.filename, meter=True)
    except (ScriptError, RecursionError):
        return None
    cache.store(text, compiled.filename, CachedScript(compiled, metered, declaration))
    return metered


def lower_script(
    text: str | None = None, *, path: str | os.PathLike[str] | None = None, filename: str | None = None
) -> str:
    """The script's forms after macro expansion, as language text, one top-level form per line."""
    from streamrt.lang.compiling import compile_forms
    from streamrt.lang.forms import form_str
    from streamrt.lang.macros import expand_all
    from streamrt.lang.reader import read

    text, fname = _source_of(text, path, filename)
    try:
        forms: list[Form] = read(text, fname)
        compile_forms(forms, fname)
        return "\n".join(form_str(expand_all(f)) for f in forms)
    except ScriptError as exc:
        raise _with_source_line(exc, text) from None
    except RecursionError:  # macros can nest deeper than the reader's bracket limit allows
        raise ScriptCompileError(f"{fname}: forms nested too deeply to expand") from None


def python_script(
    text: str | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    filename: str | None = None,
    meter: bool = False,
) -> str:
    """The Python the script compiles to, as text (``streamrt compile --python``); ``meter`` for the variant
    that enforces limits."""
    from streamrt.lang.pysource import python_text
    from streamrt.lang.reader import read

    text, fname = _source_of(text, path, filename)
    try:
        return python_text(read(text, fname), fname, meter=meter)
    except ScriptError as exc:
        raise _with_source_line(exc, text) from None
    except RecursionError:
        raise ScriptCompileError(f"{fname}: forms nested too deeply to compile") from None
