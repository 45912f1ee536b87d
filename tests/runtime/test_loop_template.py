"""The chunk loops are generated from the whole of their template's text (streamrt/runtime/loops.py).

The module cuts the template out of its file by the lines its code spans instead of ``inspect.getsource`` (which
tokenizes the file: milliseconds of every start); this checks the cut is exactly what ``getsource`` gives.
"""

from __future__ import annotations

import inspect
import textwrap

from streamrt.runtime import loops


def test_the_template_text_is_what_getsource_reads() -> None:
    expected = textwrap.dedent(inspect.getsource(loops._template))
    assert expected == loops._SOURCE
