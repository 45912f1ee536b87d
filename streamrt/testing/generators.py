"""Chunk generator specs: plain language data that describes random chunks, turned into hypothesis strategies.

A ``defproperty`` says what its chunks look like with a spec, written as data so a test needs no Python::

    {:city [:one-of "Cairo" "Lima"] :temp [:float -10 45] :ts :string}

| spec | generates |
|---|---|
| ``:any`` | any language value (``streamrt.testing.chunks(max_leaves=4)``) |
| ``:int`` / ``[:int lo hi]`` | integers (bounds inclusive, either may be nil) |
| ``:float`` / ``[:float lo hi]`` | finite floats |
| ``:number`` | integers or finite floats |
| ``:string`` / ``[:string max-len]`` | text |
| ``:bool`` ``:nil`` ``:keyword`` | booleans, nil, short keywords |
| ``[:one-of v ...]`` | one of these values |
| ``[:const v]`` | exactly ``v`` (also any string, number, boolean or nil written as is) |
| ``[:or spec ...]`` | a value of any of these specs |
| ``[:maybe spec]`` | nil or a value of ``spec`` |
| ``[:vector spec]`` / ``[:vector spec min max]`` | vectors of values of ``spec`` |
| ``{:k spec ...}`` | maps with exactly these keys |
| ``[:map {:k spec} {:opt spec}]`` | maps with the first map's keys and any of the second's |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from hypothesis import strategies as st

from streamrt.printer import pr_str
from streamrt.testing.strategies import chunks, keywords
from streamrt.values import Keyword

__all__ = ["GENERATORS", "SpecError", "strategy_for"]


class SpecError(ValueError):
    """A bad generator spec; ``path`` says where inside the spec (``[:temp 1]``)."""

    def __init__(self, message: str, path: tuple[Any, ...]) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        where = f" at {pr_str(self.path)}" if self.path else ""
        return f"{self.message}{where}"


_SCALARS: Final[dict[str, st.SearchStrategy[Any]]] = {
    "any": chunks(max_leaves=4),
    "int": st.integers(min_value=-(2**53), max_value=2**53),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "number": st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False),
    "string": st.text(max_size=16),
    "bool": st.booleans(),
    "nil": st.none(),
    "keyword": keywords(),
}
GENERATORS: Final = (*_SCALARS, "one-of", "const", "or", "maybe", "vector", "map")
"""The generator names a spec may use."""


def _known() -> str:
    return " ".join(":" + name for name in GENERATORS)


def _number(value: Any, what: str, path: tuple[Any, ...], *, integer: bool) -> Any:
    if value is None:
        return None
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if not ok or isinstance(value, bool):
        raise SpecError(
            f"{what} must be {'an integer' if integer else 'a number'} or nil, got {pr_str(value)}", path
        )
    return value


def _args(spec: tuple[Any, ...], lo: int, hi: int, path: tuple[Any, ...]) -> tuple[Any, ...]:
    args = spec[1:]
    if not lo <= len(args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise SpecError(f"{pr_str(spec[0])} takes {want} argument(s), got {len(args)}", path)
    return args


def _vector_spec(spec: tuple[Any, ...], path: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    head = spec[0]
    if not isinstance(head, Keyword):
        raise SpecError(
            f"a vector spec starts with a generator keyword ({_known()}), got {pr_str(head)}", path
        )
    name = head.qualified
    if name in ("int", "float"):
        lo, hi = (
            _number(v, f"the bounds of {pr_str(head)}", path, integer=name == "int")
            for v in _args(spec, 2, 2, path)
        )
        if lo is not None and hi is not None and lo > hi:
            raise SpecError(f"{pr_str(head)}: the low bound {lo} is above the high bound {hi}", path)
        if name == "int":
            return st.integers(min_value=lo, max_value=hi)
        return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)
    if name == "string":
        (size,) = _args(spec, 1, 1, path)
        return st.text(max_size=_number(size, "the length of :string", path, integer=True))
    if name == "one-of":
        values = _args(spec, 1, 1000, path)
        return st.sampled_from(values)
    if name == "const":
        (value,) = _args(spec, 1, 1, path)
        return st.just(value)
    if name == "or":
        options = _args(spec, 1, 1000, path)
        return st.one_of([_strategy(s, (*path, i + 1)) for i, s in enumerate(options)])
    if name == "maybe":
        (inner,) = _args(spec, 1, 1, path)
        return st.none() | _strategy(inner, (*path, 1))
    if name == "vector":
        args = _args(spec, 1, 3, path)
        lo = _number(args[1], "the minimum size of :vector", path, integer=True) if len(args) > 1 else 0
        hi = _number(args[2], "the maximum size of :vector", path, integer=True) if len(args) > 2 else 6
        return st.lists(_strategy(args[0], (*path, 1)), min_size=lo or 0, max_size=hi).map(tuple)
    if name == "map":
        args = _args(spec, 1, 2, path)
        for i, arg in enumerate(args):
            if not isinstance(arg, Mapping):
                raise SpecError(f":map takes maps of key to spec, got {pr_str(arg)}", (*path, i + 1))
        required: dict[Any, st.SearchStrategy[Any]] = {
            k: _strategy(v, (*path, k)) for k, v in args[0].items()
        }
        if len(args) == 1:
            return st.fixed_dictionaries(required)
        optional: dict[Any, st.SearchStrategy[Any]] = {
            k: _strategy(v, (*path, k)) for k, v in args[1].items()
        }
        return st.fixed_dictionaries(required, optional=optional)
    if name in _SCALARS:
        raise SpecError(f"{pr_str(head)} takes no arguments here; write it alone", path)
    raise SpecError(f"unknown generator {pr_str(head)}; known: {_known()}", path)


def _strategy(spec: Any, path: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    if isinstance(spec, Keyword):
        found = _SCALARS.get(spec.qualified)
        if found is None:
            raise SpecError(f"unknown generator {pr_str(spec)}; known: {_known()}", path)
        return found
    if isinstance(spec, tuple):
        if not spec:
            raise SpecError("an empty vector is not a spec", path)
        return _vector_spec(spec, path)
    if isinstance(spec, Mapping):
        return st.fixed_dictionaries({k: _strategy(v, (*path, k)) for k, v in spec.items()})
    if spec is None or isinstance(spec, bool | int | float | str):
        return st.just(spec)
    raise SpecError(f"cannot generate chunks from {pr_str(spec)}", path)


def strategy_for(spec: Any) -> st.SearchStrategy[Any]:
    """The strategy a spec describes; raises :class:`SpecError` naming the bad part."""
    return _strategy(spec, ())
