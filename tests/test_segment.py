"""Segmentation: plain text, bullets, CRLF, HTML and run-on scrapes become readable lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier import segment
from classifier.segment import MAX_SENTENCE_CHARS

GOLDEN = Path(__file__).parent / "golden" / "segment"


def as_rows(text: str) -> list[list]:
    return [[line.n, line.bullet, line.text] for line in segment(text)]


@pytest.mark.parametrize("case", sorted(p.stem for p in GOLDEN.glob("*.in")))
def test_golden(case: str) -> None:
    raw = (GOLDEN / f"{case}.in").read_bytes().decode("utf-8")
    expected = json.loads((GOLDEN / f"{case}.json").read_text(encoding="utf-8"))
    assert as_rows(raw) == expected


def test_crlf_and_lf_give_the_same_lines() -> None:
    text = "Job description\n- Manage servers\n\n* Lead engineers\n"
    assert segment(text) == segment(text.replace("\n", "\r\n"))


def test_bullets_are_stripped_but_kept() -> None:
    lines = segment("• Quản lý hệ thống ERP, CRM\n1. Build the platform\n- Kafka")
    assert [(line.bullet, line.text) for line in lines] == [
        ("•", "Quản lý hệ thống ERP, CRM"),
        ("1.", "Build the platform"),
        ("-", "Kafka"),
    ]


def test_html_tags_never_reach_the_text() -> None:
    html = "<ul><li>Design the <b>API</b> &amp; data model</li><li>Hire&nbsp;engineers</li></ul>"
    html += "<script>alert('x')</script><style>p{}</style>"
    texts = [line.text for line in segment(html)]
    assert texts == ["Design the API & data model", "Hire engineers"]


def test_run_on_scrape_is_split_at_glued_sentences() -> None:
    texts = [line.text for line in segment("Vận hành phòng máy CNTT.Tham gia lập ngân sách")]
    assert texts == ["Vận hành phòng máy CNTT.", "Tham gia lập ngân sách"]


def test_dotted_names_are_not_split() -> None:
    assert len(segment("Experience with Node.js, ASP.NET and Vue.js")) == 1


def test_long_line_is_split_into_sentences_on_the_same_source_line() -> None:
    sentence = "We run the internal network and the service desk for all offices. "
    lines = segment("Title\n" + sentence * 8)
    assert len(lines) > 2
    assert {line.n for line in lines[1:]} == {2}
    assert all(len(line.text) <= MAX_SENTENCE_CHARS for line in lines)


def _alnum(s: str) -> str:
    return "".join(c for c in s if c.isalnum())


line_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), include_characters="\t"),
    max_size=80,
)
# pieces that exercise bullets, numbering, glued sentences and dotted names
tricky = st.lists(
    st.sampled_from(
        [
            "•",
            "●",
            "-",
            "-\t",
            "* ",
            "**",
            "1.",
            "2)",
            "a)",
            " ",
            "\t",
            ".",
            "Thực",
            "CNTT.",
            "IT",
            "hiện",
            "node.js",
            "ASP.NET",
            "C++",
            "x",
            "Đ",
            "ệ",
            "12",
            "3.5",
            "&amp;",
            ";",
            "—",
        ]
    ),
    max_size=30,
).map("".join)
line_text = st.one_of(line_text, tricky)


@settings(max_examples=200, deadline=None)
@given(st.lists(line_text, max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_no_visible_text_is_lost(lines: list[str], newline: str) -> None:
    text = newline.join(lines)
    if "<" in text:  # markup is parsed as HTML, covered by the HTML tests
        text = text.replace("<", " ")
    out = segment(text)
    assert _alnum("".join(line.bullet + line.text for line in out)) == _alnum(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(line_text, max_size=12))
def test_lines_are_in_order_and_non_empty(lines: list[str]) -> None:
    out = segment("\n".join(lines).replace("<", " "))
    assert [line.n for line in out] == sorted(line.n for line in out)
    assert all(line.text.strip() == line.text and re.search(r"\w", line.text) for line in out)


@settings(max_examples=200, deadline=None)
@given(st.lists(line_text, max_size=12))
def test_the_plain_line_shortcut_changes_nothing(lines: list[str]) -> None:
    import importlib
    import re as regex

    module = importlib.import_module("classifier.segment")
    text = "\n".join(lines).replace("<", " ")
    fast = segment(text)
    saved = module._SPLITTERS
    module._SPLITTERS = regex.compile("")  # matches everywhere: every line takes the long way
    try:
        assert segment(text) == fast
    finally:
        module._SPLITTERS = saved
