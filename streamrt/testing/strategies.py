"""Hypothesis strategies for language values and directives."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from streamrt.runtime.machine import KNOWN_ACTIONS
from streamrt.values import Keyword

__all__ = ["chunks", "directive_sequences", "directives", "keywords"]


def keywords() -> st.SearchStrategy[Keyword]:
    """Short plain keywords such as ``:a``, ``:temp-2``."""
    return st.from_regex(r"[a-z][a-z0-9\-]{0,7}", fullmatch=True).map(Keyword)


def chunks(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Language values as a source would deliver them: scalars, vectors and maps with keyword keys."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**53), max_value=2**53)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=16)
        | keywords()
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4).map(tuple) | st.dictionaries(keywords(), inner, max_size=4),
        max_leaves=max_leaves,
    )


def directives(*, include_continue: bool = True) -> st.SearchStrategy[Keyword]:
    """The directive keywords (``:continue :pause :resume :cancel :complete :stop :checkpoint``)."""
    known = KNOWN_ACTIONS if include_continue else tuple(k for k in KNOWN_ACTIONS if k.name != "continue")
    return st.sampled_from(known)


def directive_sequences(min_size: int = 0, max_size: int = 20) -> st.SearchStrategy[list[Keyword]]:
    """Lists of directives, e.g. to script a processor's actions or a host's commands."""
    return st.lists(directives(), min_size=min_size, max_size=max_size)
