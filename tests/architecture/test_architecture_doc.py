"""docs/architecture.md says what the code does: its layers, error tree and lifecycle table are checked here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import streamrt.errors
from streamrt.runtime.machine import TRANSITIONS, Effect, Event, Status

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")

_EFFECT_TEXT = {
    Effect.ENQUEUE: "queued",
    Effect.PROCESS: "processed in arrival order",
    Effect.DRAIN: "the queue drains at once, in order",
    Effect.RUN_ON_END: "`:on-end` runs first",
    Effect.RECORD_ERROR: "the message is kept and an error counted",
    Effect.DISCARD_QUEUE: "queued chunks discarded and counted as dropped",
    Effect.FINISH: "waiters released, source stopped",
    Effect.DROP: "not queued, counted as dropped",
    Effect.REJECT: "the caller is told",
    Effect.SNAPSHOT: "snapshot now",
}
_LIVE = frozenset({Status.ACTIVE, Status.PAUSED})
_TERMINAL = frozenset(s for s in Status if s.terminal)


def block_after(marker: str) -> str:
    """The fenced block or table that follows an HTML comment starting with ``marker``."""
    start = DOC.index(f"<!-- {marker}")
    rest = DOC[DOC.index("-->", start) + 4 :]
    if rest.startswith("```"):
        return rest.split("```", 2)[1].strip("\n")
    return rest.split("\n\n", 1)[0].strip("\n")


def effects_text(effects: Effect, source: Status) -> str:
    if Effect.DRAIN in effects:
        effects &= ~Effect.PROCESS  # draining is processing, at once
    text = "; ".join(words for flag, words in _EFFECT_TEXT.items() if flag in effects)
    if source is Status.PAUSED and Effect.ENQUEUE in effects:
        text += " (when the queue is full the producer waits)"
    return text


def lifecycle_table() -> str:
    """The lifecycle as the doc shows it, from ``TRANSITIONS``: no-ops left out, live and terminal rows merged."""
    by_pair: dict[tuple[str, str, str], list[Status]] = {}
    for event in Event:
        for source in Status:
            t = TRANSITIONS[source, event]
            if t.effects == Effect.NONE and not t.changed:
                continue
            same = not t.changed and (source.terminal or event is Event.CHECKPOINT)
            target = "same" if same else t.target.value
            by_pair.setdefault((event.value, target, effects_text(t.effects, source)), []).append(source)
    rows: dict[tuple[str, str, str], list[str]] = {}
    for (event, target, text), sources in by_pair.items():
        who = frozenset(sources)
        name = "terminal" if who == _TERMINAL else "active, paused" if who == _LIVE else sources[0].value
        rows.setdefault((name, target, text), []).append(event)
    ordered = sorted(rows.items(), key=lambda row: row[0][0] == "terminal")  # stable: terminal rows last
    lines = ["| from | event | to | what else happens |", "|---|---|---|---|"]
    for (name, target, text), events in ordered:
        lines.append(f"| {name} | {', '.join(events)} | {target} | {text} |".replace("|  |", "| |"))
    return "\n".join(lines)


def test_the_layers_are_the_import_linter_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = (c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    assert block_after("layers").splitlines() == contract["layers"]


def test_the_error_tree_is_the_one_errors_py_draws() -> None:
    drawn = (streamrt.errors.__doc__ or "").split("```", 2)[1].strip("\n")
    assert block_after("errors") == drawn


def test_the_lifecycle_table_is_rendered_from_transitions() -> None:
    assert block_after("lifecycle") == lifecycle_table()


def test_every_place_in_the_layout_table_exists() -> None:
    table = DOC.split("## Where each part lives", 1)[1].split("\n## ", 1)[0]
    places = re.findall(r"^\| `([^`]+)` \|", table, re.MULTILINE)
    assert len(places) >= 10
    for place in places:
        assert (ROOT / place).exists(), place


# Built from parts, so that this file does not match itself.
_OUTSIDE = ["design" + ".md", "/work" + "/"]


@pytest.mark.parametrize("needle", _OUTSIDE)
def test_nothing_in_the_repository_cites_a_file_outside_it(needle: str) -> None:
    found = []
    for folder in ("streamrt", "tests", "docs", "benchmarks", "examples", "scripts", "processors", ".ci"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in {".py", ".md", ".rtfs", ".toml", ".sh", ".lark", ""}:
                text = path.read_text(encoding="utf-8", errors="replace")
                found += [
                    f"{path.relative_to(ROOT)}:{i}"
                    for i, line in enumerate(text.splitlines(), 1)
                    if needle in line
                ]
    for name in ("README.md", "pyproject.toml"):
        if needle in (ROOT / name).read_text(encoding="utf-8"):
            found.append(name)
    assert found == []
