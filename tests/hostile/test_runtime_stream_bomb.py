"""A processor that starts a stream on every chunk: starting a stream from a processor is the ``:spawn`` effect,
which every policy can refuse, and a provider holds at most ``max_streams`` streams whatever the effects."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamrt import EffectDeniedError, Keyword, Provider, SecurityContext, TooManyStreamsError, load_script
from streamrt.cli import main
from streamrt.lang.effects import capability_effects
from tests.hostile.children import finish, started, write

pytestmark = pytest.mark.timeout(120)

BOMB = """
(defn child [state chunk] state)
(defn bomb [state chunk]
  (mcp-stream "mock:child" child)
  {:n (inc (:n state 0))})
(mcp-stream "mock:bomb?count=inf" bomb {} {:stream-id "bomb"})
"""


@pytest.mark.parametrize(
    "policy", [["--allow", "none"], ["--deny", "spawn"]], ids=["allow-none", "deny-spawn"]
)
def test_a_processor_may_not_start_streams_unless_the_host_allows_it(
    tmp_path: Path, policy: list[str]
) -> None:
    script = write(tmp_path, "bomb.rtfs", BOMB)
    with started(["run", str(script), *policy], cwd=tmp_path) as proc:
        done = finish(proc)
    assert done.code == 1, done.err
    assert "Traceback" not in done.err
    # the bomb's first chunk was refused before any stream started: it is the only stream the run had
    assert done.err.count("\nstream ") + done.err.startswith("stream ") == 1, done.err
    assert "stream bomb: error; processed 1" in done.err
    assert "needs the :spawn effect" in done.err


def test_the_streams_of_the_top_level_need_no_spawn(tmp_path: Path) -> None:
    script = write(
        tmp_path, "two.rtfs", '(defn f [s c] s)\n(mcp-stream "mock:a" f)\n(mcp-stream "mock:b" f)\n'
    )
    assert main(["run", str(script), "--allow", "none"]) == 0


def test_a_provider_holds_at_most_max_streams(tmp_path: Path) -> None:
    script = write(tmp_path, "bomb.rtfs", BOMB)
    with started(["run", str(script), "--max-streams", "25"], cwd=tmp_path) as proc:
        done = finish(proc)
    assert done.code == 1, done.err
    assert "Traceback" not in done.err
    assert "stream bomb: error; processed 25" in done.err
    assert "the provider holds its maximum of 25 streams" in done.err
    assert len([line for line in done.err.splitlines() if line.startswith("stream ")]) == 25


async def test_max_streams_in_python() -> None:
    script = load_script("(defn f [s c] s)")
    async with Provider(max_streams=2) as provider:
        provider.start(script.processor("f"), stream_id="a")
        provider.start(script.processor("f"), stream_id="b")
        with pytest.raises(TooManyStreamsError, match="maximum of 2 streams"):
            provider.start(script.processor("f"), stream_id="c")
        assert provider.stream_ids() == ["a", "b"]
    async with Provider(max_streams=None) as provider:
        for i in range(3):
            provider.start(script.processor("f"), stream_id=str(i))
    with pytest.raises(Exception, match="max_streams must be a positive integer"):
        Provider(max_streams=0)


def test_spawn_is_judged_by_where_the_call_runs() -> None:
    args = {Keyword("endpoint"): "mock:x"}
    assert capability_effects("mcp.stream.start", args) == frozenset()
    assert capability_effects("mcp.stream.start", args, toplevel=False) == {"spawn"}
    network = {Keyword("endpoint"): "https://example.org/feed"}
    assert capability_effects("mcp.stream.start", network, toplevel=False) == {"network", "spawn"}


def test_a_scripts_own_declaration_refuses_spawn() -> None:
    source = '(effects :log)\n(defn child [s c] s)\n(defn p [s c] (mcp-stream "mock:x" child) s)\n'
    script = load_script(source, capabilities={"mcp.stream.start": lambda args, ctx: "started"})
    with pytest.raises(EffectDeniedError, match=r"does not list :spawn"):
        script.processor("p")({}, {})


def test_check_reports_spawn_in_a_function(tmp_path: Path) -> None:
    script = write(tmp_path, "bomb.rtfs", BOMB)
    assert main(["check", str(script)]) == 0
    assert main(["check", str(script), "--allow", "none"]) == 2
    assert main(["check", str(script), "--allow", "spawn"]) == 0
    assert SecurityContext.parse(allow="none").permits("spawn") is False
