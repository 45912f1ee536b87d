"""A stream's turn on the event loop, and the host's halt: what the runtime's chunk loops and the meter share.

Theory of operation
-------------------
Processors are synchronous and run on the event loop's thread, a batch of chunks at a time. While a batch runs,
nothing else does: not the other streams, not the signal handlers asyncio schedules, not a shutdown. So a batch
takes a *turn* of at most :data:`TURN_S` seconds, and a stream that used its turn yields (its worker goes to the
back of the event loop's queue) even if it has chunks left.

Looking at the clock after every chunk would cost every stream a clock reading per chunk. Instead a batch looks at
it (:meth:`Turn.look`) every ``pace`` chunks, a number each stream learns from its own speed (half a turn's worth of
chunks, at most :data:`MAX_PACE`), and the chunk loop's test for it is the one test it makes after every chunk
anyway: ``seq >= rec.look_at``. Whatever must be noticed at once sets ``look_at`` to 0, so the next chunk boundary
looks: a status change (:meth:`StreamRecord.apply <streamrt.runtime.stream.StreamRecord.apply>`), the meter of a
processor that is still running when the turn is over (:meth:`Turn.overrun`, called from the meter's clock check
every :data:`~streamrt.lang.meter.SLICE` steps), and a halt.

A *halt* (:func:`halt`, what ``streamrt run`` does on SIGINT / SIGTERM, from the signal handler itself) ends every
turn: a batch stops at its next chunk boundary, and a metered processor in the middle of a chunk stops at its next
clock check by raising :class:`Halted`, which no script code and no ``except Exception`` catches. Its chunk was not
processed (the state is the one before it) and goes back to the front of the queue, so the snapshot keeps it and a
resume processes it. An unmetered processor (a Python function, or ``--no-limits``) is not stopped part way: its
chunk ends first.

One turn is current at a time per thread that runs processors, as the meter is (its module docs); a turn begun on
another thread can at worst make a batch look at the clock once more than it needed to.
"""

from __future__ import annotations

import math
import time
from typing import Final, Protocol

__all__ = ["MAX_PACE", "TURN", "TURN_S", "Halted", "Paced", "Turn", "halt", "halted", "unhalt"]

TURN_S: Final = 0.02
"""Seconds of the event loop one batch of one stream may take before the stream yields to the others."""

MAX_PACE: Final = 1024
"""The most chunks a batch processes between two looks at the clock."""


class Halted(BaseException):
    """Raised in a metered processor when the host halted processing (a shutdown): its chunk is not processed.

    A ``BaseException``, like ``KeyboardInterrupt``: the metered prologue and every ``except Exception`` let it
    through, so nothing a script does can swallow it.
    """


class Paced(Protocol):
    """What a turn reads and sets on the record of the stream it runs (a StreamRecord)."""

    look_at: int
    pace: int


class Turn:
    """The turn of the batch being processed (see the module docs); one, :data:`TURN`, per process."""

    __slots__ = ("began", "deadline", "halted", "record", "spent")

    def __init__(self) -> None:
        self.began = 0.0
        self.deadline = math.inf
        """When the current batch's turn is over (``-inf`` once halted)."""
        self.halted = False
        self.record: Paced | None = None
        """The record of the batch being processed (the one the meter flags when the turn is over)."""
        self.spent = False
        """Whether the last batch stopped because its turn was over (its stream goes to the back)."""

    def begin(self, record: Paced, seq: int) -> None:
        """A batch of ``record`` starts after chunk ``seq``: its turn starts now; its first look is ``pace`` on."""
        now = time.perf_counter()
        self.began = now
        self.deadline = -math.inf if self.halted else now + TURN_S
        self.record = record
        self.spent = False
        record.look_at = seq + record.pace

    def look(self, record: Paced, seq: int, start: int) -> bool:
        """After chunk ``seq`` of a batch that began after ``start``: whether the batch may go on, and when it looks
        again. Learns the stream's pace from the time the batch's chunks took."""
        now = time.perf_counter()
        taken = seq - start
        if now >= self.deadline:
            # the turn is over: next time, look twice as early
            record.pace = max(1, taken // 2)
            self.spent = True
            return False
        spent = now - self.began
        if spent * MAX_PACE <= TURN_S * taken / 2:
            pace = step = MAX_PACE
        else:
            per_chunk = spent / max(taken, 1)
            pace = max(1, int(TURN_S / 2 / per_chunk))
            step = max(1, min(pace, int((self.deadline - now) / 2 / per_chunk)))
        record.pace = min(pace, MAX_PACE)
        record.look_at = seq + step
        return True

    def overrun(self) -> None:
        """The meter's clock check found the turn over while a processor runs: halted, stop it (:class:`Halted`);
        else have the batch look at its next chunk boundary."""
        if self.halted:
            raise Halted("processing was halted")
        record = self.record
        if record is not None:
            record.look_at = 0


TURN: Final = Turn()


def halt() -> None:
    """Stop processing at once (a shutdown): every turn ends at its next chunk boundary, and a metered processor at
    its next clock check. Safe to call from a signal handler. Processing stays halted until :func:`unhalt`."""
    turn = TURN
    turn.halted = True
    turn.deadline = -math.inf
    record = turn.record
    if record is not None:
        record.look_at = 0


def unhalt() -> None:
    """Let processing run again (the shutdown :func:`halt` was for is over)."""
    TURN.halted = False
    TURN.deadline = math.inf


def halted() -> bool:
    """Whether processing is halted."""
    return TURN.halted
