"""Where a file source reads: the path a ``jsonl:`` URI (or a plain ``*.jsonl`` path) names.

Below both the registry, which resolves a script's relative paths, and the JSON Lines source, which opens them, so
that neither imports the other (the registry imports the source only when one is opened).
"""

from __future__ import annotations

import os

from streamrt.plugins import scheme_of

__all__ = ["jsonl_path"]


def jsonl_path(uri: str) -> str:
    """The file path of a ``jsonl:PATH`` URI or of a plain path (``~`` expanded)."""
    path = uri.strip()
    if scheme_of(path) == "jsonl":
        path = path[len("jsonl:") :]
        if path.startswith("//"):
            path = path[2:]
    return os.path.expanduser(path)
