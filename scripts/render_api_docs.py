"""Write docs/api.md from the API's OpenAPI description (streamrt/serve/openapi.py).

Run after changing the API: `.venv/bin/python scripts/render_api_docs.py`. tests/serve/test_openapi.py fails while
docs/api.md is not what this writes.
"""

from __future__ import annotations

from pathlib import Path

from streamrt.serve.openapi import render_markdown, spec

PAGE = Path(__file__).resolve().parent.parent / "docs" / "api.md"

if __name__ == "__main__":
    PAGE.write_text(render_markdown(spec()), encoding="utf-8")
    print(f"wrote {PAGE}")
