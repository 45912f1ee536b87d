"""Effects and the security context from Python: every capability denied before it does anything."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from streamrt.errors import CapabilityError, EffectDeniedError, ScriptCompileError, ScriptError, UsageError
from streamrt.lang.effects import capability_effects, check_script, declare_effects, uri_effects
from streamrt.lang.script import CallContext, compile_script, load_script
from streamrt.policy.effects import SecurityContext
from streamrt.runtime.provider import Provider
from streamrt.sources import open_source
from streamrt.values import Keyword

pytestmark = pytest.mark.timeout(30)

PROC = "(defn p [state chunk] state)\n"


class Listener:
    """A loopback TCP server that only counts connections: proof that nothing was opened."""

    def __init__(self) -> None:
        self.connections = 0
        self.url = ""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    lis = Listener()
    server = await asyncio.start_server(lis._handle, "127.0.0.1", 0)
    lis.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/events"
    try:
        yield lis
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("uri", "effects"),
    [
        ("http://127.0.0.1:1/x", {"network"}),
        ("https://example.org/x", {"network"}),
        ("mcp+http://127.0.0.1:1/mcp?tool=t", {"network"}),
        ("ws://127.0.0.1:1/x", {"network"}),
        ("weather.monitor.v1", {"network"}),
        ("jsonl:data/in.jsonl", {"fs"}),
        ("data/in.jsonl", {"fs"}),
        ("-", {"stdin"}),
        ("mock:demo?count=3", set()),
        ("gopher://x", {"network"}),
    ],
)
def test_uri_effects(uri: str, effects: set[str]) -> None:
    assert uri_effects(uri) == effects


def test_security_context() -> None:
    assert SecurityContext().permits("network")
    ctx = SecurityContext.parse(allow="network,fs", deny=["fs"])
    assert ctx.permits("network") and not ctx.permits("fs") and not ctx.permits("log")
    assert not SecurityContext.parse(allow="none").permits("log")
    assert SecurityContext.parse(deny=":log").deny == {"log"}
    with pytest.raises(UsageError, match="unknown effect 'net'; known effects: network, fs"):
        SecurityContext.parse(deny="net")


# Each capability, a call that needs it, the effect, and the line of the call in the script.
CALLS = [
    pytest.param("mcp.stream.start", '(mcp-stream "NET" p)', "network", id="start-network"),
    pytest.param("mcp.stream.start", '(mcp-stream "weather.monitor.v1" p)', "network", id="start-bare-name"),
    pytest.param("mcp.stream.start", '(mcp-stream "jsonl:/nonexistent/x.jsonl" p)', "fs", id="start-fs"),
    pytest.param("mcp.stream.start", '(mcp-stream "-" p)', "stdin", id="start-stdin"),
    pytest.param("mcp.stream.inspect", "(call :mcp.stream.inspect {})", "stream", id="inspect"),
    pytest.param("mcp.stream.pause", '(call :mcp.stream.pause {:stream-id "s"})', "stream", id="pause"),
    pytest.param("mcp.stream.resume", '(call :mcp.stream.resume {:stream-id "s"})', "stream", id="resume"),
    pytest.param("mcp.stream.cancel", '(call :mcp.stream.cancel {:stream-id "s"})', "stream", id="cancel"),
    pytest.param("log", '(call :log {:message "hi"})', "log", id="log"),
]


def check_denial(err: EffectDeniedError, capability: str, effect: str, line: int) -> None:
    assert isinstance(err, ScriptError) and not isinstance(err, CapabilityError)
    assert (err.capability, err.effect) == (capability, effect)
    assert err.pos is not None and err.pos.line == line and err.pos.column == 1
    assert f":{capability}" in err.message and f"the :{effect} effect" in err.message
    assert "--allow" in err.message or "--deny" in err.message


@pytest.mark.parametrize(("capability", "call", "effect"), CALLS)
@pytest.mark.parametrize("where", ["provider", "load_script"])
async def test_every_capability_is_denied_before_it_runs(
    capability: str, call: str, effect: str, where: str, listener: Listener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="streamrt.script")
    call = call.replace("NET", listener.url)
    deny = SecurityContext(deny=frozenset({effect}))
    async with Provider(security=deny if where == "provider" else None) as p:
        caps = p.capabilities(source_factory=lambda ep, opts: open_source(ep, options=opts))
        with pytest.raises(EffectDeniedError) as info:
            load_script(PROC + call, capabilities=caps, security=deny if where == "load_script" else None)
        check_denial(info.value, capability, effect, line=2)
        assert p.stream_ids() == []
    assert listener.connections == 0
    assert caplog.records == []


@pytest.mark.parametrize(("capability", "call", "effect"), CALLS)
async def test_allow_list_denies_what_it_does_not_name(capability: str, call: str, effect: str) -> None:
    others = SecurityContext(allow=frozenset({"network", "fs", "stdin", "log", "stream"} - {effect}))
    async with Provider() as p:
        with pytest.raises(EffectDeniedError, match=f"add {effect} to --allow"):
            load_script(
                PROC + call.replace("NET", "http://127.0.0.1:1/x"),
                capabilities=p.capabilities(),
                security=others,
            )


def test_mock_source_needs_no_effect() -> None:
    script = load_script(
        PROC + '(mcp-stream "mock:demo?count=2" p)', security=SecurityContext.parse(allow="none")
    )
    assert [r.endpoint for r in script.stream_requests] == ["mock:demo?count=2"]


async def test_allowed_call_runs(listener: Listener) -> None:
    async with Provider(security=SecurityContext.parse(allow="fs,stream")) as p:
        script = load_script(PROC + "(call :mcp.stream.inspect {})", capabilities=p.capabilities())
        assert script.toplevel_results[0][Keyword("streams")] == {}


async def test_denied_call_inside_a_processor_fails_only_its_stream() -> None:
    src = '(defn noisy [state chunk] (call :log {:message "x"}) state)\n(defn quiet [state chunk] state)\n'
    async with Provider(security=SecurityContext.parse(deny="log")) as p:
        script = load_script(src, capabilities=p.capabilities())
        noisy = p.start(script.processor("noisy"), stream_id="noisy")
        quiet = p.start(script.processor("quiet"), stream_id="quiet")
        for sid in (noisy, quiet):
            await p.push(sid, {})
        await p.settle()
        assert p.inspect(noisy)["status"] == "error"
        assert "<script>:1:27: :log needs the :log effect" in p.inspect(noisy)["message"]
        assert p.inspect(quiet)["status"] == "active"


def test_host_capabilities_declare_their_effects() -> None:
    calls: list[Any] = []

    def fetch(args: dict[Keyword, Any], ctx: CallContext) -> str:
        calls.append(args)
        return "ok"

    src = "(call :fetch {})"
    with pytest.raises(EffectDeniedError, match=r":fetch needs the :host effect"):
        load_script(src, capabilities={"fetch": fetch}, security=SecurityContext.parse(deny="host"))
    declared = declare_effects("network")(fetch)
    assert capability_effects("fetch", {}, declared) == {"network"}
    with pytest.raises(EffectDeniedError, match=r":fetch needs the :network effect"):
        load_script(src, capabilities={"fetch": declared}, security=SecurityContext.parse(deny="network"))
    load_script(src, capabilities={"fetch": declared}, security=SecurityContext.parse(deny="host"))
    assert calls == [{}]


def test_endpoint_uri_judges_what_is_really_read() -> None:
    start = {Keyword("endpoint"): "weather.monitor.v1"}
    assert capability_effects("mcp.stream.start", start) == {"network"}
    assert capability_effects("mcp.stream.start", start, endpoint_uri=lambda ep: "data.jsonl") == {"fs"}


# --- declarations -------------------------------------------------------------------------------------------

DECLARED = """(effects :network :log)
(defn p [state chunk] state)
(call :log {:message "starting"})
(mcp-stream "http://127.0.0.1:1/x" p)
"""


def test_declaration_is_checked_before_anything_runs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="streamrt.script")
    with pytest.raises(EffectDeniedError) as info:
        load_script(DECLARED, security=SecurityContext.parse(deny="network"))
    err = info.value
    assert err.pos is not None and (err.pos.line, err.pos.column) == (1, 10)
    assert "the script declares the :network effect" in err.message
    assert caplog.records == []  # the (call :log ...) on line 3 never ran


def test_declaration_binds_the_script_itself() -> None:
    src = "(effects :fs)\n(defn p [state chunk] state)\n(call :log {:message 1})"
    with pytest.raises(EffectDeniedError) as info:
        load_script(src)
    assert "declaration at line 1 does not list :log; add :log to it" in info.value.message
    assert info.value.pos is not None and info.value.pos.line == 3


def test_check_script_reports_before_running(tmp_path: Path) -> None:
    compiled = compile_script(DECLARED)
    check_script(compiled, None)
    check_script(compiled, SecurityContext.parse(deny="fs"))
    with pytest.raises(EffectDeniedError, match="denies :log") as info:
        check_script(compiled, SecurityContext.parse(deny="log"), DECLARED.splitlines())
    assert info.value.pos is not None and (info.value.pos.line, info.value.pos.column) == (1, 19)
    undeclared = compile_script('(call :log {:message "x"})\n(mcp-stream "data.jsonl" p)\n(defn p [s c] s)')
    with pytest.raises(
        EffectDeniedError, match=r":mcp.stream.start for \"data.jsonl\" needs the :fs"
    ) as info:
        check_script(undeclared, SecurityContext.parse(deny="fs"))
    assert info.value.pos is not None and info.value.pos.line == 2
    narrowed = compile_script("(effects :fs)\n(defn p [s c] (call :log {}) s)")
    with pytest.raises(EffectDeniedError, match="does not list :log"):
        check_script(narrowed, None)


@pytest.mark.parametrize(
    ("src", "message"),
    [
        pytest.param("(effects :net)", 'effects: "net" is not an effect label', id="unknown"),
        pytest.param('(effects "fs")', "effects: that is not an effect label", id="string"),
        pytest.param("(defn f [] (effects :fs))", "only allowed at the top level", id="nested"),
    ],
)
def test_bad_declarations(src: str, message: str) -> None:
    with pytest.raises(ScriptCompileError, match=message):
        compile_script(src)
