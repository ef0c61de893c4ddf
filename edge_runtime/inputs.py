"""Reviews from files, JSON lines and standard input, read as a stream with bounded memory.

Each reader yields, in input order, either a :class:`Review` (its line number and text) or a
:class:`BadLine` (its line number and what is wrong), so the caller decides whether a bad line
stops everything or is reported and skipped. Lines are split on ``\\n`` only (a JSON string may
hold U+2028 or U+0085, which ``str.splitlines`` would split on), every line is read with a cap
(``/dev/zero`` or a file without newlines cannot exhaust memory), and nothing is held beyond the
current line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import BinaryIO, Iterator

MAX_LINE_BYTES = 16 * 1024 * 1024   # one review; the longest IMDB review is 14 kB


@dataclass(frozen=True)
class Review:
    line: int | None     # 1-based line number, None for a TEXT argument or the whole standard input
    text: str
    id: object = None    # a JSON line's "id", echoed in the results


@dataclass(frozen=True)
class BadLine:
    line: int
    message: str


class InputError(Exception):
    """The input cannot be read on (a line over the cap, a read error); stops the stream."""


def _lines(stream: BinaryIO, source: str) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes without the newline) for every line, each at most MAX_LINE_BYTES."""
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            raise InputError(f"{source} line {number} is longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB; "
                             "give one review per line of a text file")
        yield number, line.rstrip(b"\n").rstrip(b"\r")


def _decode(data: bytes, source: str, number: int | None, warn) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        where = f"{source} line {number}" if number else source
        warn(f"warning: {where} is not valid UTF-8 (byte {error.start}); undecodable bytes were replaced with U+FFFD")
        return data.decode("utf-8", errors="replace")


def text_lines(stream: BinaryIO, source: str, warn=lambda message: None) -> Iterator[Review]:
    """One review per non-empty line (blank lines are skipped, their numbers still count)."""
    for number, data in _lines(stream, source):
        if data.strip():
            yield Review(number, _decode(data, source, number, warn))


def json_lines(stream: BinaryIO, source: str, warn=lambda message: None) -> Iterator[Review | BadLine]:
    """One JSON object per non-empty line with a string field ``text`` (and, if present, ``id``)."""
    for number, data in _lines(stream, source):
        if not data.strip():
            continue
        try:
            record = json.loads(_decode(data, source, number, warn))
        except json.JSONDecodeError as error:
            yield BadLine(number, f"is not JSON ({error.msg} at column {error.colno}); give one object per "
                                  "line, for example {\"text\": \"...\"}")
            continue
        except RecursionError:
            yield BadLine(number, "is JSON nested too deeply to read; give one flat object per line")
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            yield BadLine(number, "has no string field \"text\"; give objects like {\"text\": \"...\"}")
            continue
        identifier = record.get("id")
        yield Review(number, record["text"], identifier if isinstance(identifier, (str, int)) else None)


def whole(stream: BinaryIO, source: str, warn=lambda message: None) -> Iterator[Review]:
    """The whole input as one review (read with the same cap as a line)."""
    data = stream.read(MAX_LINE_BYTES + 1)
    if len(data) > MAX_LINE_BYTES:
        raise InputError(f"{source} is longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB; one review is "
                         "expected (use --lines for one review per line)")
    text = _decode(data, source, None, warn)
    if text.strip():
        yield Review(None, text)
