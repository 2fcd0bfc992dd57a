"""Opening what an import reads: a file or stdin, gzip-compressed or not.

Every stream handed out turns read failures (a truncated or corrupt gzip member, an I/O error)
into ImportFailed naming the source, so no reader needs to know how its bytes arrived.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, cast

from evshare.errors import ImportFailed

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

STDIN = "-"
BUFFER_SIZE = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b"

Source = str | os.PathLike[str]
"""A file's path, or "-" for stdin (read as bytes)."""

Progress = Callable[[int], None]
"""Called with the number of bytes read so far from the source as stored (compressed, for
gzip), once per buffer fill; the total for a file is its size on disk."""


@dataclass(frozen=True, slots=True)
class Opened:
    name: str  # as shown in messages: the path as given, or <stdin>
    stream: BinaryIO  # decompressed bytes, buffered


class _Guarded(io.RawIOBase):
    """A raw stream over another binary stream that counts what it reads and turns read errors
    into ImportFailed."""

    def __init__(
        self, inner: io.RawIOBase | io.BufferedIOBase, name: str, progress: Progress | None
    ) -> None:
        super().__init__()
        self._inner = inner
        self._name = name
        self._progress = progress
        self._count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        try:
            n = self._inner.readinto(buffer)
        except (OSError, EOFError, zlib.error) as error:
            raise ImportFailed(f"{self._name}: cannot read: {error}") from error
        if n and self._progress is not None:
            self._count += n
            self._progress(self._count)
        return int(n or 0)


@contextmanager
def open_source(source: Source, progress: Progress | None = None) -> Iterator[Opened]:
    """Open `source` (a path, or "-" for stdin) for binary reading, decompressing gzip whatever
    the name says. OSError, naming the file, if it cannot be opened."""
    path = os.fspath(source)
    if path == STDIN:
        name = "<stdin>"
        raw: io.RawIOBase | io.BufferedIOBase = cast(io.BufferedIOBase, sys.stdin.buffer)
    else:
        name = path
        # An OSError (no such file, a folder, no permission) escapes with the file's name: the
        # CLI reports it in one line (cli/failures.py).
        raw = open(path, "rb", buffering=0)  # noqa: SIM115 -- closed below, after the yield
    try:
        stream = io.BufferedReader(_Guarded(raw, name, progress), BUFFER_SIZE)
        if stream.peek(2)[:2] == _GZIP_MAGIC:
            member = gzip.GzipFile(fileobj=stream, mode="rb")
            stream = io.BufferedReader(_Guarded(member, name, None), BUFFER_SIZE)
        yield Opened(name, stream)
    finally:
        if path != STDIN:
            raw.close()
