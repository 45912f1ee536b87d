"""Scripts cannot reach the host: names, strings and odd characters never become Python that runs.

Every attempt must either fail to compile with an unknown-symbol error or stay plain data. Structural checks back
the examples up: the names compiled code refers to are only the script's own mangled names, the core library and
the runtime support table, and the code runs with empty ``__builtins__``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import CodeType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrt.lang.rt import demangle, mangle, support_names
from streamrt.lang.script import Script
from tests.lang.conftest import K, compile_error, load, run

HOST_NAMES = [
    "__import__",
    "eval",
    "exec",
    "open",
    "getattr",
    "setattr",
    "__builtins__",
    "__class__",
    "__dict__",
    "globals",
    "locals",
    "vars",
    "type",
    "object",
    "compile",
    "print",
    "input",
    "breakpoint",
    "os",
    "sys",
    "_type",
    "_dict",
    "_E",
    "_rt_call",
    "_rt_error",
    "_d_get",
    "_Exception",
    "c_inc",
    "g_x",
    "l1_x",
    "_k0",
    "_t1",
    "__name__",
    "__loader__",
    "__spec__",
    ".",
    ".__class__",
    "a.b",
    "x.__class__",
    "__class__.__base__",
]


@pytest.mark.parametrize("sym", HOST_NAMES)
@pytest.mark.parametrize(
    "template", ["(def v {sym})", '(defn f [] ({sym} "os"))', "(defn f [x] ({sym} x 1))"]
)
def test_host_names_are_unknown_symbols(sym: str, template: str) -> None:
    err = compile_error(template.format(sym=sym))
    assert err.message.startswith(f"unknown symbol '{sym}'"), err.message


def test_attribute_style_forms_are_unknown_symbols() -> None:
    assert compile_error("(defn f [x] (. x __class__))").message == "unknown symbol '.'"
    assert compile_error("(defn f [x] (.__class__ x))").message.startswith("unknown symbol '.__class__'")


@pytest.mark.parametrize("sym", [s for s in HOST_NAMES if "/" not in s and s != "."])
def test_host_names_bound_by_the_script_are_just_its_own_names(sym: str) -> None:
    """Binding a support name must not shadow the runtime's own (``_type`` drives the inline fast paths)."""
    src = f"(def {sym} 40)\n(defn f [m] (let [{sym} (inc {sym})] [{sym} (+ {sym} 1) (:a m 0) (inc 1)]))"
    assert run(src, {K("a"): 5}) == (41, 42, 5, 2)


@pytest.mark.parametrize(
    "text",
    [
        '"); import os; ("',
        "'); __import__('os').system('touch /tmp/x'); ('",
        '"""',
        "\\",
        "\\\\n",
        "\n__import__('os')\n",
        "{__class__}",
        "\u0000\u001f\u2028",
        "#{x}",
    ],
)
def test_strings_stay_data(text: str) -> None:
    from streamrt.printer import pr_str

    literal = pr_str(text)
    assert run(f"(defn f [] {literal})") == text
    assert run(f"(defn f [] {{{literal} {literal}}})") == {text: text}


@pytest.mark.parametrize(
    "name", ["__class__", "__import__", "__builtins__", "_type", "get", "mro", "__dict__"]
)
def test_dunder_keywords_are_plain_data(name: str) -> None:
    kw = K(name)
    assert run(f'(defn f [m] [:{name} (:{name} m) (get m :{name} 0) (keyword "{name}")])', {}) == (
        kw,
        None,
        0,
        kw,
    )
    assert run(f"(defn f [m] (:{name} m))", {kw: "x"}) == "x"


def test_core_functions_do_not_reach_attributes() -> None:
    assert run(
        '(defn f [x] [(get x "__class__") (get-in x ["__class__" "__name__"]) (name :__class__)])', {}
    ) == (None, None, "__class__")


def test_capabilities_are_only_the_granted_ones() -> None:
    err = load_error('(call :__import__ {:name "os"})')
    assert "capability :__import__ is not available here (granted: :log, :mcp.stream.start)" in err


def load_error(src: str) -> str:
    with pytest.raises(Exception) as info:
        load(src)
    return str(info.value)


def test_nothing_runs_on_the_host(tmp_path: Path) -> None:
    sentinel = tmp_path / "pwned"
    path = str(sentinel).replace("\\", "\\\\")
    attempts = [
        f'(open "{path}" "w")',
        f'((__import__ "os") "{path}")',
        f"(exec \"open('{path}', 'w')\")",
        f'(def x "{path}\\"); open(\\"{path}\\", \\"w\\"); (\\"")',
        f'(defn f [] (str "{path}" "\\n" (eval "open")))',
        f"(defn {mangle('a')}__class__ [] 1)\n(def p :{path})",
        f'(call :fs.write {{:path "{path}"}})',
    ]
    before = set(sys.modules)
    for src in attempts:
        try:
            script = load(src)
        except Exception as exc:
            assert type(exc).__module__.startswith("streamrt"), repr(exc)
        else:
            for fn in script.functions.values():
                fn()
    assert not sentinel.exists()
    assert set(sys.modules) - before == set()


# --- structural guarantees ----------------------------------------------------------------------------------------

_GENERATED = re.compile(r"\A(?:g_|c_|l[0-9]+_)[A-Za-z0-9_]*\Z|\A_[a-z][0-9]+\Z|\A_k[0-9]+\Z")


def _all_code(code: CodeType) -> list[CodeType]:
    out = [code]
    for const in code.co_consts:
        if isinstance(const, CodeType):
            out.extend(_all_code(const))
    return out


def assert_only_allowed_names(script: Script) -> None:
    """Every global, attribute or local name in the compiled code is one of ours."""
    allowed = set(script.namespace)
    for code in _all_code(script.compiled.code):
        for n in code.co_names:
            assert n in allowed or n == "get" or _GENERATED.match(n), (
                f"unexpected name {n!r} in compiled code"
            )
        for n in (*code.co_varnames, *code.co_cellvars, *code.co_freevars):
            assert _GENERATED.match(n) or n in ("_e",), f"unexpected local {n!r}"
    assert script.namespace["__builtins__"] == {}


def test_compiled_code_refers_only_to_its_own_names() -> None:
    src = Path(__file__).resolve().parents[2] / "processors" / "weather.rtfs"
    from streamrt.lang.script import load_script

    assert_only_allowed_names(load_script(path=src))
    assert_only_allowed_names(
        load(
            "(def __class__ 1)\n(defn f [__import__ & eval] (let [{:keys [open]} eval] "
            "(fn [getattr] [open getattr __class__ (:x __import__)])))"
        )
    )


def test_support_names_all_start_with_an_underscore() -> None:
    assert all(n.startswith("_") for n in support_names())


symbol_chars = st.text(alphabet="abcXYZ019_+-*/=<>!?.$%&'", min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(a=symbol_chars, b=symbol_chars)
def test_mangling_is_injective_and_reversible(a: str, b: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_]+", mangle(a))
    assert demangle("g_" + mangle(a)) == a
    if a != b:
        assert mangle(a) != mangle(b)


def test_any_value_shape_round_trips_through_a_script() -> None:
    value: Any = {K("a"): (1, "x", None), "k": {K("__class__"): True}}
    assert run("(defn f [x] x)", value) is value
