"""A package's re-exported names, imported on first use (PEP 562).

``streamrt``, ``streamrt.runtime`` and ``streamrt.testing`` re-export names from their modules without importing
those modules up front, so that importing the package (and the CLI's start) stays cheap. Each of them keeps a
``name -> module`` table and takes its module ``__getattr__`` and ``__dir__`` from :func:`lazy_exports`. This
module imports nothing of streamrt and nothing at all until a name is first asked for (not even ``typing``),
so it is the bottom of the layers.
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: importing typing would cost `import streamrt` ten milliseconds (mypy reads the name).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: dict[str, Any], home: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of the package whose ``globals()`` is ``namespace``.

    ``home`` maps each lazy name to the module that defines it. A name is imported once and then kept in the
    package's namespace, so later reads do not come back here; ``dir()`` lists the names of ``__all__`` too.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        from importlib import import_module  # here, so that importing a package does not pay for it

        value = getattr(import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *namespace.get("__all__", ())})

    return __getattr__, __dir__
