"""Batch scoring (classifier.batch): same numbers as classify, every row kept, every format."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest

from classifier import BadInput, Model, classify
from classifier.batch import (
    RESULT_COLUMNS,
    ScoreOptions,
    ScoreSummary,
    score_table,
    score_texts,
)
from classifier.engines import Engine, in_order

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "examples"
HEADER = ["job_id", "title", "description", "salary"]


def listings() -> list[list[str]]:
    """Rows built from the example postings, plus the awkward ones a real export has."""
    rows = []
    for i, path in enumerate(sorted(EXAMPLES.glob("*.txt"))):
        rows.append([f"J{i}", path.stem.replace("_", " "), path.read_text("utf-8"), f"{i},000 $"])
    rows.append(["J90", "empty", "", "0"])
    rows.append(["J91", "=1+2", "Lead the engineering team, code reviews and CI/CD.", "-5"])
    rows.append(["J92", "@SUM(A1)", "   \n\t  ", "+84 90 123"])
    return rows


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER, **kw: str) -> Path:
    with open(path, "w", newline="", encoding=kw.pop("encoding", "utf-8")) as f:
        writer = csv.writer(f, **kw)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def score(src: Path, out: Path, model: Model, **kw: object) -> ScoreSummary:
    options = ScoreOptions(**kw.pop("options", {}))  # type: ignore[arg-type]
    return score_table(src, out, options, model=model, **kw)  # type: ignore[arg-type]


@pytest.fixture
def listings_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "listings.csv", listings())


def test_every_row_in_order_with_its_columns_untouched(
    listings_csv: Path, tmp_path: Path, model: Model
) -> None:
    out = tmp_path / "scored.csv"
    summary = score(listings_csv, out, model, options={"escape_formulas": False}, chunk_rows=3)
    header, rows = read_csv(out)
    assert header == HEADER + list(RESULT_COLUMNS)
    assert [r[:4] for r in rows] == listings()
    assert summary.rows == len(rows) == len(listings())
    assert summary.text_columns == ("description",)


def test_same_numbers_as_classify(listings_csv: Path, tmp_path: Path, model: Model) -> None:
    out = tmp_path / "scored.csv"
    score(listings_csv, out, model, chunk_rows=4)
    _, rows = read_csv(out)
    for source, row in zip(listings(), rows, strict=True):
        got = dict(zip(RESULT_COLUMNS, row[4:], strict=True))
        if not source[2].strip():
            assert got["leaning"] == "" and got["error"] == "column 'description' is empty"
            continue
        want = classify(source[2], model).to_dict()
        assert got["error"] == ""
        assert got["leaning"] == want["leaning"]
        assert float(got["p_cto"]) == want["p_cto"]
        assert float(got["confidence"]) == want["confidence"]
        counts = [int(got[f"{k.lower()}_lines"]) for k in ("CIO", "CTO", "neutral")]
        assert counts == [want["counts"][k] for k in ("CIO", "CTO", "neutral")]
        assert got["top_cio_line"] == (want["strongest_text"]["CIO"] or "")
        assert got["top_cto_line"] == (want["strongest_text"]["CTO"] or "")
        assert got["model"] == model.name


def test_score_texts_matches_classify_and_keeps_bad_texts(model: Model) -> None:
    texts = [EXAMPLES.joinpath("en_cto_saas.txt").read_text("utf-8"), "", None, "<p> </p>"]
    results = score_texts(texts, model, evidence=3, lines=True, what="the text")
    want = classify(texts[0] or "", model, evidence=3).to_dict()
    assert (results[0].leaning, results[0].p_cto) == (want["leaning"], want["p_cto"])
    assert [list(line) for line in results[0].lines] == [
        [t["n"], t["text"], t["tag"], t["p_cto"], t["p_cio"], t["evidence"]] for t in want["lines"]
    ]
    assert results[1].error == "the text is empty"
    assert results[2].error is None and results[2].leaning is None  # skipped: failed to read
    assert results[3].error is not None and "no text to classify" in results[3].error


def test_several_text_columns_are_joined_line_by_line(
    listings_csv: Path, tmp_path: Path, model: Model
) -> None:
    out = tmp_path / "scored.jsonl"
    score(listings_csv, out, model, options={"text_columns": ("title", "description")})
    first = json.loads(out.read_text("utf-8").splitlines()[0])
    want = classify(first["title"] + "\n" + first["description"], model).to_dict()
    assert (first["leaning"], first["p_cto"]) == (want["leaning"], want["p_cto"])


def test_row_errors_are_kept_and_counted(listings_csv: Path, tmp_path: Path, model: Model) -> None:
    summary = score(listings_csv, tmp_path / "s.csv", model)
    assert summary.errors == 2
    assert summary.rows - summary.errors == sum(summary.leanings.values())
    _, rows = read_csv(tmp_path / "s.csv")
    errors = [r[-1] for r in rows]
    assert errors[-3] == "column 'description' is empty"
    assert errors[-1] == "column 'description' is empty"


def test_formula_cells_are_guarded_in_csv_only(
    listings_csv: Path, tmp_path: Path, model: Model
) -> None:
    score(listings_csv, tmp_path / "s.csv", model)
    _, rows = read_csv(tmp_path / "s.csv")
    assert [r[1] for r in rows[-2:]] == ["'=1+2", "'@SUM(A1)"]
    assert [r[3] for r in rows[-3:]] == ["0", "-5", "'+84 90 123"]  # numbers stay numbers
    score(listings_csv, tmp_path / "s.jsonl", model)
    last = json.loads(Path(tmp_path / "s.jsonl").read_text("utf-8").splitlines()[-1])
    assert last["title"] == "@SUM(A1)"


def test_bom_for_excel(listings_csv: Path, tmp_path: Path, model: Model) -> None:
    score(listings_csv, tmp_path / "s.csv", model, options={"bom": True})
    assert (tmp_path / "s.csv").read_bytes().startswith(b"\xef\xbb\xbfjob_id,")
    score(listings_csv, tmp_path / "plain.csv", model)
    assert (tmp_path / "plain.csv").read_bytes().startswith(b"job_id,")


def test_lines_out_has_one_row_per_line(listings_csv: Path, tmp_path: Path, model: Model) -> None:
    out, lines = tmp_path / "s.csv", tmp_path / "lines.csv"
    summary = score(
        listings_csv, out, model, lines_out=lines, options={"id_column": "job_id"}, chunk_rows=2
    )
    header, rows = read_csv(lines)
    assert header == ["id", "n", "text", "tag", "p_cto", "p_cio", "evidence"]
    assert len(rows) == summary.lines
    want = classify(listings()[0][2], model).to_dict()["lines"]
    first = [r for r in rows if r[0] == "J0"]
    assert [(int(r[1]), r[2], r[3], float(r[4])) for r in first] == [
        (t["n"], t["text"], t["tag"], t["p_cto"]) for t in want
    ]
    assert [json.loads(r[6]) for r in first] == [t["evidence"] for t in want]
    assert {r[0] for r in rows} == {r[0] for r in listings() if r[2].strip()}


def test_lines_out_ids_default_to_row_numbers(
    listings_csv: Path, tmp_path: Path, model: Model
) -> None:
    lines = tmp_path / "lines.jsonl"
    score(listings_csv, tmp_path / "s.csv", model, lines_out=lines)
    ids = {json.loads(line)["id"] for line in lines.read_text("utf-8").splitlines()}
    assert ids == {i + 1 for i, r in enumerate(listings()) if r[2].strip()}


def test_tsv_gzip_in_jsonl_out(tmp_path: Path, model: Model) -> None:
    buf = io.StringIO()
    csv.writer(buf, delimiter="\t").writerows([HEADER, *listings()])
    src = tmp_path / "listings.tsv.gz"
    src.write_bytes(gzip.compress(buf.getvalue().encode()))
    out = tmp_path / "s.jsonl"
    score(src, out, model)
    records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [[r[c] for c in HEADER] for r in records] == listings()
    assert records[0]["leaning"] == classify(listings()[0][2], model).leaning


def test_jsonl_in_keeps_every_key_and_type(tmp_path: Path, model: Model) -> None:
    src = tmp_path / "in.jsonl"
    objs = [
        {"id": i, "body": r[2], "meta": {"src": "board"}, "remote": i % 2 == 0}
        for i, r in enumerate(listings())
    ]
    src.write_text("\n".join(json.dumps(o, ensure_ascii=False) for o in objs) + "\n", "utf-8")
    out = tmp_path / "out.jsonl"
    score(src, out, model)
    got = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [{k: g[k] for k in o} for o, g in zip(objs, got, strict=True)] == objs
    assert got[0]["p_cto"] == classify(objs[0]["body"], model).to_dict()["p_cto"]  # type: ignore[arg-type]
    assert got[-1]["p_cto"] is None and got[-1]["error"] == "column 'body' is empty"


def test_parquet_output(listings_csv: Path, tmp_path: Path, model: Model) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "s.parquet"
    score(listings_csv, out, model, chunk_rows=4, lines_out=tmp_path / "lines.parquet")
    table = pq.read_table(out).to_pylist()
    assert [[r[c] for c in HEADER] for r in table] == listings()
    want = classify(listings()[0][2], model).to_dict()
    assert (table[0]["leaning"], table[0]["p_cto"], table[0]["cto_lines"]) == (
        want["leaning"], want["p_cto"], want["counts"]["CTO"],
    )  # fmt: skip
    assert table[-1]["p_cto"] is None
    lines = pq.read_table(tmp_path / "lines.parquet")
    assert lines.num_rows == sum(
        len(r[2].strip() and classify(r[2], model).lines or []) for r in listings()
    )
    assert not list(tmp_path.glob(".*"))  # no partial files or part folders left


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1258"])
def test_encodings_give_the_same_scores(tmp_path: Path, model: Model, encoding: str) -> None:
    import unicodedata

    rows = [r for r in listings() if r[0] in {"J5", "J6", "J7", "J91"}]  # Vietnamese and English
    if encoding == "cp1258":
        from test_batch_read import cp1258

        buf = io.StringIO()
        csv.writer(buf).writerows([HEADER, *rows])
        src = tmp_path / "in.csv"
        src.write_bytes(cp1258(buf.getvalue()))
    else:
        src = write_csv(tmp_path / "in.csv", rows, encoding=encoding)
    reference = write_csv(tmp_path / "ref.csv", rows)
    got = score(src, tmp_path / "got.csv", model)
    score(reference, tmp_path / "want.csv", model)
    assert got.encoding == {"utf-8-sig": "UTF-8 with BOM", "utf-16": "UTF-16"}.get(
        encoding, encoding
    )
    nfc = [[unicodedata.normalize("NFC", c) for c in r] for r in read_csv(tmp_path / "got.csv")[1]]
    assert nfc == read_csv(tmp_path / "want.csv")[1]


def test_text_column_guessed_by_length_when_names_say_nothing(tmp_path: Path, model: Model) -> None:
    rows = [[f"{i}", "Engineer", r[2]] for i, r in enumerate(listings()[:5])]
    src = write_csv(tmp_path / "in.csv", rows, header=["ref", "role", "blob"])
    summary = score(src, tmp_path / "s.csv", model)
    assert summary.text_columns == ("blob",)
    assert any("guessed as the one with the longest text" in n for n in summary.notes)


def test_text_column_that_cannot_be_guessed(tmp_path: Path, model: Model) -> None:
    src = write_csv(tmp_path / "in.csv", [["1", "a", "b"]], header=["id", "x", "y"])
    with pytest.raises(BadInput) as e:
        score(src, tmp_path / "s.csv", model)
    assert str(e.value) == (
        "cannot tell which column holds the listing text; columns are: id, x, y "
        "— pass --text-column"
    )


def test_wrong_column_names_list_the_columns(
    listings_csv: Path, tmp_path: Path, model: Model
) -> None:
    with pytest.raises(BadInput) as e:
        score(listings_csv, tmp_path / "s.csv", model, options={"text_columns": ("desc",)})
    assert str(e.value) == (
        "column 'desc' not found; columns are: job_id, title, description, salary "
        "— pass --text-column"
    )
    with pytest.raises(BadInput, match="pass --id-column"):
        score(listings_csv, tmp_path / "s.csv", model, options={"id_column": "nope"})
    summary = score(
        listings_csv, tmp_path / "s.csv", model, options={"text_columns": ("Description ",)}
    )
    assert summary.text_columns == ("description",)  # case and spaces forgiven when unambiguous
    assert not (tmp_path / ".s.csv.ciocto-part").exists()


def test_already_scored_input_needs_a_prefix(
    listings_csv: Path, tmp_path: Path, model: Model
) -> None:
    once = tmp_path / "once.csv"
    score(listings_csv, once, model)
    with pytest.raises(BadInput, match="already has column"):
        score(once, tmp_path / "twice.csv", model, options={"text_columns": ("description",)})
    score(
        once, tmp_path / "twice.csv", model,
        options={"text_columns": ("description",), "prefix": "new_"},
    )  # fmt: skip
    header, rows = read_csv(tmp_path / "twice.csv")
    assert header[-2:] == ["new_model", "new_error"]
    assert [r[4:14] for r in rows] == [r[4:14] for r in read_csv(once)[1]]


def test_pool_gives_the_same_bytes_as_one_process(
    listings_csv: Path, tmp_path: Path, model: Model
) -> None:
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    score(listings_csv, one, model, jobs=1, chunk_rows=2, lines_out=tmp_path / "l1.csv")
    score(listings_csv, two, model, jobs=2, chunk_rows=2, lines_out=tmp_path / "l2.csv")
    assert one.read_bytes() == two.read_bytes()
    assert (tmp_path / "l1.csv").read_bytes() == (tmp_path / "l2.csv").read_bytes()


def test_in_order_keeps_a_bounded_window() -> None:
    """However long the input, only about two chunks per worker are read ahead."""

    class Recorder(Engine):
        workers = 3

        def __init__(self) -> None:
            self.submitted = 0

        def submit(self, texts: list[object]) -> object:
            self.submitted += 1
            from concurrent.futures import Future

            f: Future[list[object]] = Future()
            f.set_result(texts)
            return f

    engine = Recorder()
    chunks = ([i] for i in range(1000))
    for n, (chunk, result) in enumerate(in_order(engine, chunks, lambda c: c)):
        assert chunk == result == [n]
        assert engine.submitted - n <= 2 * engine.workers


def test_a_notebook_stdout_without_a_byte_buffer(
    listings_csv: Path, tmp_path: Path, model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook's sys.stdout is text only: scoring to a file or to '-' still works."""
    captured = io.StringIO()
    monkeypatch.setattr("sys.stdout", captured)
    assert score(listings_csv, tmp_path / "out.csv", model).rows == 12
    score_table(listings_csv, "-", model=model, jobs=1)
    assert captured.getvalue().startswith("job_id,title,description,salary,leaning,p_cto,")
