"""`ciocto score` as a user runs it: notes and summary on stderr, exit status, every bad input."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from classifier import classify, load_model
from classifier.cli import main
from classifier.cli_score import StderrObserver

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "examples"
BATCH_PAGE = Path(__file__).resolve().parent.parent / "docs" / "batch.md"


@pytest.fixture(autouse=True)
def _registry(models_root: Path) -> None:
    """CLI commands load the model from the test registry (CIOCTO_MODELS)."""


def postings() -> list[tuple[str, str]]:
    return [(p.stem, p.read_text("utf-8")) for p in sorted(EXAMPLES.glob("*.txt"))]


def csv_bytes(rows: list[list[str]], header: tuple[str, ...] = ("job_id", "body")) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


@pytest.fixture
def listings(tmp_path: Path) -> Path:
    path = tmp_path / "listings.csv"
    path.write_bytes(csv_bytes([[name, text] for name, text in postings()]))
    return path


def score(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["score", *args], input=input)


def test_score_a_file(listings: Path, tmp_path: Path) -> None:
    out = tmp_path / "scored.csv"
    result = score(str(listings), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    notes = result.stderr.splitlines()
    assert notes[0] == (
        f"reading {listings} as CSV in UTF-8 (detected); listing text from column 'body' "
        "(guessed by its name; pass --text-column to choose)"
    )
    assert re.fullmatch(
        rf"Scored {len(postings())} rows \([\d,]+ lines\) in \d+\.\d s \([\d,]+ rows/s\): "
        rf"\d+ CTO, \d+ CIO, \d+ neutral; 0 with errors -> {re.escape(str(out))}",
        notes[-1],
    )
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    model = load_model()
    assert [r["leaning"] for r in rows] == [classify(t, model).leaning for _, t in postings()]


def test_row_errors_give_exit_status_3(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(csv_bytes([["1", postings()[0][1]], ["2", ""], ["3", "\x00\x01" * 40]]))
    result = score(str(src), "-o", str(tmp_path / "o.csv"), "--text-column", "body")
    assert result.exit_code == 3, result.output
    assert "; 2 with errors ->" in result.stderr
    errors = [r["error"] for r in csv.DictReader((tmp_path / "o.csv").open(newline=""))]
    assert errors == [
        "",
        "column 'body' is empty",
        "column 'body' looks like binary data, not a job description",
    ]


def test_jsonl_from_stdin_to_stdout() -> None:
    lines = [json.dumps({"text": t, "ref": n}, ensure_ascii=False) for n, t in postings()[:3]]
    result = score("-", "-o", "-", "--format", "jsonl", "--text-column", "text", "-q",
                   input="\n".join(lines).encode())  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    got = [json.loads(line) for line in result.stdout.splitlines()]
    model = load_model()
    assert [g["ref"] for g in got] == [n for n, _ in postings()[:3]]
    assert [g["leaning"] for g in got] == [classify(t, model).leaning for _, t in postings()[:3]]


def test_excel_csv_from_stdin_to_stdout_keeps_csv() -> None:
    data = codecs.BOM_UTF8 + csv_bytes([[n, t] for n, t in postings()[:2]])
    result = score("-", input=data)
    assert result.exit_code == 0, result.output
    assert "in UTF-8 with BOM (byte-order mark)" in result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:3] == ["job_id", "body", "leaning"]
    assert len(rows) == 3


def test_lines_out_and_bom(listings: Path, tmp_path: Path) -> None:
    out, lines = tmp_path / "s.csv", tmp_path / "lines.tsv"
    result = score(str(listings), "-o", str(out), "--lines-out", str(lines), "--id-column",
                   "job_id", "--bom", "-j", "2")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(lines.open(encoding="utf-8-sig", newline=""), delimiter="\t"))
    assert rows[0] == ["id", "n", "text", "tag", "p_cto", "p_cio", "evidence"]
    assert {r[0] for r in rows[1:]} == {n for n, _ in postings()}


def test_a_50mb_field_is_a_row_error(tmp_path: Path) -> None:
    src = tmp_path / "big.csv"
    with open(src, "wb") as f:
        f.write(b"id,body\n1,")
        f.write(b'"' + b"word " * 10_000_000 + b'"\n')
        f.write(b'2,"Lead the engineering team, code reviews and CI/CD"\n')
    result = score(str(src), "-o", str(tmp_path / "o.jsonl"), "-q")
    assert result.exit_code == 3, result.output
    with open(tmp_path / "o.jsonl", encoding="utf-8") as f:
        first, second = (json.loads(line) for line in f)
    assert first["error"] == (
        "column 'body' has 50,000,000 characters, more than a listing has (at most 2,000,000)"
    )
    assert second["error"] is None and second["leaning"] == "CTO"


def test_missing_dask_says_how_to_install(
    listings: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    result = score(str(listings), "-o", str(tmp_path / "o.csv"), "--engine", "dask")
    assert result.exit_code == 1
    assert (
        result.stderr.splitlines()[-1]
        == "Error: --engine dask needs Dask: pip install 'ciocto[dask]'"
    )
    assert list(tmp_path.iterdir()) == [listings]


def test_ctrl_c_keeps_the_checkpoint_and_says_resume(
    listings: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import classifier.batch as batch

    real = batch.score_texts
    calls = {"n": 0}

    def interrupt_second(*args: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(batch, "score_texts", interrupt_second)
    monkeypatch.setattr(batch, "CHECKPOINT_SECONDS", 0.0)
    out = tmp_path / "o.csv"
    result = score(str(listings), "-o", str(out), "-j", "1", "--chunk-rows", "3")
    assert result.exit_code == 130
    assert "Stopped; run the same command with --resume to continue." in result.stderr
    assert not out.exists()
    monkeypatch.setattr(batch, "score_texts", real)
    result = score(str(listings), "-o", str(out), "-j", "1", "--chunk-rows", "3", "--resume")
    assert result.exit_code == 0, result.output
    assert "resuming after row 3 from the checkpoint" in result.stderr


def _bad(tmp_path: Path) -> list[tuple[list[str], bytes | None, str]]:
    ok = csv_bytes([["1", "Lead the engineering team"]])
    cases: list[tuple[list[str], bytes | None, str]] = [
        (["nope.csv"], None, "Error: nope.csv: no such file"),
        (["."], None, "Error: . is a directory; give a CSV, TSV or JSON Lines file"),
        (["in.csv"], b"", "Error: in.csv is empty; it needs a header row naming the columns"),
        (["in.csv"], b"job_id,body\n", "Error: in.csv has a header but no rows; nothing to score"),
        (["in.csv"], b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20,
         "Error: in.csv looks like a binary file, not a table (if it is UTF-16 without a "
         "byte-order mark, pass --encoding utf-16-le)"),
        (["in.csv.gz"], gzip.compress(ok * 50)[:30],
         "Error: in.csv.gz is a damaged or truncated gzip file (Compressed file ended before "
         "the end-of-stream marker was reached); compress it again or pass the uncompressed file"),
        (["in.csv", "--text-column", "desc"], ok,
         "Error: column 'desc' not found; columns are: job_id, body — pass --text-column"),
        (["in.csv"], b'job_id,body\n1,"Lead the team\n2,more\n',
         "Error: in.csv: a quote opened in row 1 (line 2) is never closed, so the rest of the "
         "file became one field; fix the quote and run again"),
        (["in.xlsx"], b"PK\x03\x04" + b"\x00" * 64,
         "Error: in.xlsx is not a readable .xlsx workbook (BadZipFile: File is not a zip file); "
         "open it in Excel and save it again, or save it as CSV UTF-8"),
        (["in.xls"], b"\xd0\xcf\x11\xe0" + b"\x00" * 64,
         "Error: in.xls is an old Excel workbook (.xls), not a CSV; in Excel use File > Save As "
         "> 'Excel Workbook (.xlsx)' or 'CSV UTF-8', then score that file"),
        (["in.csv", "--format", "parquet"], ok,
         "Error: Parquet cannot go to standard output; give -o FILE.parquet"),
        (["in.csv", "--format", "jsonl", "--bom"], ok,
         "Error: --bom is for CSV output (Excel); it does not apply to this format"),
        (["in.csv", "-o", "out.csv.gz"], ok,
         "Error: out.csv.gz: compressed output is not supported; write to -o - and pipe it "
         "through gzip instead"),
        (["in.csv", "-o", "in.csv"], ok,
         "Error: -o in.csv is the input file; write to another file"),
        (["in.csv", "-o", "no/such/dir/o.csv"], ok,
         "Error: cannot write no/such/dir/o.csv: there is no folder 'no/such/dir'"),
        (["in.csv", "--scheduler", "tcp://127.0.0.1:8786"], ok,
         "Error: --scheduler is for --engine dask"),
        (["in.csv", "--encoding", "klingon"], ok,
         "Error: unknown encoding 'klingon'; try utf-8, utf-8-sig, utf-16, cp1258 or cp1252"),
    ]  # fmt: skip
    return cases


@pytest.mark.parametrize("case", range(16))
def test_bad_input_is_one_error_line_and_no_output(
    case: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, content, message = _bad(tmp_path)[case]
    monkeypatch.chdir(tmp_path)
    if content is not None:
        Path(args[0]).write_bytes(content)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = score(*args)
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[-1] == message
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_progress_line_only_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    quiet = StderrObserver(quiet=False, bar=False)
    quiet.progress(0, None)
    quiet.progress(100, 0.5)
    assert capsys.readouterr().err == ""
    bar = StderrObserver(quiet=False, bar=True)
    bar.progress(0, 0.0)
    bar.started -= 2.0  # two seconds later ...
    bar.progress(1000, 0.25)
    err = capsys.readouterr().err
    assert err.startswith("\r1,000 rows  ") and "rows/s   25%  ETA 0:06" in err


def test_the_batch_page_uses_real_options() -> None:
    """Every --option on the batch page (docs/batch.md) exists in `ciocto score --help`."""
    section = BATCH_PAGE.read_text("utf-8")
    used = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", section))
    assert len(used) > 5
    help_text = CliRunner().invoke(main, ["score", "--help"]).output
    assert sorted(o for o in used if o not in help_text) == []


def test_missing_pyarrow_says_how_to_install(
    listings: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    result = score(str(listings), "-o", str(tmp_path / "o.parquet"))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: Parquet output needs pyarrow: pip install 'ciocto[parquet]'"
    )
    assert list(tmp_path.iterdir()) == [listings]
