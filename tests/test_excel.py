"""`ciocto score` on the files users have: .xlsx workbooks in and out, Parquet in."""

from __future__ import annotations

import builtins
import csv
import io
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from classifier.batch import ScoreOptions, score_table
from classifier.cli import main

CTO = "Lead the engineering team and own the product architecture"
CIO = "Quan ly ha tang mang, may chu va helpdesk cho benh vien"


@pytest.fixture(autouse=True)
def _registry(models_root: Path) -> None:
    """Commands load the model from the test registry (CIOCTO_MODELS)."""


def score(*args: str) -> Result:
    return CliRunner().invoke(main, ["score", *args])


def text_cell(sheet: Any, value: str) -> Any:
    """Return a cell that holds `value` as text even when it starts with '='."""
    from openpyxl.cell.cell import Cell

    cell = Cell(sheet, value=value)
    cell.data_type = "s"
    return cell


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    """A workbook whose first sheet is notes and whose second holds three listings."""
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "Notes"
    notes.append(["exported from the HR system"])
    sheet = book.create_sheet("Listings")
    sheet.append(["id", "title", "body"])
    sheet.append([1, "Head of engineering", CTO])
    sheet.append([None, None, None])  # an empty row is skipped, as a blank CSV line is
    sheet.append([2.0, "IT manager", CIO])
    sheet.append([3, text_cell(sheet, "=1+1"), "Manage the company's servers and helpdesk"])
    path = tmp_path / "listings.xlsx"
    book.save(path)
    return path


def read_xlsx(path: Path) -> list[tuple[Any, ...]]:
    return list(openpyxl.load_workbook(path).worksheets[0].iter_rows(values_only=True))


def test_a_chosen_sheet_is_scored_into_a_workbook(workbook: Path, tmp_path: Path) -> None:
    out = tmp_path / "scored.xlsx"
    result = score(str(workbook), "--sheet", "Listings", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0].startswith(
        f"reading {workbook} as XLSX in sheet 'Listings' (given); listing text from column 'body'"
    )
    rows = read_xlsx(out)
    header = rows[0]
    assert header[:3] == ("id", "title", "body") and header[3:5] == ("leaning", "p_cto")
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]  # numbers as a CSV of the sheet has them
    assert [r[3] for r in rows[1:]] == ["CTO", "CIO", "CIO"]
    assert all(isinstance(rows[1][k], int | float) for k in (4, 5, 6, 7, 8))  # numbers, not text
    sheet = openpyxl.load_workbook(out).worksheets[0]
    assert sheet["B4"].value == "=1+1" and sheet["B4"].data_type == "s"  # text, never run
    assert not list(tmp_path.glob(".*"))  # no partial file or checkpoint left behind


def test_the_first_sheet_by_default_and_a_sheet_by_number(workbook: Path) -> None:
    first = score(str(workbook))
    assert first.exit_code == 1
    assert "columns are: exported from the HR system" in first.output
    second = score(str(workbook), "--sheet", "2", "--text-column", "body")
    assert second.exit_code == 0, second.output
    rows = list(csv.reader(io.StringIO(second.stdout)))  # standard output gets CSV
    assert [r[3] for r in rows[1:]] == ["CTO", "CIO", "CIO"]


def test_a_missing_sheet_names_the_sheets(workbook: Path) -> None:
    result = score(str(workbook), "--sheet", "Jobs")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {workbook} has no sheet 'Jobs'; its sheets are: Notes, Listings "
        "(--sheet takes a name or a number from 1)\n"
    )


def test_parquet_is_read(tmp_path: Path) -> None:
    path = tmp_path / "listings.parquet"
    table = pa.table({"id": [1, 2, None], "body": [CTO, "Quản lý hạ tầng CNTT", None]})
    pq.write_table(table, path)
    out = tmp_path / "scored.csv"
    result = score(str(path), "-o", str(out))
    assert result.exit_code == 3, result.output  # the row without text is an error row
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["leaning"] for r in rows] == ["CTO", "CIO", ""]
    assert rows[2]["error"] == "column 'body' is empty"
    assert "reading" in result.stderr and "as PARQUET" in result.stderr


def test_an_xlsx_written_in_chunks_is_the_same_workbook(workbook: Path, tmp_path: Path) -> None:
    options = ScoreOptions(text_columns=("body",), sheet="Listings")
    whole, chunked = tmp_path / "whole.xlsx", tmp_path / "chunked.xlsx"
    score_table(workbook, whole, options)
    summary = score_table(workbook, chunked, options, chunk_rows=1)
    assert summary.rows == 3 and summary.encoding == "sheet 'Listings'"
    assert read_xlsx(whole) == read_xlsx(chunked)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sheet", "Listings", "-o", "-", "--format", "xlsx"], "cannot go to standard output"),
        (["--sheet", "Listings", "--encoding", "cp1258"], "--encoding is for text files"),
    ],
)
def test_bad_requests_are_one_error_line(workbook: Path, args: list[str], message: str) -> None:
    result = score(str(workbook), *args)
    assert result.exit_code != 0
    assert result.output.startswith("Error: ") and message in result.output
    assert len(result.output.splitlines()) == 1


def test_sheet_is_only_for_workbooks(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(f"id,body\n1,{CTO}\n")
    result = score(str(path), "--sheet", "1")
    assert result.output == "Error: --sheet is for .xlsx workbooks; this input is not one\n"


def test_a_missing_extra_names_the_install_command(
    workbook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_openpyxl(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "openpyxl" or name.startswith("openpyxl."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_openpyxl)
    for args in ([str(workbook)], [str(tmp_path / "x.csv"), "-o", str(tmp_path / "out.xlsx")]):
        (tmp_path / "x.csv").write_text(f"id,body\n1,{CTO}\n")
        result = score(*args)
        assert result.exit_code == 1
        assert result.output == (
            "Error: .xlsx files need openpyxl: pip install 'ciocto[excel]'\n"
        ), result.output
    assert not (tmp_path / "out.xlsx").exists()
