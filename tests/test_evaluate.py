"""`ciocto evaluate --lines`: real-line figures per language, postings classified whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from classifier.cli import main
from classifier.evaluate import evaluate_lines, read_line_rows

LINES = [
    # (posting, text, label, lang, names_role)
    ("p1", "We are hiring an IT Manager", "CIO", "en", True),
    ("p1", "Responsibilities", "neutral", "en", False),
    ("p1", "Maintain the company's servers, network and backups", "CIO", "en", False),
    ("p1", "Run the service desk for 600 office staff", "CIO", "en", False),
    ("p1", "Competitive salary and 13th-month bonus", "neutral", "en", False),
    ("p2", "What you will do", "neutral", "en", False),
    ("p2", "Lead the engineering team that builds our SaaS product", "CTO", "en", False),
    ("p2", "Own the architecture and scalability of the customer platform", "CTO", "en", False),
    ("p2", "Apply by sending your CV", "neutral", "en", False),
    ("p3", "Mô tả công việc", "neutral", "mixed", False),
    ("p3", "Quản trị hệ thống máy chủ, mạng nội bộ và sao lưu dữ liệu", "CIO", "vi", False),
    ("p3", "Xây dựng kiến trúc sản phẩm và dẫn dắt đội ngũ kỹ sư", "CTO", "vi", False),
    ("p3", "Lương thưởng hấp dẫn", "neutral", "vi", False),
]


def write_lines(path: Path, rows=LINES) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for n, (pid, text, label, lang, role) in enumerate(rows):
            row = {"posting_id": pid, "n": n, "text": text, "label": label, "lang": lang}
            f.write(json.dumps({**row, "names_role": role}, ensure_ascii=False) + "\n")
    return path


def test_lines_are_scored_per_language_without_role_lines(model, tmp_path: Path) -> None:
    report = evaluate_lines(read_line_rows(write_lines(tmp_path / "l.jsonl")), model)
    assert set(report) == {"en", "vi"}  # mixed counts with Vietnamese
    assert report["en"]["n"] == 8 and report["vi"]["n"] == 4  # the role line is left out
    for m in report.values():
        assert 0.0 <= m["macro_f1"] <= 1.0
        assert set(m["per_class"]) == {"CIO", "CTO", "neutral"}
        assert sum(map(sum, m["confusion"])) == m["n"]
    # these lines are plain: the shipped model gets them right
    assert report["en"]["macro_f1"] == 1.0, report["en"]["worst"]


def test_worst_lists_the_most_confident_mistakes_first(model, tmp_path: Path) -> None:
    wrong = [(pid, text, {"CIO": "CTO", "CTO": "neutral", "neutral": "CIO"}[lab], lang, role)
             for pid, text, lab, lang, role in LINES]  # fmt: skip
    report = evaluate_lines(read_line_rows(write_lines(tmp_path / "w.jsonl", wrong)), model)
    worst = report["en"]["worst"]
    assert worst and [w["p"] for w in worst] == sorted((w["p"] for w in worst), reverse=True)
    assert all(w["tag"] != w["label"] for w in worst)
    assert report["en"]["macro_f1"] < 0.5


def test_evaluate_lines_cli_prints_the_table(models_root, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "l.jsonl")
    result = CliRunner().invoke(main, ["evaluate", "--lines", str(path), "--worst", "3"])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output and "CTO F1" in result.output
    header, en, vi = result.output.splitlines()[2:5]
    assert en.split()[:2] == ["en", "8"] and vi.split()[:2] == ["vi", "4"]
    out = json.loads(
        CliRunner().invoke(main, ["evaluate", "--lines", str(path), "--format", "json"]).output
    )
    assert out["lines"]["en"]["n"] == 8


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json\n", "not a JSON object"),
        ('{"text": "x", "label": "CIO"}\n', "needs the fields 'posting_id'"),
        ('{"posting_id": "a", "text": "x", "label": "boss"}\n', "is not CIO, CTO or neutral"),
        ("\n\n", "holds no labelled lines"),
    ],
)
def test_bad_line_files_are_one_error_line(models_root, tmp_path, content, message) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, ["evaluate", "--lines", str(path)])
    assert result.exit_code != 0
    assert result.output.startswith("Error: ") and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_lines_of_one_written_posting_share_a_fold_group() -> None:
    from classifier.evaluate import near_duplicate_groups

    texts = ["Patch the servers", "Lead the engineers", "Free lunch", "Patch the servers weekly"]
    groups = near_duplicate_groups(texts, 0.5, together=["bank", "", "bank", ""])
    assert groups[0] == groups[2] == groups[3]  # posting, then near duplicate
    assert groups[1] != groups[0]
    assert len(set(near_duplicate_groups(texts[:3], 0.5))) == 3  # no posting: no grouping
