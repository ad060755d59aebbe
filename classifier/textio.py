"""Reading a posting from bytes: encodings, binary files and absurd sizes, as clear errors."""

from __future__ import annotations

import codecs
import re

from .errors import BadInput

MAX_POSTING_CHARS = 2_000_000
MAX_LINE_CHARS = 100_000
# control characters other than \t \n \v \f \r (9-13): a count of them flags binary data
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")


def decode(data: bytes, source: str = "input", encoding: str | None = None) -> str:
    """Return the text of a posting's bytes: UTF-8 (BOM or not), UTF-16 with BOM, or `encoding`."""
    if encoding:
        try:
            return data.decode(encoding)
        except LookupError as e:
            raise BadInput(f"unknown encoding {encoding!r}") from e
        except UnicodeDecodeError as e:
            raise BadInput(f"{source} is not valid {encoding} (byte {e.start})") from e
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise BadInput(f"{source} has a UTF-16 mark but is not valid UTF-16") from e
    if b"\x00" in data[:8192]:
        raise BadInput(f"{source} looks like a binary file, not a job description")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise BadInput(
            f"{source} is not valid UTF-8 (line {line}, byte {e.start}); "
            "save it as UTF-8 or pass --encoding (e.g. cp1258, cp1252)"
        ) from e


def check_text(text: str, source: str = "input") -> str:
    """Return the text if it is a plausible posting, else raise BadInput saying why."""
    if not text.strip():
        raise BadInput(f"{source} is empty: paste or pass a job description")
    if len(text) > MAX_POSTING_CHARS:
        raise BadInput(
            f"{source} has {len(text):,} characters; a posting is at most "
            f"{MAX_POSTING_CHARS:,} (for many postings use `ciocto score`)"
        )
    head = text[:10_000]
    bad = len(_CONTROL.findall(head))
    if bad > max(3, len(head) // 100):
        raise BadInput(f"{source} looks like binary data, not a job description")
    longest = max(len(line) for line in text.splitlines() or [""])
    if longest > MAX_LINE_CHARS:
        raise BadInput(
            f"{source} has a line of {longest:,} characters (at most {MAX_LINE_CHARS:,}); "
            "is it really a job description?"
        )
    return text
