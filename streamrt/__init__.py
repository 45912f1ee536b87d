"""streamrt: a stateful stream-processor runtime with a small Lisp-like language."""

from __future__ import annotations

__version__ = "0.1.0"
