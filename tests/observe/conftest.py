"""Fixtures shared by the observer tests."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from streamrt.observe.logs import configure_logging, unconfigure_logging


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every ``streamrt.*`` record at DEBUG and up, as JSON lines in a buffer."""
    buf = io.StringIO()
    handler = configure_logging("debug", "json", buf)
    try:
        yield buf
    finally:
        unconfigure_logging(handler)
