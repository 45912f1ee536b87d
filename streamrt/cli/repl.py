"""``streamrt repl`` and ``streamrt eval EXPR``: a :class:`~streamrt.lang.repl.ReplSession` driven from the command
line.

The REPL reads lines until the forms balance (:func:`streamrt.lang.reader.is_complete`), evaluates them and prints
each value in the language's printed form. On a terminal it prompts, edits lines and keeps a history through
``readline``; from a pipe it prints no prompts and exits 1 if any input failed, so ``streamrt repl < forms.rtfs``
can check a batch. A mistake prints as ``<repl>:line:col: message`` with the line and a caret, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any, Final, TextIO

from streamrt.cli.exits import EXIT_ERROR, EXIT_OK
from streamrt.errors import ScriptError, ScriptRuntimeError, UsageError
from streamrt.lang.meter import DEFAULT_LIMITS, Limits
from streamrt.lang.reader import is_complete
from streamrt.lang.repl import ReplSession, show
from streamrt.policy.effects import SecurityContext

__all__ = ["PROMPT", "QUIT", "repl", "run_command"]

PROMPT: Final = "rtfs=> "
MORE: Final = "  ...> "
QUIT: Final = frozenset({":repl/quit", ":quit"})


def _history_file() -> str:
    return os.environ.get("STREAMRT_HISTORY") or os.path.join(os.path.expanduser("~"), ".streamrt_history")


def _readline() -> Any:
    """The ``readline`` module with history loaded, or None where there is none (Windows without it)."""
    try:
        import readline  # only an interactive session needs it
    except ImportError:  # pragma: no cover - platform dependent
        return None
    path = _history_file()
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(1000)
    return readline


def repl(session: ReplSession, stdin: TextIO, out: TextIO, err: TextIO, *, interactive: bool) -> int:
    """Read forms until they balance, evaluate, print; until end of input or ``:repl/quit``.

    Interactive (a terminal): prompts, line editing and history through ``readline``. Otherwise (a pipe) no
    prompts, and the exit code is 1 if any input failed.
    """
    rl = _readline() if interactive else None
    failed = False
    buffer: list[str] = []
    if interactive:
        print("streamrt repl: end with Ctrl-D or :repl/quit", file=err)
    try:
        while True:
            try:
                if interactive:
                    line = input(MORE if buffer else PROMPT)
                else:
                    line = stdin.readline()
                    if not line:
                        raise EOFError
                    line = line.rstrip("\n")
            except EOFError:
                if buffer and "".join(buffer).strip():
                    failed |= _evaluate(session, "\n".join(buffer), out, err)
                break
            except KeyboardInterrupt:
                buffer = []
                print(file=err)
                continue
            buffer.append(line)
            text = "\n".join(buffer)
            if not is_complete(text):
                continue
            buffer = []
            if text.strip() in QUIT:
                break
            failed |= _evaluate(session, text, out, err)  # a blank line too: it is a line of the session
    finally:
        if rl is not None:
            with contextlib.suppress(OSError):
                rl.write_history_file(_history_file())
    return EXIT_ERROR if failed and not interactive else EXIT_OK


def _evaluate(session: ReplSession, text: str, out: TextIO, err: TextIO) -> bool:
    """Evaluate and print; True when it failed (the error is printed, never a traceback)."""
    try:
        results = session.eval(text)
    except ScriptError as exc:
        print(exc.format(), file=err)
        return True
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return True
    for value in results:
        print(show(value), file=out)
    out.flush()
    return False


def run_command(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    *,
    security: SecurityContext | None = None,
    limits: Limits | None = DEFAULT_LIMITS,
) -> int:
    """``streamrt repl`` / ``streamrt eval``, under the ``security`` and ``limits`` of the command line.

    ``eval`` prints the value of the last form and exits 0, or 1 when evaluating failed; text that does not read or
    compile, like a script that does not load, is a :class:`~streamrt.errors.ScriptError` for :func:`streamrt.cli.main`
    to print (exit 2).
    """
    if args.load is not None and not Path(args.load).is_file():
        raise UsageError(f"cannot load {args.load}: no such file")

    def log(text: str) -> None:
        print(f"log: {text}", file=err)

    session = ReplSession(limits=limits, security=security, load=args.load, log=log)
    if args.command == "repl":
        return repl(session, sys.stdin, out, err, interactive=sys.stdin.isatty())
    try:
        results = session.eval(args.expr)
    except ScriptRuntimeError as exc:
        print(exc.format(), file=err)
        return EXIT_ERROR
    if results:
        print(show(results[-1]), file=out)
    return EXIT_OK
