"""Reading a posting from bytes: encodings, binary files and absurd sizes, as clear errors."""

from __future__ import annotations

import codecs
import re

from .errors import BadInput

MAX_POSTING_CHARS = 2_000_000
MAX_LINE_CHARS = 100_000
# control characters other than \t \n \v \f \r (9-13): a count of them flags binary data
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")


def encoding_name(encoding: str) -> str:
    """Return the codec name of a user's --encoding, or raise BadInput listing the usual ones."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise BadInput(
            f"unknown encoding {encoding!r}; try utf-8, utf-8-sig, utf-16, cp1258 or cp1252"
        ) from None


def utf16_without_bom(data: bytes) -> str | None:
    """Return 'utf-16-le' or 'utf-16-be' when the bytes are plainly UTF-16 with no mark, else None.

    Text in UTF-16 has a NUL in every other byte for its ASCII letters (digits, spaces, commas),
    and decodes without error; a binary file rarely does both.
    """
    head = data[:8192]
    half = len(head) // 2
    if half < 8:
        return None
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if odd >= 0.5 * half and even <= 0.02 * half:
        codec = "utf-16-le"
    elif even >= 0.5 * half and odd <= 0.02 * half:
        codec = "utf-16-be"
    else:
        return None
    try:
        text = head[: half * 2].decode(codec)
    except UnicodeDecodeError:
        text = head[: half * 2 - 2].decode(codec, "replace")  # a pair cut at the end
    if "\ufffd" in text[:-1] or len(_CONTROL.findall(text)) > max(3, len(text) // 100):
        return None
    return codec


def where_in(data: bytes, offset: int) -> str:
    """Return 'line L, character C' for a byte offset, as an editor counts them."""
    start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", "replace")) + 1
    return f"line {line}, character {column}"


def decode(data: bytes, source: str = "input", encoding: str | None = None) -> str:
    """Return the text of a posting's bytes: UTF-8 (BOM or not), UTF-16, or `encoding`."""
    if encoding:
        codec = encoding_name(encoding)
        try:
            return data.decode("utf-8-sig" if codec == "utf-8" else codec)
        except UnicodeDecodeError as e:
            raise BadInput(
                f"{source} is not valid {encoding} ({where_in(data, e.start)}); "
                "check the encoding it was saved in"
            ) from e
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise BadInput(f"{source} has a UTF-16 mark but is not valid UTF-16") from e
    utf16 = utf16_without_bom(data)
    if utf16:
        try:
            return data.decode(utf16)
        except UnicodeDecodeError as e:
            raise BadInput(
                f"{source} looks like {utf16.upper()} but is not valid in it; save it as UTF-8"
            ) from e
    if b"\x00" in data[:8192]:
        raise BadInput(
            f"{source} looks like a binary file, not a job description (if it is UTF-16 "
            "without a byte-order mark, pass --encoding utf-16-le)"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInput(
            f"{source} is not valid UTF-8 ({where_in(data, e.start)}); "
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
