"""Live progress on a terminal: one status line per stream, redrawn a few times a second.

Theory of operation
-------------------
:class:`Progress` is an asyncio task that wakes every ``interval`` seconds, reads the stream records (no hook on
the hot path) and redraws its block of lines at the bottom of the terminal: it moves the cursor up over what it
drew last time (``ESC [ n F``), erases to the end of the screen (``ESC [ J``) and writes the new lines in one
``write``. Anything else that writes to the same terminal first calls :meth:`Progress.clear` (the log handler
and, when stdout is the same terminal, the output sink do), so log lines and outputs scroll above the block and
never get overwritten. Lines are cut to the terminal's width, so none wraps and the cursor arithmetic holds.

The rate is chunks processed per second over the last second or so (a few ticks). With more streams than fit,
live streams are shown first and a last line counts the rest by status.

It is only ever started when stderr is a terminal (:func:`wants_progress`); otherwise nothing is drawn at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TextIO

from streamrt.observe.logs import escape_control
from streamrt.runtime.views import StreamView

if TYPE_CHECKING:
    from streamrt.runtime.outputs import Output, Sink
    from streamrt.runtime.provider import Provider

__all__ = ["Progress", "wants_progress"]

_UP_AND_ERASE: Final = "\x1b[{n}F\x1b[J"
_WINDOW: Final = 1.0
"""Seconds of history the rate is computed over."""


def wants_progress(err: TextIO, requested: bool | None = None) -> bool:
    """Whether to draw progress on ``err``: never when told not to, only on a terminal that understands ANSI."""
    if requested is False:
        return False
    isatty = getattr(err, "isatty", None)
    if isatty is None or not isatty():
        return False
    return os.environ.get("TERM", "") != "dumb"


def _terminal_size(out: TextIO) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(out.fileno())
    except (AttributeError, OSError, ValueError):
        return 80, 24
    return size.columns or 80, size.lines or 24


def _count(n: float) -> str:
    return f"{n:,.0f}"


class Progress:
    """Redraws a status line per stream of ``provider`` on ``out`` every ``interval`` seconds while running."""

    def __init__(
        self,
        provider: Provider,
        out: TextIO,
        *,
        interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.out = out
        self.interval = interval
        self.clock = clock
        self.drawn = 0
        """How many lines are on the screen now (0 after :meth:`clear`)."""
        self._samples: deque[tuple[float, dict[str, int]]] = deque()
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start redrawing (needs a running event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="streamrt-progress")

    async def stop(self) -> None:
        """Stop redrawing and erase the lines, leaving the terminal as it was."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.clear()

    async def _run(self) -> None:
        while True:
            self.draw()
            await asyncio.sleep(self.interval)

    # --- drawing ------------------------------------------------------------------------------------------------

    def clear(self) -> None:
        """Erase the lines drawn last (before something else writes to the terminal)."""
        if self.drawn:
            self.out.write(_UP_AND_ERASE.format(n=self.drawn))
            self.out.flush()
            self.drawn = 0

    def draw(self) -> None:
        """Replace the drawn lines with the current ones."""
        columns, rows = _terminal_size(self.out)
        lines = [line[: columns - 1] for line in self.render(max(1, min(rows - 2, 40)))]
        head = _UP_AND_ERASE.format(n=self.drawn) if self.drawn else ""
        self.out.write(head + "".join(line + "\n" for line in lines))
        self.out.flush()
        self.drawn = len(lines)

    def render(self, max_lines: int = 40) -> list[str]:
        """The lines to show now, at most ``max_lines`` (the last one summarises streams that do not fit)."""
        now = self.clock()
        records = self.provider.streams.views()
        ordered = [s for s in records if not s.status.terminal] + [s for s in records if s.status.terminal]
        shown = ordered if len(ordered) <= max_lines else ordered[: max_lines - 1]
        hidden = ordered[len(shown) :]
        self._samples.append((now, {s.id: s.processed for s in shown}))
        while len(self._samples) > 1 and now - self._samples[1][0] >= _WINDOW:
            self._samples.popleft()
        then, past = self._samples[0]
        elapsed = now - then
        width = max((len(escape_control(s.id)) for s in shown), default=0)
        lines = [self._line(s, width, past.get(s.id), elapsed) for s in shown]
        if hidden:
            counts: dict[str, int] = {}
            for s in hidden:
                counts[s.status.value] = counts.get(s.status.value, 0) + 1
            tally = ", ".join(f"{n} {status}" for status, n in counts.items())
            lines.append(f"… and {len(hidden)} more streams ({tally})")
        return lines

    @staticmethod
    def _line(s: StreamView, width: int, before: int | None, elapsed: float) -> str:
        rate = "—" if before is None or elapsed <= 0 else f"{(s.processed - before) / elapsed:,.1f}"
        depth = s.queue_depth
        full = " full" if depth >= s.capacity and not s.status.terminal else ""
        text = (
            f"{escape_control(s.id):<{width}}  {s.status.value:<9}  {rate:>10} chunks/s  queue {depth}/{s.capacity}{full}"
            f"  outputs {_count(s.outputs)}  processed {_count(s.processed)}"
        )
        if s.source_reconnecting:
            text += f"  source reconnecting ({s.source_reconnects})"
        if s.message:
            text += f"  {escape_control(s.message)}"
        return text

    def guard(self, sink: Sink) -> Sink:
        """``sink`` that first clears the lines (for an output sink writing to the same terminal)."""

        def guarded(output: Output) -> None:
            if self.drawn:
                self.clear()
            sink(output)

        return guarded
