"""The compiled-script cache (streamrt.lang.cache) through ``load_script(..., cache=...)``, on real files."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import CodeType
from typing import Any

import pytest

from streamrt.errors import LimitExceededError, ScriptCompileError, ScriptRuntimeError
from streamrt.lang import cache as cache_module
from streamrt.lang import script as script_module
from streamrt.lang.cache import CachedScript, ScriptCache, cache_dir
from streamrt.lang.meter import Limits
from streamrt.lang.metered import metered
from streamrt.lang.rt import NOTHING
from streamrt.lang.script import Script, load_script
from streamrt.values import Keyword

SCRIPT = """
(effects :log)
(def factor 3)
(defn tally [state chunk]
  (let [k (keyword (:city chunk))]
    {:state (assoc state k (+ (get state k 0) (* factor (:n chunk))))
     :output {:city k :seen #{:a :b} :quoted '(1 sym :kw) :sum (+ (tally-extra chunk) 1)}}))
(defn tally-extra [chunk] (:extra chunk 0))
(defn boom [state chunk]
  (/ (:n chunk)
     0))
(defn spin [state chunk] (loop [i 0] (if (< i 100000000) (recur (inc i)) i)))
(defn deep [n] (if (= n 0) 0 (inc (deep (dec n)))))
(defn dive [state chunk] (deep (:n chunk)))
"""

CHUNKS = [
    {Keyword("city"): "Oslo", Keyword("n"): 2},
    {Keyword("city"): "Lima", Keyword("n"): 5, Keyword("extra"): 4},
]


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("script-*.rtc"))


def outputs(script: Script) -> list[Any]:
    fn = script.processor("tally")
    state: Any = {}
    got = []
    for chunk in CHUNKS:
        result = fn(state, chunk)
        state = result[Keyword("state")]
        got.append(result)
    return got


def no_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any read-and-compile fail: what loads after this came from the cache."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("compiled, not loaded from the cache")

    monkeypatch.setattr(script_module, "compile_script", refuse)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "tally.rtfs"
    p.write_text(SCRIPT, encoding="utf-8")
    return p


def test_without_a_cache_load_script_writes_nothing(path: Path, tmp_path: Path) -> None:
    before = sorted(os.listdir(tmp_path))
    load_script(path=path)
    assert sorted(os.listdir(tmp_path)) == before


def test_a_hit_loads_without_compiling_and_runs_like_the_miss(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = ScriptCache(tmp_path / "cache")
    uncached = outputs(load_script(path=path))
    missed = load_script(path=path, cache=cache)
    [entry] = entries(tmp_path / "cache")
    assert stat.S_IMODE(os.stat(tmp_path / "cache").st_mode) == 0o700
    no_compiling(monkeypatch)
    hit = load_script(path=path, cache=ScriptCache(tmp_path / "cache"))
    assert outputs(hit) == outputs(missed) == uncached
    assert hit.names == missed.names
    assert hit.declaration == missed.declaration and hit.declaration is not None
    assert hit.get("factor") == 3
    assert hit.compiled.code.co_filename == str(path)
    assert entries(tmp_path / "cache") == [entry]


def test_keywords_and_runtime_objects_come_back_as_themselves(path: Path, tmp_path: Path) -> None:
    cache = ScriptCache(tmp_path / "cache")
    load_script(path=path, cache=cache)
    cached = cache.load(SCRIPT, str(path), lambda: [])
    assert cached is not None

    def consts(code: CodeType) -> list[Any]:
        out: list[Any] = []
        for c in code.co_consts:
            out.extend(consts(c) if isinstance(c, CodeType) else [c])
        return out

    found = consts(cached.plain.code) + consts(cached.metered.code)
    keywords = [c for c in found if isinstance(c, Keyword)]
    assert keywords and all(k is Keyword(k.qualified) for k in keywords)
    assert any(c is NOTHING for c in found)  # (+ (tally-extra chunk) 1): a fast path's guard of a call


def test_a_hit_still_reads_its_forms_when_asked(path: Path, tmp_path: Path) -> None:
    cache = ScriptCache(tmp_path / "cache")
    missed = load_script(path=path, cache=cache)
    hit = load_script(path=path, cache=cache)
    assert [str(f) for f in hit.compiled.forms] == [str(f) for f in missed.compiled.forms]


def test_a_changed_script_is_compiled_again(path: Path, tmp_path: Path) -> None:
    cache = ScriptCache(tmp_path / "cache")
    load_script(path=path, cache=cache)
    path.write_text(SCRIPT.replace("(def factor 3)", "(def factor 10)"), encoding="utf-8")
    assert load_script(path=path, cache=cache).get("factor") == 10
    assert len(entries(tmp_path / "cache")) == 2


def test_the_same_text_under_another_name_is_another_entry(path: Path, tmp_path: Path) -> None:
    cache = ScriptCache(tmp_path / "cache")
    load_script(path=path, cache=cache)
    other = tmp_path / "other.rtfs"
    other.write_text(SCRIPT, encoding="utf-8")
    assert load_script(path=other, cache=cache).compiled.code.co_filename == str(other)


def test_a_changed_compiler_is_compiled_again(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fingerprint follows the compiler's files: a changed one (here a copy of the package's tree) is a new key."""
    tree = tmp_path / "pkg"
    (tree / "lang" / "core").mkdir(parents=True)
    (tree / "lang" / "compiler.py").write_text("x = 1\n")
    (tree / "lang" / "core" / "maps.py").write_text("y = 1\n")
    (tree / "values.py").write_text("z = 1\n")
    monkeypatch.setattr(cache_module, "_PACKAGE", str(tree))
    monkeypatch.setattr(cache_module, "_fingerprint", None)
    cache = ScriptCache(tmp_path / "cache")
    first = cache_module.fingerprint()
    load_script(path=path, cache=cache)
    assert cache.load(SCRIPT, str(path), lambda: []) is not None

    for changed in (tree / "lang" / "core" / "maps.py", tree / "values.py"):
        changed.write_text(changed.read_text() + "# edited\n")
        monkeypatch.setattr(cache_module, "_fingerprint", None)
        assert cache_module.fingerprint() != first
        assert cache.load(SCRIPT, str(path), lambda: []) is None
        load_script(path=path, cache=cache)
        assert cache.load(SCRIPT, str(path), lambda: []) is not None
    assert len(entries(tmp_path / "cache")) == 3


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: b"garbage" + data, id="another format"),
        pytest.param(lambda data: data[:40] + bytes(b ^ 0x5A for b in data[40:]), id="corrupt"),
    ],
)
def test_a_damaged_entry_is_compiled_again_and_rewritten(path: Path, tmp_path: Path, damage: Any) -> None:
    cache = ScriptCache(tmp_path / "cache")
    want = outputs(load_script(path=path, cache=cache))
    [entry] = entries(tmp_path / "cache")
    entry.write_bytes(damage(entry.read_bytes()))
    assert cache.load(SCRIPT, str(path), lambda: []) is None
    assert outputs(load_script(path=path, cache=cache)) == want
    assert cache.load(SCRIPT, str(path), lambda: []) is not None


def test_an_unreadable_entry_is_a_miss(path: Path, tmp_path: Path) -> None:
    cache = ScriptCache(tmp_path / "cache")
    load_script(path=path, cache=cache)
    [entry] = entries(tmp_path / "cache")
    entry.unlink()
    entry.mkdir()  # not a file: cannot be read, nor replaced
    assert outputs(load_script(path=path, cache=cache)) == outputs(load_script(path=path))


def test_errors_of_cached_code_name_the_file_line_column_and_show_the_line(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = ScriptCache(tmp_path / "cache")
    with pytest.raises(ScriptRuntimeError) as missed:
        load_script(path=path, cache=cache).processor("boom")({}, {Keyword("n"): 1})
    no_compiling(monkeypatch)
    with pytest.raises(ScriptRuntimeError) as hit:
        load_script(path=path, cache=cache).processor("boom")({}, {Keyword("n"): 1})
    assert hit.value.pos == missed.value.pos
    assert hit.value.pos is not None and (hit.value.pos.filename, hit.value.pos.line) == (str(path), 10)
    assert f"{path}:10:" in str(hit.value)
    assert hit.value.source_line == "  (/ (:n chunk)"
    assert str(hit.value) == str(missed.value)


def test_cached_metered_code_enforces_the_limits(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = ScriptCache(tmp_path / "cache")
    load_script(path=path, cache=cache)
    no_compiling(monkeypatch)
    monkeypatch.setattr("streamrt.lang.compiling.compile_forms", lambda *a, **k: pytest.fail("compiled"))
    script = load_script(path=path, cache=cache)
    with pytest.raises(LimitExceededError, match="fuel"):
        metered(script.processor("spin"), Limits(fuel=10_000))({}, {})
    dive = metered(script.processor("dive"), Limits(depth=50))
    assert dive({}, {Keyword("n"): 20}) == 20
    with pytest.raises(LimitExceededError, match="depth"):
        dive({}, {Keyword("n"): 200})


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o757])
def test_a_directory_others_may_write_is_not_used(path: Path, tmp_path: Path, mode: int) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(mode)
    cache = ScriptCache(directory)
    missed = load_script(path=path, cache=cache)
    assert entries(directory) == []
    # an entry someone else put there is not read either
    ScriptCache(tmp_path / "mine").store(
        SCRIPT, str(path), CachedScript(missed.compiled, missed.compiled, None)
    )
    [planted] = entries(tmp_path / "mine")
    os.replace(planted, directory / planted.name)
    assert ScriptCache(directory).load(SCRIPT, str(path), lambda: []) is None
    assert outputs(load_script(path=path, cache=ScriptCache(directory))) == outputs(missed)


def test_an_entry_others_may_write_is_not_read(path: Path, tmp_path: Path) -> None:
    cache = ScriptCache(tmp_path / "cache")
    load_script(path=path, cache=cache)
    [entry] = entries(tmp_path / "cache")
    entry.chmod(0o666)
    assert cache.load(SCRIPT, str(path), lambda: []) is None


@pytest.mark.skipif(os.getuid() != 0, reason="giving a directory to another user needs root")
def test_a_directory_of_another_user_is_not_used(path: Path, tmp_path: Path) -> None:
    directory = tmp_path / "theirs"
    directory.mkdir(mode=0o700)
    os.chown(directory, 65534, 65534)
    load_script(path=path, cache=ScriptCache(directory))
    assert entries(directory) == []


def test_a_directory_that_cannot_be_made_runs_as_without_a_cache(path: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    script = load_script(path=path, cache=ScriptCache(blocker / "cache"))
    assert outputs(script) == outputs(load_script(path=path))


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    cache = ScriptCache(tmp_path / "cache", max_entries=3)
    for n in range(6):
        load_script(f"(def n {n})", filename="n.rtfs", cache=cache)
        os.utime(entries(tmp_path / "cache")[0], (n, n))  # no two entries written in the same tick
    assert len(entries(tmp_path / "cache")) == 3
    assert cache.load("(def n 5)", "n.rtfs", lambda: []) is not None


def test_a_script_that_does_not_compile_is_not_cached(tmp_path: Path) -> None:
    cache = ScriptCache(tmp_path / "cache")
    for _ in range(2):
        with pytest.raises(ScriptCompileError):
            load_script("(defn f [x] (undefined-thing x))", filename="bad.rtfs", cache=cache)
    assert not (tmp_path / "cache").exists() or entries(tmp_path / "cache") == []


def test_where_the_cache_lives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("STREAMRT_CACHE_DIR", "XDG_CACHE_HOME", "STREAMRT_NO_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == str(tmp_path / "home" / ".cache" / "streamrt")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == str(tmp_path / "xdg" / "streamrt")
    monkeypatch.setenv("STREAMRT_CACHE_DIR", str(tmp_path / "explicit"))
    assert cache_dir() == str(tmp_path / "explicit")
    monkeypatch.setenv("STREAMRT_NO_CACHE", "1")
    assert cache_dir() is None
    monkeypatch.setenv("STREAMRT_NO_CACHE", "0")
    assert cache_dir() == str(tmp_path / "explicit")
