"""Secrets of network sources: what counts as one, and the one way text is cleaned of them.

A source's secrets are the values of the headers it sends from its configuration (a bearer token, an auth header,
``:headers``) and the password of a ``user:password@`` URL. Everything a user or a log reads about a source goes
through :func:`redact` (messages, health, errors a server echoes) or :func:`redact_url` (URIs), here and nowhere
else, so a new place that shows a source cannot forget a case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["REDACTED", "redact", "redact_url", "secrets_of"]

REDACTED: Final = "[redacted]"
_SHORTEST: Final = 4
"""Shorter values are not replaced: redacting every ``1`` or ``on`` would garble messages and hide nothing."""


def redact_url(url: str) -> str:
    """The URL without user info (``http://***@host/...``), for messages, logs and inspect."""
    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return url
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparsable URL>"
    netloc = f"***@{host}" + (f":{port}" if port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def secrets_of(headers: Mapping[str, str] | None = None, url: str | None = None) -> tuple[str, ...]:
    """The strings :func:`redact` removes for a source sending ``headers`` to ``url``.

    Each header value, and the part after the scheme word (``Bearer x`` -> ``x``); the user info of the URL, as
    written and percent-decoded. Longest first, so a value containing another is removed whole.
    """
    found: set[str] = set()
    for value in (headers or {}).values():
        found.add(value)
        found.add(value.partition(" ")[2])
    if url:
        try:
            parts = urlsplit(url)
            userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
        except ValueError:
            userinfo = ""
        for raw in (userinfo, userinfo.partition(":")[2]):
            found.update((raw, unquote(raw)))
    return tuple(sorted((s for s in found if len(s) >= _SHORTEST), key=len, reverse=True))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``[redacted]``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text
