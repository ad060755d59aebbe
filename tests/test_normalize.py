"""Normalisation: accented and unaccented Vietnamese meet; English words meet their lemmas."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from classifier import fold, normalize
from classifier.features import word_features, word_surfaces


def test_accented_and_unaccented_vietnamese_map_together() -> None:
    assert normalize("Quản lý hạ tầng mạng") == normalize("quan ly ha tang mang")
    assert normalize("Đảm bảo an toàn thông tin") == normalize("dam bao an toan thong tin")


def test_decomposed_unicode_is_composed_first() -> None:
    composed = "Kiến trúc hệ thống"
    decomposed = unicodedata.normalize("NFD", composed)
    assert normalize(decomposed) == normalize(composed)


def test_english_lemmas() -> None:
    assert normalize("Managing servers and leading engineers") == normalize(
        "manage server and lead engineer"
    )


def test_it_terms_survive() -> None:
    assert normalize("Node.js, C++ and C# on ASP.NET") == "node.js c++ and c# on asp.net"


def test_numbers_are_one_token() -> None:
    assert normalize("5 năm, 10+ years") == normalize("7 năm, 3+ years")


def test_mixed_line_keeps_both_languages() -> None:
    assert normalize("Quản lý hệ thống ERP, CRM") == "quan ly he thong erp crm"


def test_features_are_word_ngrams_and_evidence_shows_the_words_as_written() -> None:
    feats = word_features("Kiến trúc microservices")
    assert feats == ["kien", "truc", "microservices", "kien truc", "truc microservices"]
    assert word_surfaces("Kiến trúc microservices")["kien truc"] == "kiến trúc"


@given(st.text(max_size=60))
def test_fold_is_idempotent_and_ascii_for_vietnamese(text: str) -> None:
    assert fold(fold(text)) == fold(text)
    letters = "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"
    vietnamese = "".join(c for c in text if c in letters)
    assert fold(vietnamese).isascii()


def test_fast_tokens_match_the_offset_tokens_on_the_training_data() -> None:
    from classifier import load_samples
    from classifier.normalize import folded_tokens, tokens

    for s in load_samples():
        assert folded_tokens(s.text) == [t[1] for t in tokens(s.text)], s.text


@given(
    st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxy àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệ.+#-1 ", max_size=60)
)
def test_fast_tokens_match_the_offset_tokens(text: str) -> None:
    from classifier.normalize import folded_tokens, tokens

    assert folded_tokens(text) == [t[1] for t in tokens(text)]


def test_ampersand_abbreviations_stay_whole() -> None:
    assert normalize("R&D and P&L, Sales & Marketing") == "r&d and p&l sale market"


def test_links_and_addresses_are_one_token_each() -> None:
    text = "Apply at https://jobs.example.vn/cto?ref=1 or mail tuyendung@example.com.vn"
    assert normalize(text) == "apply at <url> or mail <email>"
