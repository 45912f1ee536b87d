"""A stream's per-chunk limits: the host's, lowered by the stream's ``:limits`` option.

The host's limits are ceilings: a script runs under them whatever it asks, and its ``:limits`` may lower a limit for
its stream, never raise it (a larger value is capped at the host's). A host that turned limits off sets no ceiling:
a stream's ``:limits`` then apply over the defaults. The limits themselves (:class:`~streamrt.lang.meter.Limits`) and the metering of compiled code live in the language
(:mod:`streamrt.lang.meter`, :mod:`streamrt.lang.metered`); this module is the host's side: which limits a stream
runs under.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from streamrt.lang.meter import DEFAULT_LIMITS, Limits
from streamrt.values import Keyword

__all__ = ["DEFAULT_LIMITS", "LIMITS_OPTION", "Limits", "resolve_limits", "stream_limits"]

LIMITS_OPTION: Final = Keyword("limits")


def stream_limits(host: Limits | None, asked: Mapping[Any, Any] | None) -> Limits | None:
    """The limits a stream runs under: the ``host``'s (``None``: off), each lowered to what the stream's ``:limits``
    map ``asked`` says, never raised; with no host limits, ``asked`` over the defaults."""
    if asked is None:
        return host
    if host is None:
        return DEFAULT_LIMITS.merged(asked)
    return host.capped(asked)


def resolve_limits(default: Limits | None, options: Mapping[Keyword, Any] | None) -> Limits | None:
    """A stream's limits from its options map: :func:`stream_limits` of its ``:limits`` option."""
    return stream_limits(default, options.get(LIMITS_OPTION) if options else None)
