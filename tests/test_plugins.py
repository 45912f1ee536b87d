"""Source, sink and store types by scheme: built in, added in-process, or installed by another package."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamrt.errors import SourceError, StoreUnavailableError, UsageError
from streamrt.plugins import Registry, scheme_of
from streamrt.sources import SOURCES, SourceRequest, SourceType, open_source, parse_source_uri, source_effects
from streamrt.sources.mock import MockSource
from streamrt.store import STORES, MemoryStore, StoreType, open_store


@pytest.mark.parametrize(
    ("text", "scheme"),
    [
        pytest.param("mock:x", "mock", id="scheme"),
        pytest.param("MCP+HTTP://h/", "mcp+http", id="lower-cased"),
        pytest.param("C:\\data\\in.jsonl", None, id="drive-letter"),
        pytest.param("data/2024-01-01T10:00:00.jsonl", None, id="slash-before-colon"),
        pytest.param("2024-01-01T10:00:00.jsonl", None, id="starts-with-a-digit"),
        pytest.param("weather.monitor.v1", None, id="bare-name"),
    ],
)
def test_scheme_of(text: str, scheme: str | None) -> None:
    assert scheme_of(text) == scheme


def _ticks(request: SourceRequest) -> MockSource:
    return MockSource("mock:" + request.uri.text.partition(":")[2], request.continuation)


@pytest.fixture
def ticks() -> Iterator[SourceType]:
    kind = SourceType(_ticks, frozenset(), "ticks:NAME?count=N")
    SOURCES.add("ticks", kind)
    try:
        yield kind
    finally:
        SOURCES.remove("ticks")


def test_a_type_added_in_process_opens_its_scheme_and_declares_its_effects(ticks: SourceType) -> None:
    source = open_source("ticks:t?count=2", env={})
    assert isinstance(source, MockSource) and source.count == 2
    assert source_effects("ticks:t?count=2") == frozenset()
    assert parse_source_uri("TICKS:t").scheme == "ticks"


def test_an_unknown_scheme_lists_the_schemes_there_are(ticks: SourceType) -> None:
    with pytest.raises(SourceError, match=r"unknown source scheme 'tock'.*ticks:NAME\?count=N"):
        open_source("tock:t", env={})
    assert source_effects("tock:t") == {"network"}


def test_built_in_types_cannot_be_replaced_and_only_types_are_registered() -> None:
    with pytest.raises(UsageError, match="'jsonl' is built in"):
        SOURCES.add("jsonl", SourceType(_ticks))
    with pytest.raises(UsageError, match="must be a SourceType"):
        SOURCES.add("other", _ticks)  # type: ignore[arg-type]


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[Path]:
    """A distribution on sys.path declaring entry points, as pip would install it (no mock of importlib.metadata)."""
    dist = tmp_path / "fake_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[streamrt.sources]\n"
        "good = fake_plugin:GOOD\n"
        "wrong = fake_plugin:NOT_A_TYPE\n"
        "broken = fake_plugin_missing:X\n"
        "jsonl = fake_plugin:GOOD\n"
    )
    (tmp_path / "fake_plugin.py").write_text(
        "from streamrt.sources import SourceType\n"
        "from streamrt.sources.mock import MockSource\n"
        "GOOD = SourceType(lambda r: MockSource('mock:good', r.continuation), frozenset({'fs'}), 'good:')\n"
        "NOT_A_TYPE = 42\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("fake_plugin", None)


def test_installed_entry_points_are_found_after_the_built_ins(installed: Path) -> None:
    registry = Registry("streamrt.sources", SourceType, {"jsonl": SourceType(_ticks, frozenset({"fs"}))})
    good = registry.get("good")
    assert good is not None and good.effects == {"fs"} and good.usage == "good:"
    assert registry.get("jsonl") is not good, "a plugin must not replace a built-in scheme"
    assert registry.get("nothing") is None
    assert registry.names()[0] == "jsonl" and {"good", "wrong", "broken"} <= set(registry.names())
    with pytest.raises(UsageError, match=r"plugin 'wrong' \(fake_plugin:NOT_A_TYPE\) is not a SourceType"):
        registry.get("wrong")
    with pytest.raises(UsageError, match=r"plugin 'broken' .* cannot be loaded: ModuleNotFoundError"):
        registry.get("broken")


class _Kept(MemoryStore):
    """A memory store under a name, for the registry test."""


def test_a_store_type_added_in_process_opens_its_scheme() -> None:
    STORES.add("kept", StoreType(lambda url: _Kept(url), "kept:NAME"))
    try:
        store = open_store("kept+v2:one")
        assert type(store) is _Kept and store.url == "kept+v2:one"
        with pytest.raises(StoreUnavailableError, match=r"unsupported store URL scheme 'gone'.*kept:NAME"):
            open_store("gone:x")
    finally:
        STORES.remove("kept")
    with pytest.raises(StoreUnavailableError, match="unsupported store URL scheme 'kept'"):
        open_store("kept:one")
