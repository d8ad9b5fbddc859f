"""Atomic writes: results, checkpoints and caches appear whole or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alignscope.errors import DataFormatError

_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _usual_mode(path: Path, directory: bool) -> None:
    """mkstemp/mkdtemp create owner-only entries; give the mode a plain open/mkdir would."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if directory else 0o666) & ~umask)


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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        _usual_mode(tmp, directory=True)
        if path.exists():
            trash = path.with_name(f".{path.name}.old")
            shutil.rmtree(trash, ignore_errors=True)
            os.replace(path, trash)
            os.replace(tmp, path)
            shutil.rmtree(trash, ignore_errors=True)
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
