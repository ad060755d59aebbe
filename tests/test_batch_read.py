"""Reading tables (classifier.tableio): formats, encodings, gzip, and each unreadable input."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import unicodedata

import pytest

from classifier.errors import BadInput
from classifier.tableio import detect_encoding, open_table

VI = "Quản lý hạ tầng CNTT, máy chủ và mạng nội bộ của bệnh viện; đảm bảo hệ thống ổn định"
EN = 'Own the product "platform" architecture, CI/CD and the engineering team'


def cp1258(text: str) -> bytes:
    """Encode as Windows-1258 does: a precomposed base letter followed by a tone mark."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = []
    for ch in text:
        try:
            ch.encode("cp1258")
            out.append(ch)
        except UnicodeEncodeError:
            d = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in d if c not in tones))
            out.append(base + "".join(c for c in d if c in tones))
    return "".join(out).encode("cp1258")


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter).writerows(rows)
    return buf.getvalue()


def read(data: bytes, **kw: object) -> tuple[object, list[list[object]], list[str | None]]:
    with open_table(io.BytesIO(data), **kw) as t:  # type: ignore[arg-type]
        rows = list(t.rows())
        return t, [r.cells for r in rows], [r.error for r in rows]


ROWS = [["id", "title", "description"], ["1", "IT lead", f"{VI}\n- {EN}"], ["2", "CTO", EN]]


@pytest.mark.parametrize(
    ("data", "encoding", "how"),
    [
        (csv_text(ROWS).encode("utf-8"), "utf-8", "detected"),
        (codecs.BOM_UTF8 + csv_text(ROWS).encode("utf-8"), "utf-8-sig", "byte-order mark"),
        (csv_text(ROWS, "\t").encode("utf-16"), "utf-16", "byte-order mark"),
        (cp1258(csv_text(ROWS)), "cp1258", "detected"),
    ],
    ids=["utf-8", "excel-utf-8-bom", "utf-16-tab", "cp1258"],
)
def test_encodings_read_to_the_same_cells(data: bytes, encoding: str, how: str) -> None:
    table, cells, errors = read(data)
    assert (table.encoding, table.encoding_how) == (encoding, how)  # type: ignore[attr-defined]
    assert table.columns == ["id", "title", "description"]  # type: ignore[attr-defined]
    assert [[unicodedata.normalize("NFC", str(c)) for c in row] for row in cells] == ROWS[1:]
    assert errors == [None, None]


def test_cp1252_western_file_is_not_taken_for_vietnamese() -> None:
    rows = [["id", "description"], ["1", "Gestão de sistemas de informação, não é fácil"]]
    table, cells, _ = read(csv_text(rows).encode("cp1252"))
    assert table.encoding == "cp1252"  # type: ignore[attr-defined]
    assert cells == rows[1:]


def test_given_encoding_wins_and_a_wrong_one_is_refused() -> None:
    table, cells, _ = read(cp1258(csv_text(ROWS)), encoding="cp1258")
    assert table.encoding_how == "given"  # type: ignore[attr-defined]
    with pytest.raises(BadInput, match="unknown encoding 'klingon'"):
        read(b"a,b\n1,2\n", encoding="klingon")


def test_detect_encoding_of_plain_ascii_is_utf8() -> None:
    assert detect_encoding(b"id,text\n1,hello\n") == ("utf-8", "detected")


def test_delimiter_sniffed_and_quoted_multiline_fields_kept() -> None:
    data = 'id;text;note\n1;"line one\nline two; still text";"a ""quote"""\n2;x;y\n'
    table, cells, _ = read(data.encode())
    assert table.delimiter == ";"  # type: ignore[attr-defined]
    assert cells == [["1", "line one\nline two; still text", 'a "quote"'], ["2", "x", "y"]]


def test_tsv_and_gzip_by_content_not_name() -> None:
    data = gzip.compress(csv_text(ROWS, "\t").encode())
    table, cells, _ = read(data, fmt="tsv")
    assert table.format == "tsv" and cells == ROWS[1:]  # type: ignore[attr-defined]


def test_jsonl_rows_keep_their_record_and_bad_lines_are_row_errors() -> None:
    lines = [
        json.dumps({"id": 1, "text": EN, "tags": ["a"]}),
        "",
        "{not json",
        "[1, 2]",
        json.dumps({"id": 2, "extra": True}),
    ]
    with open_table(io.BytesIO("\n".join(lines).encode())) as t:
        rows = list(t.rows())
    assert t.format == "jsonl"
    assert t.columns == ["id", "text", "tags", "extra"]
    assert rows[0].record == {"id": 1, "text": EN, "tags": ["a"]}
    assert rows[0].cells == [1, EN, ["a"], None]
    assert [r.line for r in rows] == [1, 3, 4, 5]
    assert rows[1].error is not None and "not valid JSON" in rows[1].error
    assert rows[2].error is not None and "not a JSON object" in rows[2].error
    assert rows[3].error is None


MANY = ROWS + [[str(i), "x", VI] for i in range(3, 6)]


def test_row_in_another_encoding_is_a_row_error_not_mojibake() -> None:
    data = csv_text(MANY).encode() + b"9,x," + cp1258(VI) + b"\n"
    table, cells, errors = read(data)
    assert table.encoding == "utf-8"  # type: ignore[attr-defined]
    assert errors[:-1] == [None] * (len(MANY) - 1)
    assert errors[-1] is not None and "not UTF-8" in errors[-1]
    assert "\ufffd" in str(cells[-1][2])  # the bad bytes are marked, not passed on as text


def test_utf8_row_inside_a_cp1258_file_is_a_row_error() -> None:
    data = cp1258(csv_text(MANY)) + ("9,x," + VI + "\n").encode("utf-8")
    table, _, errors = read(data)
    assert table.encoding == "cp1258"  # type: ignore[attr-defined]
    assert errors[:-1] == [None] * (len(MANY) - 1)
    assert errors[-1] is not None and "mixed encodings" in errors[-1]


def test_short_and_long_rows() -> None:
    _, cells, errors = read(b"a,b,c\n1,2\n1,2,3,4\n")
    assert cells == [["1", "2", ""], ["1", "2", "3"]]
    assert errors[0] is None
    assert errors[1] is not None and "4 fields but the header has 3" in errors[1]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty; it needs a header row"),
        (b"\n\n  \n", "is empty; it needs a header row"),
        (b"\x00\x01\x02\x03binary\x00" * 10, "looks like a binary file"),
        (b"PK\x03\x04" + b"\x00" * 40, "spreadsheet workbook"),
        (gzip.compress(b"id,text\n" + bytes(range(256)) * 400)[:-64], "damaged or truncated gzip"),
        (b'id,text\n1,"never closed\n2,more\n3,rows\n', "a quote opened in row 1 (line 2)"),
        (b'[{"id": 1}]', "JSON array"),
        (("x" * 300 + ",b\n1,2\n").encode(), "looks like data, not a header"),
    ],
    ids=[
        "empty",
        "blank",
        "binary",
        "xlsx",
        "broken-gzip",
        "open-quote",
        "json-array",
        "no-header",
    ],
)
def test_unreadable_inputs_say_why(data: bytes, message: str) -> None:
    fmt = "jsonl" if data.startswith(b"[") else None
    with pytest.raises(BadInput, match=re.escape(message)), open_table(io.BytesIO(data), fmt) as t:
        list(t.rows())


def test_missing_file_and_directory(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    with pytest.raises(BadInput, match="nope.csv: no such file"):
        open_table(root / "nope.csv")
    with pytest.raises(BadInput, match="is a directory"):
        open_table(root)


def test_rows_stream_lazily() -> None:
    """Reading the first rows of a big gzip file does not decompress the rest."""
    body = "".join(f"{i},{EN}\n" for i in range(200_000)).encode()
    raw = io.BytesIO(gzip.compress(b"id,text\n" + body))
    with open_table(raw) as t:
        rows = t.rows()
        assert next(rows).cells[0] == "0"
        assert raw.tell() < len(raw.getvalue()) // 2
