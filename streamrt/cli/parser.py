"""The ``streamrt`` command line: every command's flags, and the policy options read from them.

Only argparse and the flag-adding functions of the commands (serve, ctl, mcp, observe) are imported here, so
``streamrt --help`` starts fast; :mod:`streamrt.cli` runs the commands.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Final

from streamrt import __version__
from streamrt.cli.serve import add_secret_argument
from streamrt.errors import UsageError

__all__ = [
    "COMMANDS",
    "FILE_ARGUMENTS",
    "FILE_COMPLETION",
    "all_actions",
    "build_parser",
    "policy_options",
    "positive_int",
]


class _Parser(argparse.ArgumentParser):
    """argparse that exits with our usage code (2) — it already does — and prints the usage on stderr."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``command`` (one of :data:`COMMANDS`), only that command's flags.

    Building all of them costs more than some commands take to run (each parser and flag asks gettext for its
    messages and the terminal for its width, and some commands' flags import their modules), so
    :func:`streamrt.cli.main` builds the one its first word names, and none for ``--version``, which ends the
    parse; the whole parser is for ``--help``, an unknown command and shell completion.
    """
    parser = _Parser(
        prog="streamrt", description="Run stateful stream processors written in the streamrt language."
    )
    parser.add_argument("--version", action="version", version=f"streamrt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if command in COMMANDS:
        _ADDERS[command](sub)
    elif command != "--version":
        for add in _ADDERS.values():
            add(sub)
    return parser


def _add_run(sub: Any) -> None:
    from streamrt.observe.session import add_observe_arguments

    run = sub.add_parser("run", help="load a script, start its streams, run until they all end")
    run.add_argument("script", help="the script file (*.rtfs)")
    run.add_argument(
        "--source", metavar="URI", help="read every stream from this source instead of its endpoint"
    )
    run.add_argument("--stream-id", metavar="ID", help="the id of the script's (single) stream")
    run.add_argument(
        "--api",
        metavar="[HOST:]PORT",
        help="serve the HTTP API for this run (docs/serving.md); tokens from STREAMRT_API_TOKENS, else loopback only",
    )
    run.add_argument("--queue-capacity", metavar="N", type=positive_int, help="queue capacity per stream")
    run.add_argument(
        "--store", metavar="URL", help="snapshot store: a SQLite path or URL, postgresql://..., memory:"
    )
    run.add_argument(
        "--snapshot-every", metavar="N|Tms", help="snapshot policy: every N chunks or every T ms"
    )
    run.add_argument(
        "--restart",
        action="store_true",
        help="with --store: start the script's streams over, deleting what the store holds of them "
        "(without it a stream the store holds is resumed, or reported if it had finished)",
    )
    _add_resume_arguments(run)
    _add_sink_argument(run)
    add_observe_arguments(run)
    _add_policy_arguments(run, streams=True)


def _add_resume(sub: Any) -> None:
    from streamrt.observe.session import add_observe_arguments

    resume = sub.add_parser(
        "resume",
        help="rehydrate streams from a store and run them on",
        usage="%(prog)s (ID [ID ...] | --all) --store URL [--script SCRIPT] [options]",
    )
    resume.add_argument(
        "targets",
        metavar="ID",
        nargs="*",
        help="the streams to resume, all in one process; a last argument naming a script file (an existing file, "
        "or *.rtfs) is taken as --script, as in `resume ID --store URL SCRIPT`",
    )
    resume.add_argument(
        "--all",
        action="store_true",
        help="every active or paused stream in the store, and those in :error because their source failed",
    )
    resume.add_argument(
        "--script", metavar="SCRIPT", help="the script (default: the path recorded in the snapshots)"
    )
    resume.add_argument("--store", metavar="URL", required=True)
    resume.add_argument("--source", metavar="URI", help="override the recorded source (one stream only)")
    _add_resume_arguments(resume)
    _add_sink_argument(resume)
    _add_policy_arguments(resume, streams=True)
    add_observe_arguments(resume)


def _add_inspect(sub: Any) -> None:
    inspect = sub.add_parser("inspect", help="state, status and stats of streams in a store, as JSON")
    inspect.add_argument("stream_id", metavar="ID", nargs="?")
    inspect.add_argument("--store", metavar="URL", required=True)
    inspect.add_argument("--no-state", action="store_true", help="leave the state out")
    inspect.add_argument("--queue", action="store_true", help="include the queued chunks")


def _add_list(sub: Any) -> None:
    lst = sub.add_parser("list", help="the streams in a store")
    lst.add_argument("--store", metavar="URL", required=True)


def _add_dead_letters(sub: Any) -> None:
    dead = sub.add_parser(
        "dead-letters", help="the chunks a stream gave up on (:on-error :dead-letter), as JSON lines"
    )
    dead.add_argument("stream_id", metavar="ID")
    dead.add_argument("--store", metavar="URL", required=True)


def _add_delete(sub: Any) -> None:
    delete = sub.add_parser(
        "delete", help="remove streams from a store: snapshot, lease and dead letters (not a running one)"
    )
    delete.add_argument("stream_ids", metavar="ID", nargs="+")
    delete.add_argument("--store", metavar="URL", required=True)


def _add_prune(sub: Any) -> None:
    prune = sub.add_parser("prune", help="remove finished streams from a store; prints each id removed")
    prune.add_argument(
        "--finished", action="store_true", help="completed, stopped, cancelled and error streams"
    )
    prune.add_argument(
        "--older-than",
        metavar="AGE",
        help="only those last written longer ago than AGE: 90s, 30m, 12h, 7d, 2w",
    )
    prune.add_argument("--dry-run", action="store_true", help="print what would be removed; remove nothing")
    prune.add_argument("--store", metavar="URL", required=True)


def _add_check(sub: Any) -> None:
    check = sub.add_parser("check", help="parse and compile scripts; errors as file:line:col: message")
    check.add_argument("scripts", nargs="+", metavar="SCRIPT")
    _add_policy_arguments(check, limits=False)


def _add_lower(sub: Any) -> None:
    lower = sub.add_parser("lower", help="print the script's forms after macro expansion")
    lower.add_argument("script")


def _add_compile(sub: Any) -> None:
    compile_cmd = sub.add_parser("compile", help="print the Python a script compiles to")
    compile_cmd.add_argument("script", metavar="SCRIPT")
    compile_cmd.add_argument("--python", action="store_true", required=True, help="print Python source")
    compile_cmd.add_argument(
        "--metered", action="store_true", help="the variant that enforces limits (fuel, depth, time, size)"
    )


def _add_repl(sub: Any) -> None:
    repl = sub.add_parser("repl", help="an interactive prompt for the language (history, multi-line input)")
    repl.add_argument("--load", metavar="SCRIPT", help="load the script's definitions first")
    _add_policy_arguments(repl)


def _add_eval(sub: Any) -> None:
    evaluate = sub.add_parser("eval", help="evaluate an expression and print its value")
    evaluate.add_argument("expr", metavar="EXPR", help="one or more forms; the value of the last is printed")
    evaluate.add_argument("--load", metavar="SCRIPT", help="load the script's definitions first")
    _add_policy_arguments(evaluate)


def _add_mcp(sub: Any) -> None:
    from streamrt.cli.mcp import add_mcp_parser  # argparse only

    add_mcp_parser(sub)


def _add_tools(sub: Any) -> None:
    tools = sub.add_parser(
        "tools", help="list the tools of an MCP server: name, description, input schema (HTTP or stdio)"
    )
    tools.add_argument(
        "uri", metavar="URI", help="mcp+http(s)://HOST:PORT/PATH, mcp+stdio:COMMAND?args=ARG, or a bare name"
    )
    tools.add_argument("--json", action="store_true", help="print the tools as one JSON array")


def _add_test(sub: Any) -> None:
    test = sub.add_parser("test", help="run the tests in *_test.rtfs files (deftest, defproperty)")
    test.add_argument("paths", nargs="*", metavar="PATH", help="test files or folders (default: .)")
    test.add_argument("-k", dest="keyword", metavar="TEXT", help="only the tests whose name contains TEXT")
    test.add_argument("--runs", type=positive_int, metavar="N", help="runs per property (overrides :runs)")
    test.add_argument("--seed", type=int, metavar="N", help="the random seed of every property")


def _add_completion(sub: Any) -> None:
    completion = sub.add_parser(
        "completion",
        help='print a shell completion script: eval "$(streamrt completion bash)" (or zsh, tcsh)',
    )
    completion.add_argument("shell", choices=_SHELLS, help="the shell the script is for")


def _add_serve(sub: Any) -> None:
    from streamrt.cli.serve import add_serve_parser

    add_serve_parser(sub)


def _add_ctl(sub: Any) -> None:
    from streamrt.cli.ctl import add_ctl_parser  # argparse only

    add_ctl_parser(sub)


_ADDERS: Final[dict[str, Callable[[Any], None]]] = {
    "run": _add_run,
    "resume": _add_resume,
    "inspect": _add_inspect,
    "list": _add_list,
    "dead-letters": _add_dead_letters,
    "delete": _add_delete,
    "prune": _add_prune,
    "check": _add_check,
    "lower": _add_lower,
    "compile": _add_compile,
    "repl": _add_repl,
    "eval": _add_eval,
    "mcp": _add_mcp,
    "tools": _add_tools,
    "test": _add_test,
    "completion": _add_completion,
    "serve": _add_serve,
    "ctl": _add_ctl,
}
"""Each command's flags, in the order ``--help`` lists the commands."""

COMMANDS: Final = frozenset(_ADDERS)
"""Every command's name."""


_SHELLS: Final = ("bash", "zsh", "tcsh")
# the arguments that name files: completed as paths (shtab's FILE for each shell)
FILE_ARGUMENTS: Final = frozenset({"script", "scripts", "paths", "load", "output"})
FILE_COMPLETION: Final = {"bash": "_shtab_compgen_files", "zsh": "_files", "tcsh": "f"}


def _add_resume_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--accept-changed-processor",
        action="store_true",
        help="resume even if the processor's source changed since the snapshot",
    )
    parser.add_argument(
        "--unpause", action="store_true", help="a resumed stream that had paused itself runs on"
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="compile the script without the compiled-script cache (also STREAMRT_NO_CACHE=1; the cache is "
        "$STREAMRT_CACHE_DIR, else $XDG_CACHE_HOME/streamrt, else ~/.cache/streamrt)",
    )
    add_secret_argument(parser)


def _add_sink_argument(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--sink",
        metavar="URI",
        help="where outputs go: - (stdout, the default), jsonl:PATH or PATH.jsonl (appended), or a plugin's URI",
    )
    where.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="append the output JSON lines to FILE (any name; - is stdout) instead of printing them",
    )


def _add_policy_arguments(
    parser: argparse.ArgumentParser, *, limits: bool = True, streams: bool = False
) -> None:
    """The security context (``--allow`` / ``--deny``), to run, the per-chunk limits, and for a provider's run its
    cap on streams (docs/policy.md)."""
    group = parser.add_argument_group("effects and limits")
    group.add_argument(
        "--allow",
        metavar="EFFECTS",
        action="append",
        help="allow only these effects (comma-separated: network,fs,stdin,process,log,stream,clock,spawn,host; "
        "'none' for none)",
    )
    group.add_argument("--deny", metavar="EFFECTS", action="append", help="deny these effects")
    if not limits:
        return
    group.add_argument("--fuel", metavar="N", type=positive_int, help="steps per chunk (default 10,000,000)")
    group.add_argument(
        "--time-ms", metavar="N", type=positive_int, help="wall-clock ms per chunk (default 2000)"
    )
    group.add_argument("--depth", metavar="N", type=positive_int, help="nested calls per chunk (default 800)")
    group.add_argument(
        "--max-size", metavar="N", type=positive_int, help="items in one value built (default 1,000,000)"
    )
    group.add_argument(
        "--max-state",
        metavar="N",
        type=positive_int,
        help="bytes of one stream's state (default 100,000,000)",
    )
    group.add_argument("--no-limits", action="store_true", help="run processors without per-chunk limits")
    if streams:
        group.add_argument(
            "--max-streams",
            metavar="N",
            type=positive_int,
            help="streams the run may hold at most, those its processors start included (default 10,000)",
        )


def policy_options(args: argparse.Namespace) -> dict[str, Any]:
    """``security`` and ``limits`` for :class:`~streamrt.cli.run.RunConfig` from the parsed flags."""
    # the language's modules load with the first command that needs them, not with `streamrt --help`
    from streamrt.policy.effects import SecurityContext
    from streamrt.policy.limits import DEFAULT_LIMITS

    options: dict[str, Any] = {}
    if args.allow is not None or args.deny is not None:
        options["security"] = SecurityContext.parse(allow=args.allow, deny=args.deny)
    if not hasattr(args, "no_limits"):
        return options
    given = {
        "fuel": args.fuel,
        "time-ms": args.time_ms,
        "depth": args.depth,
        "max-size": args.max_size,
        "max-state": args.max_state,
    }
    if args.no_limits:
        if any(v is not None for v in given.values()):
            raise UsageError(
                "--no-limits cannot be combined with --fuel, --time-ms, --depth, --max-size or --max-state"
            )
        options["limits"] = None
    else:
        options["limits"] = DEFAULT_LIMITS.merged({k: v for k, v in given.items() if v is not None})
    return options


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def all_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    actions = list(parser._actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                actions.extend(all_actions(child))
    return actions
