"""The lifecycle table in docs/lifecycle.md is the one the directive machine holds."""

from __future__ import annotations

from pathlib import Path

from streamrt.runtime.machine import TRANSITIONS, Effect, Status, lifecycle_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md"
BEGIN, END = "<!-- lifecycle table: begin -->\n", "<!-- lifecycle table: end -->"


def test_the_docs_table_is_the_machines() -> None:
    text = DOC.read_text(encoding="utf-8")
    documented = text[text.index(BEGIN) + len(BEGIN) : text.index(END)]
    assert documented == lifecycle_table(), (
        "docs/lifecycle.md is out of date: paste in the output of "
        "python -c 'from streamrt.runtime.machine import lifecycle_table; print(lifecycle_table())'"
    )


def test_the_table_names_every_transition_that_does_something() -> None:
    rows = [line.split(" | ") for line in lifecycle_table().splitlines()[2:]]
    covered = set()
    for sources, events, target, _ in rows:
        for status in sources.strip("| ").split(", "):
            for event in events.split(", "):
                covered.add((status, event, target))
    for (status, event), t in TRANSITIONS.items():
        if t.effects is Effect.NONE and not t.changed:
            continue
        target = t.target.value if t.changed else "same"
        assert (status.value, event.value, target) in covered, (status, event)
    assert {s for s, _, _ in covered} == {s.value for s in Status}
