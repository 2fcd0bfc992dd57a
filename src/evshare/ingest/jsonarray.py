"""The elements of a JSON array, one at a time, in memory bounded by the largest element.

The array may be the whole document or, for response envelopes (OCPI's `{"data": [...]}`,
EnergSync's `{"chargers": [...]}`), the value of one member of a top-level object. The stdlib
decoder's `raw_decode` parses one element from a buffer of decoded text; when an element runs past
the end of the buffer, more is read and the element is parsed again.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

import orjson

from evshare.errors import ImportFailed
from evshare.ingest.formats import MAX_RECORD, Record
from evshare.ingest.rows import RowError
from evshare.ingest.sources import BUFFER_SIZE

_SPACE = " \t\n\r"
_NUMBER = "0123456789+-.eE"
_WHITESPACE = re.compile(f"[{_SPACE}]*")

MemberHook = Callable[[str, object], None]
"""Called with each member of an envelope other than the array, as it is read."""


class _Text:
    """Decoded text read ahead from the stream, a position in it, and that position's line."""

    def __init__(self, stream: BinaryIO, source: str, chunk_size: int, max_record: int) -> None:
        self.source = source
        self.line = 1
        self._read = stream.read
        self._decode = codecs.getincrementaldecoder("utf-8-sig")().decode
        self._raw_decode = json.JSONDecoder().raw_decode
        self._chunk_size = chunk_size
        self._max_record = max_record
        self._buffer = ""
        self._position = 0
        self._eof = False

    def peek(self) -> str:
        """The next character that is not whitespace, without consuming it; "" at the end."""
        buffer, position = self._buffer, self._position
        if position < len(buffer) and buffer[position] not in _SPACE:
            return buffer[position]
        while True:
            match = _WHITESPACE.match(self._buffer, self._position)
            end = match.end() if match else self._position
            self.line += self._buffer.count("\n", self._position, end)
            self._position = end
            if end < len(self._buffer):
                return self._buffer[end]
            if not self._fill(self._chunk_size):
                return ""

    def advance(self) -> None:
        """Consume the character `peek` returned."""
        self._position += 1

    def value(self) -> object:
        """Parse and consume the JSON value at the current position (after `peek`)."""
        flat = self._flat_object()
        if flat is not None:
            return flat
        size = self._chunk_size
        while True:
            try:
                value, end = self._raw_decode(self._buffer, self._position)
            except json.JSONDecodeError as error:
                line = self.line + self._buffer.count("\n", self._position, error.pos)
                too_long = len(self._buffer) - self._position > self._max_record
                if too_long or not self._fill(size):
                    limit = f" (an element may take at most {self._max_record} characters)"
                    raise ImportFailed(
                        f"{self.source}:{line}: malformed JSON: {error.msg}"
                        + (limit if too_long else "")
                    ) from error
                size *= 2
                continue
            except RecursionError as error:
                raise ImportFailed(f"{self.source}:{self.line}: JSON nested too deeply") from error
            except ValueError as error:  # e.g. an integer with more digits than Python allows
                raise ImportFailed(f"{self.source}:{self.line}: malformed JSON: {error}") from error
            if self._may_go_on(value, end) and self._fill(size):
                continue
            self.line += self._buffer.count("\n", self._position, end)
            self._position = end
            return value

    def _may_go_on(self, value: object, end: int) -> bool:
        """Whether the value parsed may be the start of a longer one cut off by the end of the
        buffer: a literal or number at its very end, or a number followed only by what could
        continue it (6. before 25e3)."""
        if end == len(self._buffer):
            return True
        return type(value) in (int, float) and not self._buffer[end:].strip(_NUMBER)

    def _flat_object(self) -> dict[str, object] | None:
        """The object at the current position if no other object is nested in it, parsed by
        orjson (twice as fast as the stdlib); None if that does not apply. An object text is
        never a prefix of a longer one, so if the text up to the first "}" parses, it is all."""
        buffer, position = self._buffer, self._position
        if not buffer.startswith("{", position):
            return None
        end = buffer.find("}", position) + 1
        if not end or buffer.find("{", position + 1, end) >= 0:
            return None
        try:
            value: dict[str, object] = orjson.loads(buffer[position:end])
        except orjson.JSONDecodeError:
            return None
        self.line += buffer.count("\n", position, end)
        self._position = end
        return value

    def _fill(self, size: int) -> bool:
        """Drop what was consumed and read at least one more chunk; False at the end."""
        if self._eof:
            return False
        data = self._read(size)
        try:
            text = self._decode(data, not data)
        except UnicodeDecodeError as error:
            line = self.line + self._buffer.count("\n", self._position)
            raise ImportFailed(f"{self.source}: not valid UTF-8 after line {line}") from error
        self._buffer = self._buffer[self._position :] + text
        self._position = 0
        self._eof = not data
        return True


def read_array(
    stream: BinaryIO,
    source: str,
    *,
    envelope: str | None = None,
    on_member: MemberHook | None = None,
    chunk_size: int = BUFFER_SIZE,
    max_record: int = MAX_RECORD,
) -> Iterator[Record | RowError]:
    """Each element of the document's array with the line it starts on; an element that is not
    an object is a RowError. With `envelope`, the document may instead be an object whose member
    of that name holds the array. An empty document yields nothing; any other document that is
    not such an array raises ImportFailed (the rest of it could not be read reliably)."""
    text = _Text(stream, source, chunk_size, max_record)
    first = text.peek()
    if first == "[":
        yield from _elements(text)
    elif first == "{" and envelope is not None:
        yield from _envelope(text, envelope, on_member)
    elif first:
        expected = (
            "a JSON array" if envelope is None else f"a JSON array or {{{envelope!r}: [...]}}"
        )
        hint = " (one object per line is NDJSON: name it .ndjson)" if first == "{" else ""
        raise ImportFailed(f"{source}:{text.line}: not {expected}{hint}")
    if text.peek():
        raise ImportFailed(f"{source}:{text.line}: unexpected data after the end of the JSON")


def _elements(text: _Text) -> Iterator[Record | RowError]:
    text.advance()
    if text.peek() == "]":
        text.advance()
        return
    while True:
        text.peek()
        line = text.line
        value = text.value()
        if type(value) is dict:
            yield line, value
        else:
            yield RowError(text.source, line, None, value, "not a JSON object")
        if _take(text, ",]") == "]":
            return


def _envelope(
    text: _Text, envelope: str, on_member: MemberHook | None
) -> Iterator[Record | RowError]:
    text.advance()
    found = False
    if text.peek() == "}":
        text.advance()
    else:
        while True:
            text.peek()
            key = text.value()
            if type(key) is not str:
                raise ImportFailed(f"{text.source}:{text.line}: malformed JSON: expected a name")
            _take(text, ":")
            if text.peek() == "[" and key == envelope:
                found = True
                yield from _elements(text)
            else:
                member = text.value()
                if on_member is not None:
                    on_member(key, member)
            if _take(text, ",}") == "}":
                break
    if not found:
        raise ImportFailed(f"{text.source}: no {envelope!r} array in the top-level object")


def _take(text: _Text, allowed: str) -> str:
    """Consume and return the next character, which must be one of `allowed`."""
    found = text.peek()
    if not found or found not in allowed:
        wanted = " or ".join(repr(c) for c in allowed)
        got = repr(found) if found else "the end of the file"
        raise ImportFailed(
            f"{text.source}:{text.line}: malformed JSON: expected {wanted}, got {got}"
        )
    text.advance()
    return found
