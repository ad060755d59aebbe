"""Split a posting into the lines a reader sees: plain text, bullets, HTML, run-on sentences.

Real postings arrive as plain text, as HTML from a careers page, or as a scrape that lost its
line breaks ("...bảo trì máy chủ.Lập báo cáo...", "Kinh nghiệm:-\tTừ 6 năm..."). Each is turned into
`Line`s that keep their source line number; no visible word is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

MAX_SENTENCE_CHARS = 250  # longer pieces are split into sentences with spaCy

_NEWLINE = re.compile(r"\r\n|\r|\n")
_WORD = re.compile(r"[^\W_]")  # a letter or digit: what str.isalnum() accepts
# end of a sentence glued to the next one: "máy chủ.Lập báo cáo", "kết nối.**Hỗ trợ"
_GLUED = re.compile(r"(?<=\w)[.!?;](?=\**[^\W\d_][^\W\d_])")
_INLINE_BULLETS = re.compile(r"(?<=\S)\s*(?:[•●▪◦■□➢►✓✔❖]|-\t)\s*")
_LEADING_BULLET = re.compile(
    r"^\s*(?:(?:[-–—+•●▪◦■□➢►✓✔❖·]|\*(?!\*))\s*|\(?\d{1,2}[.)](?!\d)\s*|[a-zA-Z][.)]\s+)"
)
# anything that could split a line: an inline bullet or a glued sentence end (a superset of
# _INLINE_BULLETS and _GLUED, so a line it does not match stays whole)
_SPLITTERS = re.compile(r"[•●▪◦■□➢►✓✔❖]|-\t|[.!?;]\**[^\W\d_]")
_HTML_HINT = re.compile(
    r"<(?:p|div|li|ul|ol|br|h[1-6]|span|strong|em|b|i|table|tr|td|html|body|section)\b[^>]*>",
    re.IGNORECASE,
)
_BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "footer",
    "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol",
    "p", "pre", "section", "table", "td", "th", "tr", "ul",
}  # fmt: skip
_HIDDEN_TAGS = {"script", "style", "head", "title", "noscript", "template"}


@dataclass(frozen=True)
class Line:
    """One line of a posting: its 1-based source line number, its text and the bullet it had."""

    n: int
    text: str
    bullet: str = ""


def segment(text: str) -> list[Line]:
    """Return the non-empty lines of a posting, in order, with their source line numbers."""
    blocks = _html_blocks(text) if _HTML_HINT.search(text) else _text_blocks(text)
    lines: list[Line] = []
    for n, block in blocks:
        if not _WORD.search(block):  # blank or decoration only ("-----")
            continue
        if len(block) <= MAX_SENTENCE_CHARS and not _SPLITTERS.search(block):
            lines.append(_finish(n, block))  # the common case: one plain line
            continue
        for piece in _INLINE_BULLETS.split(block):
            for sentence in _split_glued(piece):
                lines.extend(_finish(n, s) for s in _split_long(sentence))
    return [line for line in lines if line.text]


def _text_blocks(text: str) -> list[tuple[int, str]]:
    return list(enumerate(_NEWLINE.split(text), start=1))


def line_of(n: int, text: str) -> Line:
    """Return `text` as one Line, bullet and extra spaces removed, never split.

    For callers whose lines are already decided (hand-labelled lines, a table of lines).
    """
    return _finish(n, text)


def _finish(n: int, piece: str) -> Line:
    piece = " ".join(piece.split())
    m = _LEADING_BULLET.match(piece)
    if m and _has_word(piece[m.end() :]):
        return Line(n, piece[m.end() :].strip(), m.group().strip())
    return Line(n, piece if _has_word(piece) else "")


def _has_word(s: str) -> bool:
    return _WORD.search(s) is not None


def _split_glued(piece: str) -> list[str]:
    """Split "sentence.Next sentence" where a scraper lost the line break."""
    cuts = [m.end() for m in _GLUED.finditer(piece) if _is_title_word(piece[m.end() :].lstrip("*"))]
    if not cuts:
        return [piece]
    bounds = [0, *cuts, len(piece)]
    return [piece[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def _is_title_word(s: str) -> bool:
    return len(s) > 1 and s[0].isupper() and s[1].islower()


def _split_long(piece: str) -> list[str]:
    if len(piece) <= MAX_SENTENCE_CHARS:
        return [piece]
    doc = _sentencizer()(piece)
    return [sent.text_with_ws for sent in doc.sents]


_NLP: Any = None


def _sentencizer() -> Any:
    """Return a blank multilingual spaCy pipeline with a rule-based sentencizer (loaded once)."""
    global _NLP
    if _NLP is None:
        import spacy

        nlp = spacy.blank("xx")
        nlp.add_pipe("sentencizer")
        nlp.max_length = 10_000_000
        _NLP = nlp
    return _NLP


class _Blocks(HTMLParser):
    """Collect visible text of an HTML fragment, one block per block-level element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[int, str]] = []
        self._parts: list[str] = []
        self._line = 1
        self._hidden = 0

    def _flush(self) -> None:
        text = "".join(self._parts)
        if text.strip():
            # a block may still hold raw newlines (e.g. inside <pre> or between inline tags)
            for i, sub in enumerate(_NEWLINE.split(text)):
                if sub.strip():
                    self.blocks.append((self._line + i, sub.replace("\xa0", " ")))
        self._parts = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self._flush()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if not self._parts or not "".join(self._parts).strip():
            self._parts = []
            lead = len(data) - len(data.lstrip("\r\n"))
            self._line = self.getpos()[0] + data[:lead].count("\n")
        self._parts.append(data)


def _html_blocks(text: str) -> list[tuple[int, str]]:
    parser = _Blocks()
    parser.feed(text)
    parser.close()
    parser._flush()
    return parser.blocks
