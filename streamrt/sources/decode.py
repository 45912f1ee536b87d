"""JSON payloads into language values, for every source: :func:`streamrt.jsoncodec.from_json_text` with the
error handling a source wants (bad or too deeply nested JSON is a ``ValueError`` or is kept as text)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamrt.jsoncodec import LoneSurrogateError, from_json_text, from_json_texts

__all__ = ["LoneSurrogateError", "json_or_text", "json_value", "json_values"]


def json_value(text: str | bytes) -> Any:
    """Parse JSON text into language values; ``ValueError`` (with a short reason) when it is not JSON."""
    try:
        return from_json_text(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def json_values(texts: Sequence[str | bytes]) -> list[Any]:
    """:func:`json_value` of each text, in one loop (a batch of lines); the first that is not JSON raises."""
    try:
        return from_json_texts(texts)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def json_or_text(text: str) -> Any:
    """The JSON value of ``text`` when it is JSON, else ``text`` itself; JSON with a lone surrogate raises
    :class:`LoneSurrogateError` (a chunk fault for the caller), never passes as text."""
    try:
        return from_json_text(text)
    except LoneSurrogateError:
        raise
    except (ValueError, RecursionError):
        return text
