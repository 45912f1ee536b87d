"""``redact_url`` returns a URL without user info as it is, without parsing it (issue #17: a run over a file then
imports neither ``urllib.parse`` nor the ``ipaddress`` module it imports): the same answers as parsing every URL."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from hypothesis import example, given
from hypothesis import strategies as st

from streamrt.secrets import redact_url


def parsed_redact_url(url: str) -> str:
    """The oracle: redact_url as it was, parsing every URL."""
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


PIECES = ["http://", "https://", "mcp+http://", "jsonl:", "ws://", "//", "@", ":", "[", "]", "::1", "a", "h", "8",
          "/", "?", "#", "\t", "\n", "\ufe6b", "\uff20", "é", "x.jsonl", "user:pw@", "%40"]  # fmt: skip


@given(st.lists(st.sampled_from(PIECES), max_size=8).map("".join) | st.text(max_size=20))
@example("weather.jsonl")
@example("http://[::1")
@example("http://[::1]:8/x")
@example("http://h\ufe6b:8/")
@example("http://h:x/")
@example("http://u:p@h:x/")
@example("")
def test_redact_url_answers_as_parsing_every_url(url: str) -> None:
    assert redact_url(url) == parsed_redact_url(url)
