"""Secrets of a stream: what counts as one, the one way they are hidden, and how a snapshot refers to them.

Theory of operation. A stream's secrets are its credential options (``:bearer-token``, ``:auth-header``), the values
of the headers its source sends, and the password of a ``user:password@`` source URL. Three uses, one module:

- **Shown** (inspect, logs, errors, health): :func:`redact` removes secret strings from text, :func:`redact_url`
  the user info from a URL, :func:`shown_options` replaces credential options by ``"[redacted]"``.
- **Stored** (snapshots): :func:`stored_options` and :func:`stored_uri` replace a secret by a *reference*: an option
  given as ``{:env "VAR"}`` is kept as it is (it names a variable, it holds no secret); a literal becomes
  ``{:option "bearer-token"}``, and a URL's password is dropped for ``{:option "source-password"}``.
- **Resumed**: :func:`restore_secrets` fills each ``{:option NAME}`` reference again, from what the host passes
  (``streamrt resume --secret NAME=VAR``, ``resume_streams(secrets=...)``) or else from NAME's standard environment
  variable; a reference nobody fills is a :class:`~streamrt.errors.UsageError` naming both ways.

``{:env "VAR"}`` is read when the source opens (:func:`secret_value`), so a script can name its credentials without
ever holding them, and a resumed stream finds them again by itself.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping
from typing import Any, Final

from streamrt.errors import UsageError
from streamrt.values import Keyword

__all__ = [
    "REDACTED",
    "SECRET_OPTIONS",
    "SOURCE_PASSWORD",
    "is_reference",
    "redact",
    "redact_url",
    "restore_secrets",
    "secret_flags",
    "secret_value",
    "secrets_given",
    "secrets_of",
    "shown_options",
    "stored_options",
]

SOURCE_PASSWORD: Final = "source-password"
"""The name of a source URL's password, as a reference and for ``--secret``."""
SECRET_OPTIONS: Final = {
    "bearer-token": ("STREAMRT_MCP_STREAM_BEARER_TOKEN", "CCOS_MCP_STREAM_BEARER_TOKEN"),
    "auth-header": ("STREAMRT_MCP_STREAM_AUTH_HEADER", "CCOS_MCP_STREAM_AUTH_HEADER"),
    SOURCE_PASSWORD: ("STREAMRT_SOURCE_PASSWORD",),
}
"""Each secret by name, with the environment variables a resume reads it from when the host passes nothing."""

REDACTED: Final = "[redacted]"
_ENV: Final = Keyword("env")
_OPTION: Final = Keyword("option")
_ENDPOINT: Final = "endpoint"
_SHORTEST: Final = 4
"""Shorter values are not replaced: redacting every ``1`` or ``on`` would garble messages and hide nothing."""


def redact_url(url: str) -> str:
    """The URL without user info (``http://***@host/...``), for messages, logs and inspect."""
    if "@" not in url and url.isascii() and "[" not in url and "]" not in url:
        # no user info, and nothing urlsplit refuses (brackets, a netloc not ASCII): as it is, without importing
        # urllib.parse and ipaddress for a path (a run over a file, issue #17)
        return url
    from urllib.parse import urlsplit, urlunsplit

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
        from urllib.parse import unquote, urlsplit

        try:
            parts = urlsplit(url)
            userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
        except ValueError:
            userinfo = ""
        for raw in (userinfo, userinfo.partition(":")[2]):
            found.update((raw, unquote(raw)))
        if userinfo:  # what httpx sends for it: Authorization: Basic base64(user:password)
            found.add(base64.b64encode(unquote(userinfo).encode()).decode())
    return tuple(sorted((s for s in found if len(s) >= _SHORTEST), key=len, reverse=True))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``[redacted]``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


# --- option maps -----------------------------------------------------------------------------------------------


def _name(key: Any) -> str:
    return str(getattr(key, "qualified", key)).replace("_", "-")


def _field(value: Any, name: str) -> Any:
    """``value[:name]`` for a one-entry map with a keyword or string key, else ``None``."""
    if isinstance(value, Mapping) and len(value) == 1:
        key, inner = next(iter(value.items()))
        if _name(key) == name:
            return inner
    return None


def is_reference(value: Any) -> bool:
    """Whether an option value is ``{:env "VAR"}`` or ``{:option "NAME"}`` rather than a secret."""
    return isinstance(_field(value, "env"), str) or isinstance(_field(value, "option"), str)


def secret_value(value: Any, env: Mapping[str, str], where: str) -> Any:
    """A credential option's value: ``{:env "VAR"}`` read from ``env``; a literal as it is.

    ``{:option NAME}`` here means a snapshot's reference that nobody filled (see :func:`restore_secrets`).
    """
    var = _field(value, "env")
    if isinstance(var, str):
        found = env.get(var)
        if not found:
            raise UsageError(f"{where} names the environment variable {var}, which is not set")
        return found
    name = _field(value, "option")
    if isinstance(name, str):
        raise UsageError(f"{where}: {_missing(name)}")
    return value


def shown_options(options: Mapping[Any, Any]) -> dict[Any, Any]:
    """``options`` for display: credential literals as ``"[redacted]"``, URLs without user info."""
    out = dict(options)
    for key, value in options.items():
        name = _name(key)
        if name in SECRET_OPTIONS and value is not None and not is_reference(value):
            out[key] = REDACTED
        elif name == _ENDPOINT and isinstance(value, str):
            out[key] = redact_url(value)
    return out


def stored_options(options: Mapping[Any, Any], uri: str | None = None) -> tuple[dict[Any, Any], str | None]:
    """``options`` and the source ``uri`` for a snapshot, with every secret replaced by a reference.

    A credential literal becomes ``{:option NAME}``; a URL (the source's, the ``:endpoint`` option) keeps its user
    and loses its password, and the options get ``:source-password {:option "source-password"}`` in its place.
    """
    out = dict(options)
    dropped = False
    for key, value in options.items():
        name = _name(key)
        if name in SECRET_OPTIONS and value is not None and not is_reference(value):
            out[key] = {_OPTION: name}
        elif name == _ENDPOINT and isinstance(value, str):
            out[key], lost = _without_password(value)
            dropped = dropped or lost
    kept_uri, lost = _without_password(uri)
    if dropped or lost:
        out[Keyword(SOURCE_PASSWORD)] = {_OPTION: SOURCE_PASSWORD}
    return out, kept_uri


def _without_password(uri: str | None) -> tuple[Any, bool]:
    """``uri`` without the password of its user info, and whether it had one."""
    if uri is None or "@" not in uri:  # the common case, and a fast one (snapshots may be taken per chunk)
        return uri, False
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(uri)
        if parts.password is None:
            return uri, False
    except ValueError:
        return redact_url(uri), False
    userinfo, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{userinfo.partition(':')[0]}@{host}")), True


def restore_secrets(
    options: Mapping[Any, Any],
    uri: str | None,
    *,
    stream_id: str,
    secrets: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[dict[Any, Any], str | None]:
    """The options and source URI a resumed stream opens its source with: every ``{:option NAME}`` filled.

    From ``secrets[NAME]`` when the host gives it, else from NAME's standard environment variables
    (:data:`SECRET_OPTIONS`); a ``:source-password`` reference puts the password back into ``uri``.
    """
    given = secrets or {}
    environ = os.environ if env is None else env

    def fill(name: str) -> str:
        if name in given:
            return given[name]
        for var in SECRET_OPTIONS.get(name, ()):
            if environ.get(var):
                return environ[var]
        raise UsageError(f"stream {stream_id!r}: {_missing(name)}")

    out = dict(options)
    password = None
    for key, value in options.items():
        name = _field(value, "option")
        if not isinstance(name, str) or _name(key) not in SECRET_OPTIONS:
            continue
        if _name(key) == SOURCE_PASSWORD:
            password = fill(SOURCE_PASSWORD)
        else:
            out[key] = fill(name)
    if password is not None and uri is not None:
        from urllib.parse import quote, urlsplit, urlunsplit

        parts = urlsplit(uri)
        user, at, host = parts.netloc.rpartition("@")
        if at:
            uri = urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))
    return out, uri


def secrets_given(options: Mapping[Any, Any], uri: str | None) -> dict[str, str]:
    """The secrets a stream's options and source URI hold as literals, by name (a script run again with a store
    gives its resumed streams their secrets this way)."""
    out: dict[str, str] = {}
    for key, value in options.items():
        name = _name(key)
        if name in SECRET_OPTIONS and isinstance(value, str):
            out[name] = value
    if uri is not None and "@" in uri:
        from urllib.parse import unquote, urlsplit

        try:
            password = urlsplit(uri).password
        except ValueError:
            password = None
        if password is not None:
            out[SOURCE_PASSWORD] = unquote(password)
    return out


def secret_flags(pairs: Iterable[str], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``--secret NAME=VARIABLE`` flags as ``{NAME: value of VARIABLE}``: a secret never goes on a command line."""
    environ = os.environ if env is None else env
    out: dict[str, str] = {}
    known = ", ".join(SECRET_OPTIONS)
    for pair in pairs:
        name, sep, var = pair.partition("=")
        if not sep or name not in SECRET_OPTIONS or not var:
            raise UsageError(f"--secret takes NAME=VARIABLE with NAME one of {known}, got {pair!r}")
        value = environ.get(var)
        if not value:
            raise UsageError(f"--secret {name}={var}: the environment variable {var} is not set")
        out[name] = value
    return out


def _missing(name: str) -> str:
    variables = " or ".join(SECRET_OPTIONS.get(name, ())) or "a variable"
    return (
        f"its {name} was given as a secret, which snapshots never store; set {variables}, or name another "
        f"variable with --secret {name}=VARIABLE (resume_streams(secrets={{{name!r}: ...}}) from Python)"
    )
