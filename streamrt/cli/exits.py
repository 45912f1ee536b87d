"""The exit codes of the ``streamrt`` command (see :mod:`streamrt.cli`), below every command's module."""

from __future__ import annotations

from typing import Final

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_PIPE", "EXIT_SIGINT", "EXIT_SIGTERM", "EXIT_USAGE"]

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_PIPE: Final = 141
"""stdout was closed by its reader (``streamrt run ... | head``): 128 + SIGPIPE, as a shell reports it."""
EXIT_SIGINT: Final = 130
EXIT_SIGTERM: Final = 143
