"""The model on clear lines in each language, its evidence, determinism and the leaning rule."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from classifier import LineScore, classify, leaning_of, load_samples, train

CLEAR_LINES = [
    # English
    ("Keep the data centre, backups and disaster recovery running for all branches", "CIO"),
    ("Run the IT service desk and manage user accounts and access rights", "CIO"),
    ("Lead the engineering department and own the product architecture", "CTO"),
    ("Design microservices and APIs for our customer-facing platform", "CTO"),
    ("Competitive salary, 13th-month bonus and private health insurance", "neutral"),
    # Vietnamese
    ("Quản lý hạ tầng mạng, máy chủ và sao lưu dữ liệu của công ty", "CIO"),
    ("Đào tạo nhân viên sử dụng phần mềm nội bộ và cấp quyền truy cập", "CIO"),
    ("Xây dựng kiến trúc hệ thống cho sản phẩm và dẫn dắt đội ngũ kỹ sư", "CTO"),
    ("Nghiên cứu công nghệ mới để nâng cao sản phẩm cho khách hàng", "CTO"),
    ("Lương thưởng hấp dẫn, bảo hiểm đầy đủ, du lịch hằng năm", "neutral"),
    # Vietnamese without diacritics
    ("quan ly ha tang mang va may chu noi bo", "CIO"),
    ("xay dung kien truc he thong cho san pham", "CTO"),
    ("luong thang 13, thuong theo hieu qua cong viec", "neutral"),
    # mixed
    ("Quản lý hệ thống ERP, CRM và helpdesk cho các phòng ban", "CIO"),
    ("Lead team Backend, thiết kế microservices cho sản phẩm SaaS", "CTO"),
]


@pytest.mark.parametrize(("text", "label"), CLEAR_LINES)
def test_clear_lines(model, text: str, label: str) -> None:
    (score,) = model.score_lines([text])
    assert score.tag == label, score


def test_probabilities_are_probabilities(model) -> None:
    for s in model.score_lines([t for t, _ in CLEAR_LINES]):
        assert 0 <= s.p_cio <= 1 and 0 <= s.p_cto <= 1
        assert s.p_cio + s.p_cto + s.p_neutral == pytest.approx(1.0)


def test_a_line_of_unknown_words_is_neutral(model) -> None:
    (score,) = model.score_lines(["zzqx wvvk"])
    assert score.tag == "neutral" and score.evidence == ()


def test_evidence_is_the_exact_linear_contribution(model) -> None:
    text = "Design microservices and APIs for our customer-facing platform"
    (score,) = model.score_lines([text], evidence=10_000)
    feats, clf = model.pipeline.named_steps["features"], model.pipeline.named_steps["clf"]
    classes = list(clf.classes_)
    logits = clf.decision_function(feats.transform([text]))[0]
    i_cto, i_cio = classes.index("CTO"), classes.index("CIO")
    intercept = clf.intercept_[i_cto] - clf.intercept_[i_cio]
    total = sum(w for _, w in score.evidence) + intercept
    assert total == pytest.approx(logits[i_cto] - logits[i_cio], abs=1e-3)
    assert score.evidence[0][1] > 0  # the strongest term pushes towards CTO
    assert any(term == "microservices" for term, _ in score.evidence)


def test_evidence_shows_vietnamese_words_as_written(model) -> None:
    (score,) = model.score_lines(["Thiết kế kiến trúc hệ thống cho sản phẩm"], evidence=20)
    terms = [t for t, _ in score.evidence]
    assert any(t in {"kiến trúc", "sản phẩm"} for t in terms), terms


def test_training_is_deterministic() -> None:
    samples = load_samples()[::3]
    texts = [s.text for s in samples[:200]]
    a = train(samples).pipeline.predict_proba(texts)
    b = train(samples).pipeline.predict_proba(texts)
    assert np.array_equal(a, b)


def _score(tag: str, p_cto: float, p_cio: float) -> LineScore:
    return LineScore(tag, p_cto, p_cio, 1 - p_cto - p_cio)


def test_neutral_lines_do_not_move_the_leaning() -> None:
    signal = [_score("CTO", 0.8, 0.1), _score("CIO", 0.2, 0.7), _score("CTO", 0.9, 0.05)]
    noise = [_score("neutral", 0.3, 0.1), _score("neutral", 0.05, 0.4)] * 20
    assert leaning_of(signal) == leaning_of(signal + noise)
    assert leaning_of(signal)[0] == "CTO"


def test_no_signal_or_a_tie_is_neutral() -> None:
    assert leaning_of([_score("neutral", 0.1, 0.1)])[0] == "neutral"
    assert leaning_of([])[0] == "neutral"
    assert leaning_of([_score("CTO", 0.8, 0.1), _score("CIO", 0.1, 0.8)])[0] == "neutral"


def test_posting_leaning_ignores_neutral_lines_end_to_end(model) -> None:
    duties = "Lead the engineering team\nDesign the product architecture\nRun the IT helpdesk"
    padding = "\n".join(["Competitive salary", "Lương tháng 13", "Apply by email"] * 10)
    a, b = classify(duties, model), classify(duties + "\n" + padding, model)
    assert b.counts["neutral"] >= 25
    # neutral lines carry no weight in the leaning: exactly the leaning of the other lines
    signal = [t.score for t in b.lines if t.score.tag != "neutral"]
    assert leaning_of(signal, model.config.margin)[:2] == (b.leaning, b.p_cto)
    # a line is read in its posting, so the padding may move the duties' own scores a little
    assert a.leaning == b.leaning and a.p_cto == pytest.approx(b.p_cto, abs=0.05)


def _expected_leanings() -> list[tuple[str, str]]:
    table = (Path(__file__).parent.parent / "data" / "examples" / "README.md").read_text()
    return re.findall(r"^\| `([^`]+)` \| [^|]+ \| (CIO|CTO|neutral) \|", table, re.M)


def test_the_examples_table_is_complete() -> None:
    assert len(_expected_leanings()) >= 8


@pytest.mark.parametrize(("name", "leaning"), _expected_leanings())
def test_example_postings_lean_as_expected(model, example, name: str, leaning: str) -> None:
    assert classify(example(name), model).leaning == leaning


def test_cross_validation_folds_do_not_depend_on_the_hash_seed() -> None:
    import os
    import subprocess
    import sys

    script = (
        "from classifier import load_samples; from classifier.evaluate import "
        "near_duplicate_groups as g; print(hash(tuple(g([s.text for s in load_samples()]))))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1


def test_the_fast_vectoriser_equals_scikit_learns(model) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = model.pipeline.named_steps["features"].transformer_list[0][1]
    texts = [s.text for s in load_samples()[::7]] + ["", "zzqx", "R&D R&D r&d", "Lead lead LEAD"]
    ours = vec.transform(texts)
    theirs = TfidfVectorizer.transform(vec, texts)
    assert (ours != theirs).nnz == 0
    assert np.array_equal(ours.indices, theirs.indices) and ours.dtype == theirs.dtype


def test_repeated_lines_score_as_they_do_alone(model) -> None:
    texts = ["Run the IT helpdesk", "Lead the engineering team", "Run the IT helpdesk"]
    together = model.score_lines(texts)
    assert together == [model.score_lines([t])[0] for t in texts]


def test_section_headers_are_neutral(model) -> None:
    headers = ["Kinh nghiệm", "Technical Skills:", "Yêu cầu", "What you'll do", "Quyen loi"]
    assert [s.tag for s in model.score_lines(headers)] == ["neutral"] * len(headers)


def test_evidence_adds_up_for_a_line_read_in_its_posting() -> None:
    from dataclasses import replace

    from classifier import Config
    from classifier.features import in_context

    config = replace(Config(), section=True, neighbours=True, posting=True, lexicon=True)
    model = train(load_samples()[::3], config)
    lines = ["Responsibilities", "Keep the plant's servers and network running", "Benefits"]
    scores = model.score_posting(lines, evidence=10_000)
    feats, clf = model.pipeline.named_steps["features"], model.pipeline.named_steps["clf"]
    logits = clf.decision_function(feats.transform(in_context(lines, config)))
    i_cto, i_cio = list(clf.classes_).index("CTO"), list(clf.classes_).index("CIO")
    intercept = clf.intercept_[i_cto] - clf.intercept_[i_cio]
    for score, row in zip(scores, logits, strict=True):
        total = sum(w for _, w in score.evidence) + intercept
        assert total == pytest.approx(row[i_cto] - row[i_cio], abs=1e-3)
    assert scores[1].tag == "CIO"
    assert any(term.startswith("(posting: ") for term, _ in scores[1].evidence)
    # scored block by block (one context per posting), the probabilities are the pipeline's
    proba = model.pipeline.predict_proba(in_context(lines, config))
    order = [list(clf.classes_).index(c) for c in ("CIO", "CTO", "neutral")]
    ours = [[s.p_cio, s.p_cto, s.p_neutral] for s in scores]
    assert np.allclose(ours, proba[:, order], atol=1e-9)


def test_the_context_vectoriser_equals_scikit_learns(model) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from classifier.features import in_context

    vec = dict(model.pipeline.named_steps["features"].transformer_list)["context"]
    docs = in_context(["Benefits", "Run the IT helpdesk", "Lead the engineers"], model.config)
    docs += in_context(["Apply by email", "Lương tháng 13"], model.config) + ["plain line", ""]
    ours, theirs = vec.transform(docs), TfidfVectorizer.transform(vec, docs)
    assert ours.shape == theirs.shape and (ours != theirs).nnz == 0
    assert ours[0].nnz > 0 and ours[-1].nnz == 0  # a plain line has no context


def test_lines_without_postings_train_a_model_without_context() -> None:
    from classifier import Sample

    rows = [("Run the IT helpdesk", "CIO"), ("Patch the office servers", "CIO"),
            ("Lead the engineering team", "CTO"), ("Design the product architecture", "CTO"),
            ("Free lunch", "neutral"), ("Apply by email", "neutral")]  # fmt: skip
    model = train([Sample(t, lab, "en") for t, lab in rows])
    assert not model.config.posting  # nothing could be learnt about context, so none is read
    names = dict(model.pipeline.named_steps["features"].transformer_list)
    assert "context" not in names
    assert classify("Run the IT helpdesk\nFree lunch", model).lines[0].score.tag == "CIO"
