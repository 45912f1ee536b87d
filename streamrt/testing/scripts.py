"""Loading a test file written in the language: ``(use ...)``, ``(deftest ...)``, ``(defproperty ...)``.

Theory of operation
-------------------
A test file is read with the ordinary reader, then three top-level forms are rewritten before the ordinary compiler
sees it, so nothing in :mod:`streamrt.lang` has to know about tests:

- ``(use "weather.rtfs")`` loads the tested script (path relative to the test file) with a capability table that
  only records: its ``mcp-stream`` forms become :class:`~streamrt.lang.script.StreamRequest` values and start
  nothing. Every name the script defines becomes a ``(def name (call :streamrt.test/import "name"))`` at the top of
  the test file, so tests call the script's functions as if they were their own. Without ``use``, ``X_test.rtfs``
  tests ``X.rtfs`` next to it when there is one.
- ``(deftest "name" {...})`` and ``(defproperty "name" {...})`` become capability calls that register the test; the
  map is evaluated as ordinary code (symbols name functions, ``(fn ...)`` works, shared pieces can be ``def``\\ s).

Keys of a literal test map are checked before compiling, at their own position; everything else is validated when
the call runs (:mod:`streamrt.testing.specs`), and reported at the ``deftest`` line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import msgspec

from streamrt.errors import Pos, ScriptCompileError, ScriptError, UsageError
from streamrt.lang.compiling import compile_forms
from streamrt.lang.forms import Form, Kw, ListF, Lit, MapF, Sym
from streamrt.lang.reader import read
from streamrt.lang.rt import demangle
from streamrt.lang.script import CallContext, Capability, Script, StreamRequest, load_script
from streamrt.lang.shapes import Shape
from streamrt.printer import pr_str
from streamrt.runtime.machine import KNOWN_ACTIONS
from streamrt.sources import relative_to
from streamrt.testing import specs
from streamrt.testing.specs import ExampleTest, PropertyTest, SpecProblem, Subject
from streamrt.values import Keyword

__all__ = ["ExampleTest", "PropertyTest", "TestFile", "load_test_file", "tested_script_for"]

_K = Keyword
_IMPORT: Final = _K("streamrt.test/import")
_DEFTEST: Final = _K("streamrt.test/deftest")
_DEFPROPERTY: Final = _K("streamrt.test/defproperty")
_USE: Final = Shape("use", "path:string")
_TEST_SHAPES: Final = {
    "deftest": (Shape("deftest", "name:string spec"), _DEFTEST, specs.EXAMPLE_KEYS),
    "defproperty": (Shape("defproperty", "name:string spec"), _DEFPROPERTY, specs.PROPERTY_KEYS),
}
_STREAM_ID: Final = _K("stream-id")
_ON_END: Final = _K("on-end")
_QUEUE_CAPACITY: Final = _K("queue-capacity")
_RECORDED: Final = ("mcp.stream.inspect", "mcp.stream.pause", "mcp.stream.resume", "mcp.stream.cancel")


class TestFile(msgspec.Struct):
    """A loaded test file: its tests in file order, the script it tests (if any), and the test script itself."""

    __test__ = False  # not a pytest class

    path: str
    script: Script | None = None
    tested: Script | None = None
    tests: list[ExampleTest | PropertyTest] = msgspec.field(default_factory=list)
    calls: list[tuple[str, Any]] = msgspec.field(default_factory=list)
    """Capability calls the tested script made while loading, other than ``:mcp.stream.start``."""

    def scripts(self) -> list[Script]:
        return [s for s in (self.tested, self.script) if s is not None]


def _head(form: Form) -> str | None:
    if isinstance(form, ListF) and form.items and isinstance(form.items[0], Sym):
        return form.items[0].name
    return None


def _with_line(exc: ScriptError, text: str) -> ScriptError:
    if exc.source_line is None and exc.pos is not None:
        lines = text.splitlines()
        if 0 < exc.pos.line <= len(lines):
            exc.source_line = lines[exc.pos.line - 1]
    return exc


def tested_script_for(test_path: str, forms: list[Form]) -> tuple[str | None, Pos | None]:
    """The script a test file tests (as a path to show) and where it was named: ``use``, or the ``X_test`` pair."""
    uses = [f for f in forms if _head(f) == "use"]
    folder = os.path.dirname(test_path)
    if len(uses) > 1:
        raise ScriptCompileError("use: a test file tests one script; name it once", uses[1].pos)
    if uses:
        form = uses[0]
        assert isinstance(form, ListF)
        lit: Lit = _USE.match(form)["path"]
        return _usable(folder, lit), form.pos
    stem = os.path.basename(test_path)
    if stem.endswith("_test.rtfs"):
        paired = os.path.join(folder, stem[: -len("_test.rtfs")] + ".rtfs")
        if os.path.isfile(paired):
            return paired, None
    return None, None


def _usable(folder: str, lit: Lit) -> str:
    """The file ``(use "...")`` names: an ``.rtfs`` file in the test file's folder or below it, nothing else.

    A test file is often someone else's code run on a developer's machine; ``(use "/etc/passwd")`` read that file
    and showed its first line in the error. So the path must end in ``.rtfs`` and stay, links resolved, under the
    folder of the test file.
    """
    name: str = lit.value
    if not name.endswith(".rtfs"):
        raise ScriptCompileError(f"use: {pr_str(name)} is not a script: name an .rtfs file", lit.pos)
    path = os.path.normpath(os.path.join(folder, name))
    base = os.path.realpath(folder or ".")
    real = os.path.realpath(path)
    if os.path.isabs(name) or os.path.commonpath([base, real]) != base:
        raise ScriptCompileError(
            f"use: {pr_str(name)} is outside the test file's folder; a test file uses a script in its folder or below",
            lit.pos,
        )
    return path


def _recording_capabilities(calls: list[tuple[str, Any]]) -> dict[str, Capability]:
    """For the tested script: ``mcp-stream`` is recorded by the script itself; the rest is recorded here."""

    def record(name: str) -> Capability:
        def call(args: dict[Keyword, Any], ctx: CallContext) -> None:
            calls.append((name, args))

        return call

    return {name: record(name) for name in _RECORDED}


def _import_form(name: str, pos: Pos) -> ListF:
    """``(def name (call :streamrt.test/import "name"))``, placed at the ``use`` form."""
    call = ListF([Sym("call", pos), Kw(_IMPORT, pos), Lit(name, pos)], pos)
    return ListF([Sym("def", pos), Sym(name, pos), call], pos)


def _test_form(form: ListF, kind: str) -> ListF:
    """``(deftest "name" spec)`` -> ``(call :streamrt.test/deftest ["name" spec])``; literal keys checked here."""
    shape, capability, known = _TEST_SHAPES[kind]
    bound = shape.match(form)
    spec: Form = bound["spec"]
    if isinstance(spec, MapF):
        for key, value in spec.pairs():
            if isinstance(key, Kw) and key.value.qualified not in known:
                raise ScriptCompileError(str(specs.unknown_key(key.value, known, kind)), key.pos)
            if isinstance(key, Kw) and key.value.qualified == "expect" and isinstance(value, MapF):
                for k, _ in value.pairs():
                    if isinstance(k, Kw) and k.value.qualified not in specs.EXPECT_KEYS:
                        raise ScriptCompileError(
                            str(specs.unknown_key(k.value, specs.EXPECT_KEYS, ":expect")), k.pos
                        )
    args = ListF([Sym("vector", form.pos), bound["name"], spec], form.pos)
    return ListF([Sym("call", form.pos), Kw(capability, form.pos), args], form.pos)


class _Loader:
    """Builds a :class:`TestFile`; its capabilities register the tests as the top level runs."""

    def __init__(self, path: str, tested: Script | None) -> None:
        self.file = TestFile(path, tested=tested)
        self.names: set[str] = set()

    # --- resolving names and subjects ---------------------------------------------------------------------------

    def resolve(self, name: str) -> Callable[..., Any]:
        """A function by name: the test file's own first, then the tested script's."""
        for script in (self.file.script, self.file.tested):
            if script is not None and name in script.functions:
                return script.functions[name]
        raise SpecProblem(f"no function named '{name}'")

    def request(self, stream: Any) -> StreamRequest:
        tested = self.file.tested
        if tested is None:
            raise SpecProblem(
                'no :processor given and this file tests no script; add :processor or (use "x.rtfs")'
            )
        requests = tested.stream_requests
        if stream is None:
            if len(requests) == 1:
                return requests[0]
            if not requests:
                raise SpecProblem(
                    f"no :processor given and {tested.filename} starts no stream; add :processor"
                )
            raise SpecProblem(f"{tested.filename} starts {len(requests)} streams; say which with :stream")
        for req in requests:
            if stream in (req.options.get(_STREAM_ID), req.processor):
                return req
        ids = ", ".join(pr_str(r.options.get(_STREAM_ID, r.processor)) for r in requests) or "none"
        raise SpecProblem(f":stream {pr_str(stream)} is not a stream of the tested script (streams: {ids})")

    def subject(self, spec: Mapping[str, Any]) -> Subject:
        processor = spec.get("processor")
        if processor is None:
            req = self.request(spec.get("stream"))
            fn = specs.function(req.processor, "the processor", (2, 3), self.resolve)
            name = req.processor
            initial, options = req.initial_state, dict(req.options)
            on_end_ref = options.get(_ON_END)
            capacity = options.get(_QUEUE_CAPACITY)
        else:
            if "stream" in spec:
                raise SpecProblem("give :processor or :stream, not both")
            fn = specs.function(processor, ":processor", (2, 3), self.resolve)
            name = processor if isinstance(processor, str) else _fn_name(fn)
            initial, options, on_end_ref, capacity = {}, {}, None, None
        if "initial-state" in spec:
            initial = spec["initial-state"]
        if "on-end" in spec:
            on_end_ref = spec["on-end"]
        if "queue-capacity" in spec:
            capacity = spec["queue-capacity"]
        on_end = None if on_end_ref is None else specs.function(on_end_ref, ":on-end", (1, 2), self.resolve)
        capacity = specs.positive_int(capacity, ":queue-capacity", None)
        return Subject(fn, name, {} if initial is None else initial, on_end, capacity, options)

    # --- the capabilities ---------------------------------------------------------------------------------------

    def _register(
        self, args: Any, ctx: CallContext, build: Callable[[str, Mapping[str, Any], Any], Any]
    ) -> None:
        name, spec = args
        try:
            if not isinstance(spec, Mapping):
                raise SpecProblem(f"the test must be a map, got {pr_str(spec)[:60]}")
            if name in self.names:
                raise SpecProblem(f"there is already a test named {pr_str(name)} in this file")
            self.file.tests.append(
                build(
                    name, {k.qualified if isinstance(k, Keyword) else k: v for k, v in spec.items()}, ctx.pos
                )
            )
            self.names.add(name)
        except SpecProblem as exc:
            line = ctx.script.source_line(ctx.pos.line) if ctx.pos is not None else None
            raise ScriptCompileError(f"{pr_str(name)}: {exc}", ctx.pos, line) from None

    def example(self, name: str, spec: Mapping[str, Any], pos: Any) -> ExampleTest:
        specs.check_keys({_K(k): v for k, v in spec.items()}, specs.EXAMPLE_KEYS, "deftest")
        given = [k for k in ("chunks", "steps", "source") if k in spec]
        if len(given) > 1:
            raise SpecProblem(
                f"give one of :chunks, :steps or :source, not {' and '.join(':' + k for k in given)}"
            )
        if "chunks" in spec:
            steps = specs.parse_steps(
                tuple({_K("chunk"): c} for c in _vector(spec["chunks"], ":chunks")), ":chunks"
            )
        else:
            steps = specs.parse_steps(spec.get("steps", ()))
        source = spec.get("source")
        if source is not None and not isinstance(source, str):
            raise SpecProblem(f":source must be a source URI string, got {pr_str(source)}")
        timeout = specs.positive_int(spec.get("timeout-ms"), ":timeout-ms", 10_000)
        return ExampleTest(
            name,
            pos,
            self.subject(spec),
            steps=steps,
            source=self._source_uri(source),
            end_input=spec.get("end-input", True) is not False and spec.get("end-input", True) is not None,
            expect=specs.parse_expect(spec.get("expect")),
            checks=specs.checks(spec.get("check"), self.resolve),
            timeout=(timeout or 10_000) / 1000,
        )

    def _source_uri(self, uri: str | None) -> str | None:
        if uri is None:
            return None
        return relative_to(uri, Path(self.file.path).resolve().parent)

    def property(self, name: str, spec: Mapping[str, Any], pos: Any) -> PropertyTest:
        specs.check_keys({_K(k): v for k, v in spec.items()}, specs.PROPERTY_KEYS, "defproperty")
        # imported here: hypothesis (a dependency) loads only for files with properties
        from streamrt.testing.generators import SpecError, strategy_for

        chunk = spec.get("chunk", _K("any"))
        try:
            strategy = strategy_for(chunk)
        except SpecError as exc:
            raise SpecProblem(f":chunk: {exc}") from None
        directives = spec.get("directives", True)
        if directives is True:
            chosen = KNOWN_ACTIONS
        elif directives is False or directives is None:
            chosen = ()
        else:
            chosen = tuple(
                s.value
                for s in specs.parse_steps(
                    tuple({_K("directive"): d} for d in _vector(directives, ":directives")), ":directives"
                )
            )
        seed = spec.get("seed")
        if seed is not None and type(seed) is not int:
            raise SpecProblem(f":seed must be an integer, got {pr_str(seed)}")
        return PropertyTest(
            name,
            pos,
            self.subject(spec),
            chunk=chunk,
            directives=chosen,
            end_input=spec.get("end-input", True) not in (False, None),
            runs=specs.positive_int(spec.get("runs"), ":runs", 100) or 100,
            max_steps=specs.positive_int(spec.get("max-steps"), ":max-steps", 12) or 12,
            advance_ms=specs.positive_int(spec.get("advance-ms"), ":advance-ms", None),
            allow_errors=spec.get("allow-errors") not in (False, None),
            checks=specs.checks(spec.get("check"), self.resolve),
            seed=seed,
            strategy=strategy,
        )

    def capabilities(self) -> dict[str, Capability]:
        tested = self.file.tested

        def import_name(args: Any, ctx: CallContext) -> Any:
            assert tested is not None
            return tested.get(args)

        return {
            _IMPORT.qualified: import_name,
            _DEFTEST.qualified: lambda args, ctx: self._register(args, ctx, self.example),
            _DEFPROPERTY.qualified: lambda args, ctx: self._register(args, ctx, self.property),
        }


def _fn_name(fn: Callable[..., Any]) -> str:
    """The language name of a function value: its ``defn`` name, or ``fn`` for an anonymous one."""
    name = getattr(fn, "__name__", "")
    return demangle(name) if name and not name.startswith("<") else "fn"


def _vector(value: Any, what: str) -> tuple[Any, ...]:
    if not isinstance(value, tuple):
        raise SpecProblem(f"{what} must be a vector, got {pr_str(value)[:60]}")
    return value


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read test file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot read test file {path}: not UTF-8 text ({exc.reason})") from None


def load_test_file(path: str | os.PathLike[str]) -> TestFile:
    """Read, compile and run a test file's top level; its tests are registered, none is run yet.

    Raises :class:`~streamrt.errors.ScriptError` (with file, line and column) for a bad test file or tested
    script, :class:`~streamrt.errors.UsageError` when a file cannot be read.
    """
    filename = os.fspath(path)
    text = _read_text(filename)
    try:
        forms = read(text, filename)
        tested_path, use_pos = tested_script_for(filename, forms)
    except ScriptError as exc:
        raise _with_line(exc, text) from None
    calls: list[tuple[str, Any]] = []
    tested = None
    if tested_path is not None:
        if not os.path.isfile(tested_path):
            line = text.splitlines()[use_pos.line - 1] if use_pos is not None else None
            raise ScriptCompileError(f"use: no script at {tested_path}", use_pos, line)
        tested = load_script(
            path=tested_path, capabilities=_recording_capabilities(calls), filename=tested_path
        )
    loader = _Loader(filename, tested)
    loader.file.calls = calls
    try:
        body = _rewrite(forms, tested, use_pos or (forms[0].pos if forms else Pos(filename, 1, 1)))
        compiled = compile_forms(body, filename)
    except ScriptError as exc:
        raise _with_line(exc, text) from None
    script = Script(compiled, text, loader.capabilities())
    loader.file.script = script
    script.run_toplevel()
    return loader.file


def _rewrite(forms: list[Form], tested: Script | None, pos: Pos) -> list[Form]:
    imported = list(tested.compiled.globals) if tested is not None else []
    own = {}
    for form in forms:
        if _head(form) in ("def", "defn") and isinstance(form, ListF) and len(form.items) > 1:
            target = form.items[1]
            if isinstance(target, Sym):
                own[target.name] = target.pos
    for name in imported:
        if name in own:
            assert tested is not None
            raise ScriptCompileError(
                f"'{name}' is already defined by {tested.filename}, which this file tests; pick another name",
                own[name],
            )
    body: list[Form] = [_import_form(name, pos) for name in imported]
    for form in forms:
        head = _head(form)
        if head == "use":
            continue
        if head in _TEST_SHAPES:
            assert isinstance(form, ListF)
            body.append(_test_form(form, head))
        else:
            body.append(form)
    return body
