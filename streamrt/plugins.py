"""Named extensions: the source, sink and store types that URIs pick by scheme, built in or from other packages.

Theory of operation
-------------------
Each kind of extension has one :class:`Registry`, named after its entry-point group (``streamrt.sources``,
``streamrt.sinks``, ``streamrt.stores``). A name is looked up in the registry's built-in table first, then in the
names added in-process with :meth:`Registry.add`, then among the entry points that installed distributions declare
in that group (``[project.entry-points."streamrt.sources"]`` in a plugin's ``pyproject.toml``, the entry point's
name being the URI scheme and its value an object of the registry's type). So a plugin can add schemes but never
replace a built-in one, and a run that only uses built-in schemes never scans the installed distributions: the
entry points are read once, on the first name that is not built in.

Built-in types live in a table in code rather than in our own ``pyproject.toml`` entry points: they work from a
source tree that was never installed, they cannot be shadowed by a stale installation, and looking them up costs a
dict lookup. Every built-in type imports its heavy modules (httpx, SQLAlchemy, websockets) only when it opens
something, so the table itself is cheap to import.

:func:`scheme_of` is the one reading of "does this text start with a scheme" that sources, sinks and stores share.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, Generic, TypeVar

from streamrt.errors import StreamrtError, UsageError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["Registry", "scheme_of"]

T = TypeVar("T")

# A scheme is at least two characters, so that a Windows drive letter ("C:\\data.jsonl") reads as a path; a path
# such as "data/2024-01-01T10:00:00.jsonl" has a "/" before its first ":" and so has no scheme either.
_SCHEME: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


def scheme_of(text: str) -> str | None:
    """The URI scheme ``text`` starts with, lower-cased, or None if it has none (a path, a bare name)."""
    match = _SCHEME.match(text)
    return match.group(1).lower() if match else None


class Registry(Generic[T]):
    """The types of one kind of extension by name: a built-in table, then in-process additions, then entry points.

    ``error`` is the exception class for an entry point that cannot be loaded or is not a ``kind``.
    """

    def __init__(
        self, group: str, kind: type[T], builtins: Mapping[str, T], *, error: type[StreamrtError] = UsageError
    ) -> None:
        self.group = group
        self.kind = kind
        self._builtins = dict(builtins)
        self._added: dict[str, T] = {}
        self._installed: dict[str, EntryPoint] | None = None
        self._loaded: dict[str, T] = {}
        self._error = error

    def add(self, name: str, value: T) -> None:
        """Register ``value`` under ``name`` for this process (a host's own type; tests). Built-ins stay."""
        if not isinstance(value, self.kind):
            raise UsageError(f"{self.group}: {name!r} must be a {self.kind.__name__}, got {value!r}")
        if name in self._builtins:
            raise UsageError(f"{self.group}: {name!r} is built in and cannot be replaced")
        self._added[name] = value

    def remove(self, name: str) -> None:
        """Undo :meth:`add`."""
        self._added.pop(name, None)

    def get(self, name: str) -> T | None:
        """The type registered as ``name``, or None."""
        found = self._builtins.get(name)
        if found is not None:
            return found
        found = self._added.get(name)
        if found is not None:
            return found
        found = self._loaded.get(name)
        if found is not None:
            return found
        point = self._entry_points().get(name)
        if point is None:
            return None
        try:
            value = point.load()
        except Exception as exc:  # a broken plugin is the installation's problem; say which one
            raise self._error(
                f"the {self.group} plugin {name!r} ({point.value}) cannot be loaded: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(value, self.kind):
            raise self._error(
                f"the {self.group} plugin {name!r} ({point.value}) is not a {self.kind.__name__}: {value!r}"
            )
        self._loaded[name] = value
        return value

    def names(self) -> list[str]:
        """Every name: built-in first (in table order), then added and installed ones, sorted."""
        others = (set(self._added) | set(self._entry_points())) - set(self._builtins)
        return [*self._builtins, *sorted(others)]

    def usages(self) -> list[str]:
        """How every type's URIs look (its ``usage``, else ``NAME:…``), each once, for messages."""
        out: dict[str, None] = {}
        for name in self.names():
            try:
                found = self.get(name)
            except StreamrtError:
                found = None  # a broken plugin is reported when it is used
            out[str(getattr(found, "usage", "") or f"{name}:…")] = None
        return list(out)

    def _entry_points(self) -> dict[str, EntryPoint]:
        if self._installed is None:
            # importlib.metadata costs tens of milliseconds to import: only when a name is not built in
            from importlib.metadata import entry_points

            self._installed = {point.name: point for point in entry_points(group=self.group)}
        return self._installed
