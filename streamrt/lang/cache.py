"""The compiled-script cache: a script that has not changed is loaded, not read and compiled again.

Like CPython's ``__pycache__``: the first run of a script compiles it and writes an entry, later runs load the
entry and so import neither the reader (lark and its tables) nor the compiler. An entry holds both variants of the
script (plain and metered, :mod:`streamrt.lang.metered`), their constants and script-level names, and the script's
``(effects ...)`` declaration.

Theory of operation
-------------------
*Key.* An entry's file name is ``script-`` and the sha256 of the script's text, the file name its code carries (``co_filename``,
what errors show), the interpreter (``sys.implementation.cache_tag`` and ``sys.version``) and a fingerprint of the
compiler's own source: the relative path, ``st_mtime_ns`` and size of every ``.py`` under ``streamrt/lang`` and of
the modules compiled code and its constants depend on (``values``, ``errors``, ``pos``, ``printer``, ``jsoncodec``, and the
package's ``__init__``, where the version lives). An editable checkout whose compiler changes never runs stale code.

*Contents.* The code objects are ``marshal``-ed, each object marshal cannot hold (a keyword, ``int`` in a type
guard, a set literal) swapped for a ``(nonce, index)`` placeholder, as :mod:`streamrt.lang.codeconsts` does while
compiling; the nonce is random per entry. The objects, the constants, the names and the declaration are pickled:
the core functions and the runtime's support objects by name (so ``NOTHING`` comes back as itself), keywords
through their ``__reduce__`` (``Keyword(name)``, interned); only classes of ``streamrt`` and ``builtins`` are looked
up when an entry is loaded.

*Safety.* An entry is code, so a directory that is not the user's, or that its group or others may write, is not
used (not read, not written), nor is an entry file that is not the user's. Writes go to a temporary file in the
directory and are renamed over the entry (``os.replace``), so a concurrent reader sees the old entry or the new one,
never half of one. Anything wrong with an entry (corrupt, truncated, another format, unreadable) makes it a miss:
the script is compiled and the entry written again; a directory that cannot be made or written is a miss that
writes nothing. Nothing here raises to the caller.

*Code entries.* The same directory keeps code objects other parts generate from a file of their own (the runtime's
chunk loops, :func:`streamrt.runtime.loops.cache_loops`), keyed by a name and that file's path, mtime and size (files ``code-*.rtc``);
they hold only what marshal holds.

*Bounds.* After a write, past :data:`MAX_ENTRIES` entries the oldest written are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import marshal
import os
import pickle
import sys
import time
from collections.abc import Callable
from types import CodeType
from typing import TYPE_CHECKING, Any, Final

import msgspec

from streamrt.lang.codeconsts import install_objects
from streamrt.lang.compiled import CompiledScript

if TYPE_CHECKING:
    from streamrt.lang.effects import Declaration
    from streamrt.lang.forms import Form

__all__ = ["MAX_ENTRIES", "CachedScript", "ScriptCache", "cache_dir", "default_cache", "fingerprint"]

log = logging.getLogger("streamrt.cache")

MAX_ENTRIES: Final = 256
"""Entries a cache directory keeps; a write past it removes the oldest written."""

_MAGIC: Final = b"streamrt compiled script 1\n"
_CODE_MAGIC: Final = b"streamrt code 1\n"
_SUFFIX: Final = ".rtc"
_TEMP_PREFIX: Final = ".tmp-"
_STALE_TEMP_SECONDS: Final = 600
_PACKAGE: Final = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
_DEPENDENCIES: Final = ("__init__.py", "values.py", "errors.py", "pos.py", "printer.py", "jsoncodec.py")
_MARSHAL_SAFE: Final = frozenset({type(None), bool, int, float, complex, str, bytes, type(...)})


class CachedScript(msgspec.Struct, frozen=True):
    """What an entry gives back: both variants of the script and its declaration."""

    plain: CompiledScript
    metered: CompiledScript
    declaration: Declaration | None


def cache_dir() -> str | None:
    """Where the cache lives: ``$STREAMRT_CACHE_DIR``, else ``$XDG_CACHE_HOME/streamrt``, else
    ``~/.cache/streamrt``; None when ``STREAMRT_NO_CACHE`` is set (to anything but ``""`` or ``0``) or there is no
    home to put it in. A plain string: a run from the cache imports no ``pathlib`` (with ``urllib.parse`` and
    ``ipaddress``, ~15 M instructions)."""
    if os.environ.get("STREAMRT_NO_CACHE", "") not in ("", "0"):
        return None
    explicit = os.environ.get("STREAMRT_CACHE_DIR")
    if explicit:
        return explicit
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "streamrt")
    home = os.path.expanduser("~")
    if home == "~" or not os.path.isabs(home):
        return None
    return os.path.join(home, ".cache", "streamrt")


def default_cache() -> ScriptCache | None:
    """The cache at :func:`cache_dir`, or None when it is turned off."""
    directory = cache_dir()
    return None if directory is None else ScriptCache(directory)


_fingerprint: str | None = None


def fingerprint() -> str:
    """The compiler's source as (relative path, mtime_ns, size) of each file, hashed; once per process (~0.2 ms:
    plain strings and ``os.scandir``'s entries, no ``Path`` nor ``relpath`` per file)."""
    global _fingerprint
    if _fingerprint is None:
        root = _PACKAGE
        cut = len(root) + 1
        parts: list[str] = []
        todo = [os.path.join(root, "lang")]
        while todo:
            with os.scandir(todo.pop()) as entries:
                for entry in entries:
                    name = entry.name
                    if name.endswith(".py"):
                        st = entry.stat()
                        parts.append(f"{entry.path[cut:]}:{st.st_mtime_ns}:{st.st_size}")
                    elif name != "__pycache__" and entry.is_dir():
                        todo.append(entry.path)
        for name in _DEPENDENCIES:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:
                continue
            parts.append(f"{name}:{st.st_mtime_ns}:{st.st_size}")
        parts.sort()
        _fingerprint = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return _fingerprint


def _code_key(name: str, source: str | os.PathLike[str]) -> str | None:
    try:
        st = os.stat(source)
    except OSError:
        return None
    text = "\0".join(
        (
            "code",
            name,
            os.fspath(source),
            str(st.st_mtime_ns),
            str(st.st_size),
            str(sys.implementation.cache_tag),
            sys.version,
        )
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _key(source: str, filename: str) -> str:
    text = "\0".join(
        (
            hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest(),
            filename,
            str(sys.implementation.cache_tag),
            sys.version,
            fingerprint(),
        )
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# --- code objects ---------------------------------------------------------------------------------------------------


def _strip(code: CodeType, nonce: str, objects: list[Any]) -> CodeType:
    """``code`` with every constant marshal cannot hold replaced by a ``(nonce, index)`` placeholder (the inverse
    of :func:`~streamrt.lang.codeconsts.install_objects`)."""

    def swap(value: Any) -> Any:
        kind = type(value)
        if kind in _MARSHAL_SAFE:
            return value
        if kind is tuple:
            return tuple(swap(v) for v in value)
        if kind is frozenset:
            return frozenset(swap(v) for v in value)
        if kind is CodeType:
            return _strip(value, nonce, objects)
        objects.append(value)
        return (nonce, len(objects) - 1)

    return code.replace(co_consts=tuple(swap(c) for c in code.co_consts))


# --- pickling -------------------------------------------------------------------------------------------------------


def _named_objects() -> dict[int, tuple[str, str]]:
    """The objects an entry refers to by name, by id: the core functions and the runtime's support objects."""
    from streamrt.lang.core import CORE
    from streamrt.lang.rt import support_names

    named = {id(fn.fn): ("core", name) for name, fn in CORE.items()}
    named.update((id(obj), ("rt", name)) for name, obj in support_names().items())
    return named


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._named = _named_objects()

    def persistent_id(self, obj: Any) -> Any:
        named = self._named.get(id(obj))
        if named is not None:
            return named
        if type(obj) is object:  # a sentinel pickle would copy, losing its identity
            raise pickle.PicklingError("an unnamed sentinel object")
        return None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        kind, name = pid
        if kind == "core":
            from streamrt.lang.core import CORE

            return CORE[name].fn
        if kind == "rt":
            from streamrt.lang.rt import support_names

            return support_names()[name]
        raise pickle.UnpicklingError(f"unknown reference {pid!r}")

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" or module == "streamrt" or module.startswith("streamrt."):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a streamrt class")


def _parts(compiled: CompiledScript, nonce: str) -> tuple[Any, ...]:
    objects: list[Any] = []
    code = marshal.dumps(_strip(compiled.code, nonce, objects))
    return code, objects, compiled.constants, compiled.globals, compiled.counter


def _compiled(
    parts: tuple[Any, ...], nonce: str, filename: str, read_forms: Callable[[], list[Form]]
) -> CompiledScript:
    code, objects, constants, globals_, counter = parts
    installed = install_objects(marshal.loads(code), nonce, objects)
    return CompiledScript(installed, filename, constants, globals_, None, counter, read_forms=read_forms)


def _encode(key: str, entry: CachedScript) -> bytes:
    nonce = "\0streamrt-cached:" + os.urandom(16).hex()
    payload = (key, nonce, _parts(entry.plain, nonce), _parts(entry.metered, nonce), entry.declaration)
    buffer = io.BytesIO()
    buffer.write(_MAGIC)
    _Pickler(buffer).dump(payload)
    return buffer.getvalue()


def _decode(data: bytes, key: str, filename: str, read_forms: Callable[[], list[Form]]) -> CachedScript:
    if not data.startswith(_MAGIC):
        raise ValueError("not an entry of this format")
    stored_key, nonce, plain, metered, declaration = _Unpickler(io.BytesIO(data[len(_MAGIC) :])).load()
    if stored_key != key:
        raise ValueError("an entry for another script")
    return CachedScript(
        _compiled(plain, nonce, filename, read_forms),
        _compiled(metered, nonce, filename, read_forms),
        declaration,
    )


# --- the directory --------------------------------------------------------------------------------------------------


class ScriptCache:
    """A directory of compiled scripts (see the module's documentation); ``max_entries`` bounds it."""

    def __init__(self, directory: str | os.PathLike[str], *, max_entries: int = MAX_ENTRIES) -> None:
        self.directory = os.fspath(directory)
        self.max_entries = max_entries
        self._safe: bool | None = None

    def __repr__(self) -> str:
        return f"ScriptCache({self.directory!r})"

    def _usable(self) -> bool:
        """The directory exists, is the user's, and only the user may write it (checked once)."""
        if self._safe is None:
            try:
                st = os.stat(self.directory)
            except OSError:
                return False  # not made yet: a write makes it
            uid = os.getuid() if hasattr(os, "getuid") else st.st_uid
            self._safe = st.st_uid == uid and not st.st_mode & 0o022 and os.path.isdir(self.directory)
            if not self._safe:
                log.debug(
                    "not using the script cache %s: not the user's, or others may write it", self.directory
                )
        return self._safe

    def load(self, source: str, filename: str, read_forms: Callable[[], list[Form]]) -> CachedScript | None:
        """The entry of ``source`` compiled as ``filename``, or None (no entry, or one that cannot be used)."""
        try:
            key = _key(source, filename)
        except ValueError:
            return None
        data = self._read("script-" + key)
        if data is None:
            return None
        try:
            return _decode(data, key, filename, read_forms)
        except Exception as exc:  # anything wrong with an entry makes it a miss, rewritten by the caller
            log.debug("ignoring the script cache's entry for %s: %r", filename, exc)
            return None

    def store(self, source: str, filename: str, entry: CachedScript) -> None:
        """Write the entry of ``source`` compiled as ``filename``; on any failure, write nothing."""
        try:
            key = _key(source, filename)
            data = _encode(key, entry)
            _decode(data, key, filename, lambda: entry.plain.forms)  # what a later run will do, or fail here
        except Exception as exc:  # something of this script cannot be stored: it is compiled every time
            log.debug("not caching %s: %r", filename, exc)
            return
        self._write("script-" + key, data)

    def load_code(self, name: str, source: str | os.PathLike[str]) -> CodeType | None:
        """A code object stored by :meth:`store_code` under ``name``, made from the file ``source`` as it is now."""
        key = _code_key(name, source)
        if key is None:
            return None
        header = _CODE_MAGIC + key.encode()
        data = self._read("code-" + key)
        if data is None or not data.startswith(header):
            return None
        try:
            code = marshal.loads(data[len(header) :])
        except Exception:  # a damaged entry: made again
            return None
        return code if isinstance(code, CodeType) else None

    def store_code(self, name: str, source: str | os.PathLike[str], code: CodeType) -> None:
        """Keep ``code``, made from the file ``source`` (its mtime and size are part of the key), under ``name``:
        the runtime's generated chunk loops (:mod:`streamrt.runtime.loops`). Code with constants marshal cannot hold
        is not kept."""
        key = _code_key(name, source)
        if key is None:
            return
        try:
            data = _CODE_MAGIC + key.encode() + marshal.dumps(code)
        except ValueError:
            return
        self._write("code-" + key, data)

    def _read(self, name: str) -> bytes | None:
        """The bytes of the entry ``name``: None when there is none, or it or the directory cannot be trusted."""
        try:
            if not self._usable():
                return None
            fd = os.open(
                os.path.join(self.directory, name + _SUFFIX), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
            )
        except OSError:
            return None
        try:
            with open(fd, "rb") as f:
                st = os.fstat(f.fileno())
                if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
                    return None
                return f.read()
        except OSError:
            return None

    def _write(self, name: str, data: bytes) -> None:
        """Write an entry through a temporary file renamed over it; on any failure, write nothing."""
        import tempfile  # (11 M instructions with shutil, random, bz2, lzma): only a write needs it

        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            self._safe = None
            if not self._usable():
                return
            fd, temp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=_SUFFIX, dir=self.directory)
        except OSError:
            return
        try:
            with open(fd, "wb") as f:
                f.write(data)
            os.replace(temp, os.path.join(self.directory, name + _SUFFIX))
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            return
        self._prune()

    def _prune(self) -> None:
        """Remove the oldest entries past :attr:`max_entries`, and temporary files a killed writer left."""
        try:
            entries: list[tuple[float, str]] = []
            now = time.time()
            with os.scandir(self.directory) as found:
                for item in found:
                    if item.name.endswith(_SUFFIX):
                        mtime = item.stat(follow_symlinks=False).st_mtime
                        if item.name.startswith(_TEMP_PREFIX):
                            if now - mtime > _STALE_TEMP_SECONDS:
                                os.unlink(item.path)
                        else:
                            entries.append((mtime, item.path))
            if len(entries) > self.max_entries:
                entries.sort()
                for _, path in entries[: len(entries) - self.max_entries]:
                    os.unlink(path)
        except OSError:
            pass
