"""Atomic writes: results, checkpoints and caches appear whole or not at all.

A write fills a temporary beside its target, `.NAME.<host>-<pid>.<random>.tmp`, then renames
it over the target. A folder that already exists is first moved aside to `.NAME.old`, the new
one renamed in, the old one removed; a process killed between those two renames leaves only
`.NAME.old`, which the next write of that target (or `recover`) renames back. Temporaries of
dead processes are removed the same way, so a SIGKILL at any point leaves the old or the new
content and, after the next write, no stray file. Folder swaps, and whatever `file_lock`
guards (a cache entry being filled), are serialised across processes and threads with
flock(2) locks, which the OS releases when their holder dies. `utf8_lines` and `read_utf8` read
text inputs as UTF-8, naming the file and line of a bad byte.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alignscope.errors import DataFormatError

_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

_HOST = socket.gethostname().replace(".", "_")  # no dots: the temporary names split on them
_held = threading.local()  # lock paths this thread holds: file_lock is re-entrant


def _usual_mode(path: Path, directory: bool) -> None:
    """mkstemp/mkdtemp create owner-only entries; give the mode a plain open/mkdir would."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if directory else 0o666) & ~umask)


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.{_HOST}-{os.getpid()}."


def _old(path: Path) -> Path:
    return path.with_name(f".{path.name}.old")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _is_stale(entry: str, name: str) -> bool:
    """A temporary of `name` left by a dead process of this host (or by a version before the
    owner was part of the name)."""
    middle = entry[len(name) + 2:-len(".tmp")]
    owner, _, _random = middle.rpartition(".")
    host, _, pid = owner.rpartition("-")
    if not owner:
        return True  # `.NAME.<random>.tmp`: alignscope before 0.2
    return host == _HOST and pid.isdigit() and not _alive(int(pid))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def recover(path: str | Path) -> None:
    """Finish what a killed writer of `path` left: restore `.NAME.old` if `path` is missing,
    else remove it; remove the temporaries of dead processes."""
    path = Path(path)
    if not path.parent.is_dir():
        return
    with _directory_lock(path.parent):
        old = _old(path)
        if os.path.lexists(old):
            if os.path.lexists(path):
                _remove(old)
            else:
                os.replace(old, path)
        for entry in os.listdir(path.parent):
            if entry.startswith(f".{path.name}.") and entry.endswith(".tmp") \
                    and _is_stale(entry, path.name):
                _remove(path.parent / entry)


@contextlib.contextmanager
def _reentrant(lock_path: Path) -> Iterator[bool]:
    """Yields whether this thread must take the lock (False: it already holds it)."""
    held: set[str] = _held.__dict__.setdefault("paths", set())
    key = os.path.abspath(lock_path)
    if key in held:
        yield False
        return
    held.add(key)
    try:
        yield True
    finally:
        held.discard(key)


@contextlib.contextmanager
def _directory_lock(folder: Path) -> Iterator[None]:
    """The lock on a folder's entries: renames into it happen one process at a time."""
    with _reentrant(folder) as needed:
        if not needed:
            yield
            return
        fd = os.open(folder, os.O_RDONLY)
        try:
            with contextlib.suppress(OSError):  # e.g. NFS refuses locks on read-only fds
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """An exclusive lock on `path` across processes and threads (re-entrant in a thread), held
    on the companion file `.NAME.lock` while the block runs; e.g. one process fills a cache
    entry while the others wait, then read it. The holder removes the lock file, so a waiter
    that wakes on a removed file tries again on the current one."""
    path = Path(path)
    lock_path = path.with_name(f".{path.name}.lock")
    created = not path.parent.exists()  # removed again if left empty: no trace of a failure
    with _reentrant(lock_path) as needed:
        if not needed:
            yield
            return
        fd = _locked(lock_path)
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock_path)
            os.close(fd)
            if created:
                with contextlib.suppress(OSError):
                    path.parent.rmdir()


def _locked(lock_path: Path) -> int:
    """An fd holding the flock of `lock_path`, retried until it is the file at that path (a
    holder removes it on release, possibly with its folder)."""
    while True:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:
            continue
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.fstat(fd).st_ino == os.stat(lock_path).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` to a temporary file beside `path`, fsync it, then rename over `path`."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_json(path: str | Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` for the block to fill (download, link, copy);
    it is fsynced and renamed over `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        _usual_mode(Path(tmp), directory=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def temporary_beside(path: str | Path) -> Path:
    """A new empty folder beside `path`, named as its temporaries are: the caller removes it;
    if its process dies first, the next write of `path` (or `recover`) does."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    return Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent))


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces `path` only if the block succeeds."""
    path = Path(path)
    tmp = temporary_beside(path)
    try:
        yield tmp
        _usual_mode(tmp, directory=True)
        with _directory_lock(path.parent):
            if os.path.lexists(path):
                os.replace(path, _old(path))
                os.replace(tmp, path)
                _remove(_old(path))
            else:
                os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def utf8_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, line without its end) of a UTF-8 text file, with or without a byte-order
    mark. Any other encoding, or a binary file, is an error naming the first bad line."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if number == 1:
                    if raw.startswith(_UTF16_BOMS):
                        raise DataFormatError(path, 1, "the file is UTF-16, not UTF-8",
                                              _convert_hint(path, "utf-16"))
                    raw = raw.removeprefix(_BOM)
                yield number, _decode(path, number, raw).rstrip("\r\n")
    except IsADirectoryError:
        raise DataFormatError(path, None, "is a folder, not a text file",
                              "pass the file inside it") from None
    except PermissionError:
        raise DataFormatError(path, None, "cannot be read (permission denied)",
                              "fix its permissions") from None


def read_utf8(path: str | Path) -> str:
    """The whole text of a UTF-8 file (see `utf8_lines`), lines joined by newlines."""
    return "".join(line + "\n" for _, line in utf8_lines(path))


def _decode(path: Path, number: int, raw: bytes) -> str:
    if b"\x00" in raw:
        raise DataFormatError(path, number, "NUL byte: this is a binary file, or UTF-16/32 text",
                              f"pass a UTF-8 text file; {_convert_hint(path, 'utf-16')}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = raw[error.start]
        raise DataFormatError(
            path, number, f"not UTF-8: byte 0x{bad:02x} at column {error.start + 1} cannot be "
            "decoded", _convert_hint(path, "latin1")) from None


def _convert_hint(path: Path, encoding: str) -> str:
    return (f"convert it to UTF-8, e.g. `iconv -f {encoding} -t utf-8 {path} > "
            f"{path.with_name(path.stem + '.utf8' + path.suffix)}` (use the file's real "
            "encoding in -f)")


def read_json(path: str | Path) -> Any:
    """A JSON file's content; a damaged or non-UTF-8 file is an error naming it (and the line)."""
    try:
        return json.loads(read_utf8(path))
    except json.JSONDecodeError as error:
        raise DataFormatError(path, error.lineno, f"not valid JSON ({error.msg})",
                              "restore the file, or re-run the command that wrote it") from None
