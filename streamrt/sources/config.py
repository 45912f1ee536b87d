"""Source configuration from the environment and per-stream options: credentials and the base URL for bare names.

Credentials come from three levels, highest first; the first level that names any credential is used whole, so a
per-stream token is never mixed with a token from the environment:

1. the stream's options (``:bearer-token``, ``:auth-header``; from ``mcp-stream`` options or the host API);
2. ``STREAMRT_MCP_STREAM_BEARER_TOKEN`` / ``STREAMRT_MCP_STREAM_AUTH_HEADER``;
3. ``CCOS_MCP_STREAM_BEARER_TOKEN`` / ``CCOS_MCP_STREAM_AUTH_HEADER`` (names of the older system).

A bearer token becomes ``Authorization: Bearer <token>``; an auth header is a whole ``Name: value`` line, except
that ``CCOS_MCP_STREAM_AUTH_HEADER`` may also be a bare value (``Bearer abc``), sent as the ``Authorization`` value
as the older system did. Both may be given at one level if the header is not ``Authorization``. The base URL for
bare names is the first of ``STREAMRT_MCP_STREAM_ENDPOINT``, ``CCOS_MCP_STREAM_ENDPOINT``,
``CCOS_MCP_LOCAL_SSE_URL``, ``CCOS_MCP_CLOUDFLARE_DOCS_SSE_URL`` that is set (the older system's order). Extra
non-secret headers come from ``:headers`` (a map). Error messages name the variable or option, never its value. An
option may name a variable instead of holding the secret, ``{:env "MY_TOKEN"}``: it is read when the source opens,
and snapshots keep the name (see :mod:`streamrt.secrets`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from streamrt.errors import SourceError, UsageError
from streamrt.secrets import secret_value

__all__ = [
    "AUTH_HEADER_VARS",
    "BEARER_TOKEN_VARS",
    "ENDPOINT_VARS",
    "auth_headers",
    "get_option",
    "stream_endpoint_base",
]

ENDPOINT_VARS = (
    "STREAMRT_MCP_STREAM_ENDPOINT",
    "CCOS_MCP_STREAM_ENDPOINT",
    "CCOS_MCP_LOCAL_SSE_URL",
    "CCOS_MCP_CLOUDFLARE_DOCS_SSE_URL",
)
BEARER_TOKEN_VARS = ("STREAMRT_MCP_STREAM_BEARER_TOKEN", "CCOS_MCP_STREAM_BEARER_TOKEN")
AUTH_HEADER_VARS = ("STREAMRT_MCP_STREAM_AUTH_HEADER", "CCOS_MCP_STREAM_AUTH_HEADER")
_BARE_AUTH_VALUE = frozenset({"CCOS_MCP_STREAM_AUTH_HEADER"})
"""Where a value without ``Name:`` is the Authorization value (the older system sent it so)."""

# RFC 9110 token characters for a header name.
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def get_option(options: Mapping[Any, Any] | None, name: str) -> Any:
    """Look up an option given as a keyword (``:bearer-token``) or a string, with ``-`` or ``_``."""
    if not options:
        return None
    wanted = {name, name.replace("-", "_"), name.replace("_", "-")}
    for key, value in options.items():
        if str(getattr(key, "qualified", key)) in wanted:
            return value
    return None


def _parse_header(line: str, where: str) -> tuple[str, str]:
    name, sep, value = line.partition(":")
    name, value = name.strip(), value.strip()
    if where in _BARE_AUTH_VALUE and (not sep or not _HEADER_NAME.match(name)):
        name, sep, value = "Authorization", ":", line.strip()
    if not sep or not _HEADER_NAME.match(name) or not value or "\n" in value or "\r" in value:
        raise SourceError(
            f"{where} must be one header line such as 'X-Api-Key: secret' (the value is not shown)"
        )
    return name, value


def _level(bearer: Any, header: Any, bearer_where: str, header_where: str) -> dict[str, str] | None:
    """Headers for one level, or ``None`` if the level names no credential."""
    if not bearer and not header:
        return None
    out: dict[str, str] = {}
    if header:
        if not isinstance(header, str):
            raise SourceError(f"{header_where} must be a string")
        name, value = _parse_header(header, header_where)
        out[name] = value
    if bearer:
        if not isinstance(bearer, str) or any(c in bearer for c in "\r\n") or not bearer.strip():
            raise SourceError(f"{bearer_where} must be a non-empty one-line string (the value is not shown)")
        if any(k.lower() == "authorization" for k in out):
            raise SourceError(
                f"both {bearer_where} and an Authorization header in {header_where} are set; keep one"
            )
        out["Authorization"] = f"Bearer {bearer.strip()}"
    return out


def auth_headers(env: Mapping[str, str], options: Mapping[Any, Any] | None = None) -> dict[str, str]:
    """HTTP headers (credentials and ``:headers``) for a network source, from ``options`` over ``env``."""
    extra = get_option(options, "headers")
    headers: dict[str, str] = {}
    if extra is not None:
        if not isinstance(extra, Mapping):
            raise SourceError("the :headers option must be a map of header name to string value")
        for key, value in extra.items():
            name = str(getattr(key, "qualified", key))
            if not _HEADER_NAME.match(name) or not isinstance(value, str) or "\n" in value or "\r" in value:
                raise SourceError(f"the :headers option has a bad header {name!r}")
            headers[name] = value
    try:
        bearer_option = secret_value(get_option(options, "bearer-token"), env, "the :bearer-token option")
        header_option = secret_value(get_option(options, "auth-header"), env, "the :auth-header option")
    except UsageError as err:
        raise SourceError(str(err)) from None
    levels = [
        (bearer_option, header_option, ":bearer-token", ":auth-header"),
        *(
            (env.get(bearer_var), env.get(header_var), bearer_var, header_var)
            for bearer_var, header_var in zip(BEARER_TOKEN_VARS, AUTH_HEADER_VARS, strict=True)
        ),
    ]
    for bearer, header, bearer_where, header_where in levels:
        found = _level(bearer, header, bearer_where, header_where)
        if found is not None:
            headers.update(found)
            break
    return headers


def stream_endpoint_base(env: Mapping[str, str]) -> str | None:
    """The base URL that bare stream names resolve against, or ``None`` if neither variable is set."""
    for var in ENDPOINT_VARS:
        value = env.get(var, "").strip()
        if value:
            return value
    return None
