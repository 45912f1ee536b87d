"""A stream's per-chunk limits: the host's default with the stream's ``:limits`` option on top.

The limits themselves (:class:`~streamrt.lang.meter.Limits`) and the metering of compiled code live in the language
(:mod:`streamrt.lang.meter`, :mod:`streamrt.lang.metered`); this module is the host's side: which limits a stream
runs under.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from streamrt.lang.meter import DEFAULT_LIMITS, Limits
from streamrt.values import Keyword

__all__ = ["DEFAULT_LIMITS", "LIMITS_OPTION", "Limits", "resolve_limits"]

LIMITS_OPTION: Final = Keyword("limits")


def resolve_limits(default: Limits | None, options: Mapping[Keyword, Any] | None) -> Limits | None:
    """A stream's limits: the host's default with the stream's ``:limits`` option on top (``None``: no limits)."""
    override = options.get(LIMITS_OPTION) if options else None
    if override is None:
        return default
    return (default or DEFAULT_LIMITS).merged(override)
