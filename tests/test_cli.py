"""`ciocto classify` and `ciocto evaluate` as a user runs them, including every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "examples"


def cp1258(text: str) -> bytes:
    """Encode Vietnamese as Windows-1258 does: a precomposed base letter plus a tone mark."""
    out = []
    for ch in text:
        try:
            out.append(ch.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", ch)
        for mark in marks:
            composed = unicodedata.normalize("NFC", base + mark)
            rest = [m for m in marks if m != mark]
            try:
                out.append((composed + "".join(rest)).encode("cp1258"))
                break
            except UnicodeEncodeError:
                continue
        else:
            out.append((base + "".join(marks)).encode("cp1258"))
    return b"".join(out)


def test_cp1258_helper_round_trips() -> None:
    text = "Quản lý hạ tầng mạng và máy chủ, ưu tiên đầu tư"
    assert unicodedata.normalize("NFC", cp1258(text).decode("cp1258")) == text


@pytest.fixture
def run(models_root):
    def invoke(*args: str, input: str | bytes | None = None):
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


def test_classify_a_file(run) -> None:
    result = run("classify", str(EXAMPLES / "en_cto_saas.txt"))
    assert result.exit_code == 0
    assert "Leaning: CTO" in result.output
    assert "Strongest CTO line" in result.output


def test_classify_stdin_and_text_agree(run) -> None:
    text = (EXAMPLES / "vi_cio_hospital.txt").read_text(encoding="utf-8")
    a = json.loads(run("classify", "-", "--format", "json", input=text).output)
    b = json.loads(run("classify", "--text", text, "--format", "json").output)
    assert a == b and a["leaning"] == "CIO"


def test_json_contract(run) -> None:
    result = run("classify", str(EXAMPLES / "en_cto_fintech.html"), "--format", "json")
    out = json.loads(result.output)
    assert {"leaning", "p_cto", "confidence", "counts", "lines", "strongest", "model"} <= set(out)
    assert out["leaning"] in {"CIO", "CTO", "neutral"}
    assert 0 <= out["p_cto"] <= 1 and 0 <= out["confidence"] <= 1
    assert set(out["counts"]) == {"CIO", "CTO", "neutral"}
    assert sum(out["counts"].values()) == len(out["lines"])
    assert {"name", "created"} <= set(out["model"])
    for line in out["lines"]:
        assert {"n", "text", "tag", "p_cto", "p_cio", "evidence"} <= set(line)
        assert line["tag"] in {"CIO", "CTO", "neutral"}
        assert all(isinstance(t, str) and isinstance(w, float) for t, w in line["evidence"])
        assert "<" not in line["text"]  # tags never reach the lines
    numbers = {line["n"] for line in out["lines"]}
    assert out["strongest"]["CTO"] in numbers


def test_prompt_when_stdin_is_a_terminal() -> None:
    script = (
        "import sys; sys.stdin.isatty = lambda: True;"
        "from classifier.cli import main; main(['classify'])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], input=b"", capture_output=True, timeout=60
    )
    assert b"Paste a job description, then press Ctrl-D" in proc.stderr


def test_help_does_not_load_spacy_or_sklearn() -> None:
    script = (
        "import sys; from click.testing import CliRunner; from classifier.cli import main;"
        "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0;"
        "print('spacy' in sys.modules, 'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_text("   \n\t\n"), "is empty"),
        (lambda p: p.write_bytes(bytes(range(256)) * 20), "binary"),
        (lambda p: p.write_bytes("Quản lý hạ tầng".encode() + b"\xff"), "not valid UTF-8"),
        (lambda p: p.write_text("x" * 5_000_000), "characters"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: None, "no such file"),
    ],
    ids=["empty", "whitespace", "binary", "invalid-utf8", "5mb-line", "directory", "missing"],
)
def test_bad_input_is_one_clear_error(run, tmp_path: Path, make_input, message: str) -> None:
    path = tmp_path / "posting.txt"
    make_input(path)
    result = run("classify", str(path))
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], lines
    assert "Traceback" not in result.output


def test_unreadable_file(run, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("Lead engineers")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)  # chmod 0 does not stop root
    result = run("classify", str(path))
    assert result.exit_code != 0
    assert result.output.strip() == f"Error: cannot read {path}: Permission denied"


def test_legacy_encoding_can_be_named(run, tmp_path: Path) -> None:
    path = tmp_path / "vi.txt"
    path.write_bytes("Quản lý hạ tầng mạng và máy chủ".encode("utf-16"))
    assert run("classify", str(path)).exit_code == 0
    path.write_bytes(cp1258("Quản lý hạ tầng mạng và máy chủ"))
    assert run("classify", str(path), "--encoding", "cp1258").exit_code == 0


def test_a_cp1258_file_is_read_as_score_reads_it(run, tmp_path: Path) -> None:
    path = tmp_path / "vi.txt"
    path.write_bytes(cp1258("Quản lý hạ tầng mạng và máy chủ\nPhát triển kiến trúc phần mềm"))
    result = run("classify", str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    lines = json.loads(result.output)["lines"]
    texts = [unicodedata.normalize("NFC", t["text"]) for t in lines]
    assert texts == ["Quản lý hạ tầng mạng và máy chủ", "Phát triển kiến trúc phần mềm"]
    assert [t["tag"] for t in lines] == ["CIO", "CTO"]


def test_missing_model_is_one_clear_error(run, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CIOCTO_MODELS", str(tmp_path))
    result = run("classify", "--text", "Lead engineers")
    assert result.exit_code != 0 and result.output.startswith("Error: no trained model")


def test_evaluate_reports_classes_languages_confusion_and_ece(run) -> None:
    result = run("evaluate", "--folds", "2")
    assert result.exit_code == 0
    for needle in ("CIO", "CTO", "neutral", "macro", "ECE", "confusion", "lang=en", "lang=vi"):
        assert needle in result.output


def test_evaluate_postings(run, tmp_path: Path) -> None:
    rows = [
        {"text": (EXAMPLES / name).read_text(encoding="utf-8"), "label": label, "lang": lang}
        for name, label, lang in [
            ("en_cio_bank.txt", "CIO", "en"),
            ("en_cto_saas.txt", "CTO", "en"),
            ("vi_cio_retail.txt", "CIO", "vi"),
            ("vi_cto_startup.txt", "CTO", "vi"),
        ]
    ]
    path = tmp_path / "postings.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    out = json.loads(run("evaluate", "--postings", str(path), "--format", "json").output)
    assert out["postings"]["en"]["n"] == 2 and out["postings"]["vi"]["n"] == 2
    assert out["postings"]["all"]["balanced_accuracy"] == 1.0
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json")
    result = run("evaluate", "--postings", str(bad))
    assert result.exit_code != 0 and result.output.startswith("Error: ")
