"""Label files: CSV or JSON Lines, every problem named by file, row and what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier import DataError, read_labels
from classifier.cli import main


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_labels_are_read_with_aliases_and_languages(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "lines.csv",
        "text,label,lang\n"
        "Run the service desk,cio,en\n"
        "Own the product architecture,CTO-like,en\n"
        "Lương thưởng hấp dẫn,-,vi\n"
        "Free snacks,None,\n",
    )
    f = read_labels(path)
    assert [(r.label, r.lang) for r in f.rows] == [
        ("CIO", "en"),
        ("CTO", "en"),
        ("neutral", "vi"),
        ("neutral", ""),
    ]
    assert f.kind == "line" and len(f.sha256) == 64
    assert [r.where for r in f.rows][0] == f"{path}:2"


def test_json_lines_use_the_same_columns(tmp_path: Path) -> None:
    rows = [{"description": "Lead the engineers", "role": "CTO"}, {"description": "x", "role": 5}]
    path = write(tmp_path, "p.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(DataError, match=r"p.jsonl:2: unknown label '5'"):
        read_labels(path, text_column="description", label_column="role")
    path.write_text(json.dumps(rows[0]) + "\n\n")
    f = read_labels(path, posting=True, text_column="description", label_column="role")
    assert f.kind == "posting" and f.rows[0].text == "Lead the engineers"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text,label\nRun the helpdesk,boss\n", r"bad.csv:2: unknown label 'boss'; use CIO, CTO"),
        ("text,label\n   ,CIO\n", r"bad.csv:2: empty text"),
        ("text,label\nRun the helpdesk,\n", r"bad.csv:2: no label; fill in"),
        (
            "id,body,label\n1,Run the helpdesk,CIO\n",
            r"column 'text' not found; columns are: id, body, label — pass --text-column",
        ),
        ("text,role\nRun the helpdesk,CIO\n", r"column 'label' not found.*--label-column"),
        ("text,label\n", r"bad.csv holds no labelled rows"),
        ('text,label\n"Line one\nline two",CIO\nBad,boss\n', r"bad.csv:4: unknown label"),
    ],
)
def test_each_problem_names_file_row_and_fix(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_labels(write(tmp_path, "bad.csv", content))


def test_unreadable_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope.csv: no such file"):
        read_labels(tmp_path / "nope.csv")
    # a whole file in a legacy encoding is read as `score` reads it (issue 13, item 8) ...
    legacy = tmp_path / "latin1.csv"
    legacy.write_bytes("text,label\nGérer le réseau,CIO\n".encode("latin-1"))
    assert [r.text for r in read_labels(legacy).rows] == ["Gérer le réseau"]
    # ... but one row in another encoding inside a UTF-8 file is named, by file and line
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(
        "text,label\nQuản lý hạ tầng,CIO\n".encode() + "Gérer le réseau,CIO\n".encode("latin-1")
    )
    with pytest.raises(DataError, match=r"mixed.csv:3: row has bytes that are not UTF-8"):
        read_labels(mixed)
    with pytest.raises(DataError, match=r"j.jsonl:2: not a JSON object"):
        read_labels(write(tmp_path, "j.jsonl", '{"text": "Run IT", "label": "CIO"}\n[1, 2]\n'))
    with pytest.raises(DataError, match=r"a.jsonl is a JSON array; ciocto reads JSON Lines"):
        read_labels(write(tmp_path, "a.jsonl", "[1, 2]\n"))
    with pytest.raises(DataError, match="is a directory"):
        read_labels(tmp_path)


def test_exact_duplicates_are_dropped_and_counted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dup.csv",
        "text,label\nRun the helpdesk,CIO\nrun  the HELPDESK,cio\nShip features,CTO\n",
    )
    f = read_labels(path)
    assert [r.text for r in f.rows] == ["Run the helpdesk", "Ship features"]
    assert f.duplicates == 1 and f.conflicts == 0


def test_conflicting_labels_list_the_rows_or_are_dropped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "clash.csv",
        "text,label\nManage the ERP,CIO\nShip features,CTO\nmanage the erp,CTO\nHello,neutral\n",
    )
    with pytest.raises(DataError) as e:
        read_labels(path)
    assert "1 text(s) have two different labels" in str(e.value)
    assert "'Manage the ERP' (row 2 CIO, row 4 CTO)" in str(e.value)
    assert "--drop-conflicts" in str(e.value)
    f = read_labels(path, drop_conflicts=True)
    assert [r.text for r in f.rows] == ["Ship features", "Hello"] and f.conflicts == 2


def test_the_cli_shows_one_error_line_naming_file_and_row(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv", "text,label\nRun the helpdesk,CIO\nShip it,maybe\n")
    result = CliRunner().invoke(main, ["train", "--labels", str(path), "--folds", "0"])
    assert result.exit_code == 1
    assert (
        result.output == f"Error: {path}:3: unknown label 'maybe'; use CIO, CTO or neutral "
        "(also accepted: cio, cto, CIO-like, CTO-like, none, -)\n"
    )
