"""The ``streamrt`` command.

Exit codes: 0 every stream ended without error; 1 some stream ended in ``:error`` (or ``check`` found problems in
a script that reads); 2 a bad command line or script; 130 / 143 after a clean shutdown on SIGINT / SIGTERM; 141
when ``run``'s stdout was closed by its reader (``| head``), its streams left resumable as after a signal.
User mistakes print one clear message (``file:line:col: message`` plus the line and a caret for scripts), never a
traceback. Each command's module is imported only when the command runs, so ``streamrt --help`` and ``streamrt
check`` start fast; ``run`` and ``resume`` are :mod:`streamrt.cli.run`, ``repl`` and ``eval``
:mod:`streamrt.cli.repl`. The flags of every command are :mod:`streamrt.cli.parser`, the exit codes
:mod:`streamrt.cli.exits`; this module runs the command the parsed flags name.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, Final, TextIO

from streamrt.cli.exits import EXIT_ERROR, EXIT_OK, EXIT_PIPE, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE
from streamrt.cli.parser import (
    COMMANDS,
    FILE_ARGUMENTS,
    FILE_COMPLETION,
    all_actions,
    build_parser,
    policy_options,
)
from streamrt.errors import ScriptError, StreamrtError, UsageError

__all__ = [
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_PIPE",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "EXIT_USAGE",
    "build_parser",
    "entry",
    "main",
]


def _print_error(exc: StreamrtError, err: TextIO, args: argparse.Namespace | None = None) -> None:
    text = exc.format() if isinstance(exc, ScriptError) else f"streamrt: {exc}"
    if getattr(args, "log_format", None) == "json":
        # under --log-format json every stderr line is JSON, a refused command line too
        from streamrt.observe.logs import Console

        where: dict[str, Any] = (
            {"file": exc.filename, "line": exc.line, "column": exc.column}
            if isinstance(exc, ScriptError)
            else {}
        )
        Console(err, "json").say(text, level="error", event="problem", **where)
        return
    print(text, file=err)


def _cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from pathlib import Path  # not needed by --help: pathlib is a few milliseconds of start-up

    from streamrt.lang.effects import check_script
    from streamrt.lang.lint import result_warnings
    from streamrt.lang.script import compile_script

    security = policy_options(args).get("security")
    status = EXIT_OK
    for path in args.scripts:
        try:
            if path.endswith("_test.rtfs"):
                # a test file is checked as `streamrt test` reads it: with the script it tests in scope
                from streamrt.testing.scripts import load_test_file

                tests = load_test_file(path).tests
                print(f"{path}: ok ({len(tests)} test{'s' if len(tests) != 1 else ''})", file=out)
                continue
            compiled = compile_script(path=path)
            lines = Path(path).read_text(encoding="utf-8").splitlines()
            check_script(compiled, security, lines)
        except ScriptError as exc:
            print(exc.format(), file=err)
            status = EXIT_USAGE
            continue
        for warning in result_warnings(compiled):
            # a warning is not an error: the script runs as it is; the line and a caret show where
            shown = ScriptError(f"warning: {warning.message}", warning.pos, _line_at(lines, warning.pos.line))
            print(shown.format(), file=err)
        functions = [g.name for g in compiled.globals.values() if g.arity is not None]
        print(f"{path}: ok ({len(functions)} function{'s' if len(functions) != 1 else ''})", file=out)
    return status


def _line_at(lines: list[str], number: int) -> str | None:
    return lines[number - 1] if 0 < number <= len(lines) else None


def _cmd_lower(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from streamrt.lang.script import lower_script

    print(lower_script(path=args.script), file=out)
    return EXIT_OK


def _cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from streamrt.cli.run import RunConfig, run

    args.script = args.script if args.command == "run" else _resume_script(args)
    if args.command == "resume":
        problem = _resume_problem(args)
        if problem is not None:
            raise UsageError(f"resume: {problem}")
    import asyncio  # for start-up speed: --help, --version and check run without it

    return asyncio.run(run(RunConfig.from_args(args, **policy_options(args)), out=out, err=err))


def _resume_script(args: argparse.Namespace) -> str | None:
    """``--script``, or the older form ``resume ID --store URL SCRIPT``: a last ID that is a script file."""
    ids: list[str] = args.targets
    last = ids[-1] if ids else ""
    # a script is recognised as a file, never by position alone
    if (
        args.script is None
        and (len(ids) > 1 or args.all)
        and (last.endswith(".rtfs") or os.path.isfile(last))
    ):
        return ids.pop()
    script: str | None = args.script
    return script


def _resume_problem(args: argparse.Namespace) -> str | None:
    ids: list[str] = args.targets
    if args.all and ids:
        return f"--all resumes every resumable stream; it takes no IDs (got {', '.join(ids)})"
    if not args.all and not ids:
        return "name the streams to resume (ID [ID ...]) or pass --all"
    if args.source is not None and (args.all or len(ids) > 1):
        return "--source replaces the source of one stream, not of several"
    return None


def _cmd_test(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from streamrt.testing.cli import run_command

    return run_command(args, out, err)


def _cmd_compile(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from streamrt.lang.script import python_script

    print(python_script(path=args.script, meter=args.metered), file=out, end="")
    return EXIT_OK


def _cmd_completion(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # shtab writes a static script once; nothing of ours runs at each TAB (argcomplete would start Python there)
    import shtab

    parser = build_parser()
    for action in all_actions(parser):
        if action.dest in FILE_ARGUMENTS:
            action.complete = FILE_COMPLETION  # type: ignore[attr-defined]
    out.write(shtab.complete(parser, shell=args.shell))
    return EXIT_OK


def _cmd_repl(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from streamrt.cli.repl import run_command

    return run_command(args, out, err, **policy_options(args))


def _cmd_tools(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import json  # not needed by --help

    from streamrt.errors import SourceError
    from streamrt.sources.mcp_tools import list_tools

    try:
        import asyncio  # for start-up speed

        tools = asyncio.run(list_tools(args.uri))
    except SourceError as exc:
        print(f"streamrt tools: {exc}", file=err)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(tools, indent=2, ensure_ascii=False), file=out)
        return EXIT_OK
    for tool in tools:
        description = " ".join(str(tool.get("description") or "").split())
        print(f"{tool['name']}: {description}" if description else str(tool["name"]), file=out)
        schema = tool.get("inputSchema")
        if schema is not None:
            print(f"    input: {json.dumps(schema, ensure_ascii=False)}", file=out)
    return EXIT_OK


def _cmd_mcp(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from streamrt.cli.mcp import cmd_mcp

    return cmd_mcp(args, out, err)


def _cmd_serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from streamrt.cli.serve import cmd_serve

    return cmd_serve(args, out, err)


def _cmd_ctl(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from streamrt.cli.ctl import cmd_ctl

    return cmd_ctl(args, out, err)


_COMMANDS = {
    "check": _cmd_check,
    "lower": _cmd_lower,
    "run": _cmd_run,
    "resume": _cmd_run,
    "test": _cmd_test,
    "compile": _cmd_compile,
    "repl": _cmd_repl,
    "eval": _cmd_repl,
    "completion": _cmd_completion,
    "tools": _cmd_tools,
    "serve": _cmd_serve,
    "ctl": _cmd_ctl,
    "mcp": _cmd_mcp,
}


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the CLI; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    words = sys.argv[1:] if argv is None else list(argv)
    # only the flags of the command the first word names (all of them for --help or an unknown command)
    parser = build_parser(words[0] if words and (words[0] in COMMANDS or words[0] == "--version") else None)
    try:
        args, extra = parser.parse_known_args(words)
        if extra and args.command == "resume" and not any(e.startswith("-") for e in extra):
            # `resume ID --store URL SCRIPT` (the order docs/persistence.md also shows): argparse fills a
            # positional list once, so the words after the options come back unparsed; they belong to it
            args.targets.extend(extra)
        elif extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    handler = _COMMANDS.get(args.command)
    if handler is None:
        # inspect / list / dead-letters / delete / prune live with the store, which is imported only when one of them runs
        handler = importlib.import_module("streamrt.store.cli").COMMANDS[args.command]
    try:
        return handler(args, out, err)
    except StreamrtError as exc:
        _print_error(exc, err, args)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_SIGINT
    except BrokenPipeError:
        return EXIT_OK


_COMMAND_MODULES: Final = {
    # the core library: a script loaded from the compiled-script cache imports it as it loads, after start-up
    "run": ("streamrt.cli.run", "streamrt.lang.core"),
    "resume": ("streamrt.cli.run", "streamrt.lang.core"),
    # the script module no longer imports the reader and the compiler (a run may load its script from the cache)
    "check": ("streamrt.lang.script", "streamrt.lang.reader", "streamrt.lang.compiling"),
}
"""The modules a command imports first thing, which :func:`entry` imports before it (see :func:`_start_up`)."""


def _start_up(words: Sequence[str]) -> None:
    """Import the command's modules with the cyclic garbage collector paused, then freeze what start-up made.

    Almost all that start-up allocates (modules, classes, functions, tables) lives as long as the process, so the
    collector's passes over it while importing, in every later full collection and at exit are work for nothing;
    ``gc.freeze`` takes it out of their sight (a run's start 3% fewer instructions with the pause, its whole run
    10% fewer with the freeze; a ``check`` 5.5% fewer; issue #17). Only the console script does this: a program that calls :func:`main`
    keeps its collector as it is.
    """
    modules = _COMMAND_MODULES.get(words[0], ()) if words else ()
    gc.disable()
    try:
        if "-h" not in words and "--help" not in words:
            for module in modules:
                importlib.import_module(module)
    finally:
        gc.freeze()
        gc.enable()


def entry() -> None:
    """Console-script entry point."""
    _start_up(sys.argv[1:])
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (`| head`): point stdout at /dev/null so the interpreter's last flush is quiet
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)
