"""Bearer tokens mapped to client ids: kept hashed, compared in constant time, never logged.

A tokens file has one client a line, ``CLIENT TOKEN`` or ``CLIENT sha256:HEX`` (the token's SHA-256, so the file
need not hold the secret); ``#`` starts a comment. ``STREAMRT_API_TOKENS`` holds ``CLIENT:TOKEN`` pairs separated
by commas. Either way only the digests stay in memory. A request's token (``Authorization: Bearer ...``, or the
``streamrt_token`` cookie the status page sets) is hashed and compared with every known digest by
:func:`hmac.compare_digest`, all of them, so how long the check takes says nothing about which digest came close.
Nothing here writes a token anywhere; a refused request is told only that it was refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from starlette.requests import HTTPConnection

from streamrt.errors import UsageError
from streamrt.serve.problems import Problem

__all__ = [
    "ANONYMOUS",
    "COOKIE",
    "ENV_TOKENS",
    "authenticate",
    "client_of_token",
    "hash_token",
    "load_tokens",
]

ANONYMOUS: Final = "anonymous"
"""The client of every request under ``--no-auth``."""
COOKIE: Final = "streamrt_token"
ENV_TOKENS: Final = "STREAMRT_API_TOKENS"
_CLIENT: Final = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_DIGEST: Final = re.compile(r"^sha256:([0-9a-f]{64})$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _entry(client: str, secret: str, where: str) -> tuple[str, str]:
    if not _CLIENT.match(client):
        raise UsageError(f"{where}: a client id is 1-64 letters, digits or _.@-, got {client!r}")
    if not secret:
        raise UsageError(f"{where}: client {client!r} has an empty token")
    digest = _DIGEST.match(secret)
    return (digest.group(1) if digest else hash_token(secret)), client


def load_tokens(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Digest -> client id, from a tokens file and the environment; a malformed line names its place (never
    the token)."""
    tokens: dict[str, str] = {}
    if path is not None:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read the tokens file {str(path)!r}: {exc.strerror}") from None
        for n, line in enumerate(lines, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            parts = text.split()
            if len(parts) != 2:
                raise UsageError(f"{path}:{n}: expected 'CLIENT TOKEN' or 'CLIENT sha256:HEX'")
            digest, client = _entry(parts[0], parts[1], f"{path}:{n}")
            tokens[digest] = client
    source = (os.environ if env is None else env).get(ENV_TOKENS, "")
    for i, pair in enumerate(p for p in source.split(",") if p.strip()):
        client, sep, secret = pair.strip().partition(":")
        if not sep:
            raise UsageError(f"{ENV_TOKENS}: entry {i + 1} is not CLIENT:TOKEN")
        digest, client = _entry(client, secret, f"{ENV_TOKENS} entry {i + 1}")
        tokens[digest] = client
    return tokens


def _presented(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else ""
    return conn.cookies.get(COOKIE)


def authenticate(conn: HTTPConnection, tokens: Mapping[str, str], *, no_auth: bool) -> str:
    """The client id of a request, or a 401 problem."""
    if no_auth:
        return ANONYMOUS
    token = _presented(conn)
    if not token:
        raise Problem(
            "unauthorized",
            "a bearer token is required",
            headers={"WWW-Authenticate": 'Bearer realm="streamrt"'},
        )
    return client_of_token(token, tokens)


def client_of_token(token: str, tokens: Mapping[str, str]) -> str:
    """The client a token belongs to, compared with every known digest in constant time; or a 401 problem."""
    digest = hash_token(token).encode()
    found: str | None = None
    for known, client in tokens.items():
        if hmac.compare_digest(digest, known.encode()):
            found = client
    if found is None:
        raise Problem(
            "unauthorized",
            "the bearer token is not valid",
            headers={"WWW-Authenticate": 'Bearer realm="streamrt", error="invalid_token"'},
        )
    return found
