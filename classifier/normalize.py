"""Normalisation for features: NFC, case folding, Vietnamese diacritics folding, English lemmas.

Vietnamese is written as space-separated syllables, so a token here is a syllable; compound
words ("hạ tầng", "kiến trúc") are caught by the word bigrams downstream. Every token also has a
diacritics-folded form ("ha tang"), which is what lets unaccented input match accented training
data. English tokens are lemmatised with spaCy's lookup table from spacy-lookups-data (the same
table spaCy's lookup lemmatizer uses), applied as a plain dict so the hot path stays fast.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

# A token: letters/digits, keeping "node.js", "asp.net", "c++", "c#" whole.
_TOKEN = re.compile(r"[^\W_]+(?:\.(?=[^\W\d_])[^\W_]+)*[+#]*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*\+?")
_VI_LETTERS = set("ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ")


def nfc(text: str) -> str:
    """Return the text in Unicode NFC, so composed and decomposed accents compare equal."""
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Return case-folded text with Vietnamese (and other) diacritics removed; đ becomes d."""
    text = unicodedata.normalize("NFC", text).casefold().replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def has_vietnamese_letters(text: str) -> bool:
    """Return True when the text holds a letter only Vietnamese uses among en/vi."""
    return any(c in _VI_LETTERS for c in text.casefold())


_LEMMAS: Any = None
# spaCy's table maps "data" to "datum" and "media" to "medium"; in job postings these are mass
# nouns and the lemma would only split their evidence in two.
_KEEP = frozenset({"data", "media", "as", "us"})


def lemma(word: str) -> str:
    """Return the English lemma of a lower-case word from spaCy's lookup table (or the word)."""
    global _LEMMAS
    if _LEMMAS is None:
        _LEMMAS = _load_lemma_table()
    if word in _KEEP:
        return word
    return str(_LEMMAS.get(word, word))


def _load_lemma_table() -> dict[str, str]:
    """Read en_lemma_lookup from spacy-lookups-data, the table spaCy's lookup lemmatizer uses.

    Read directly (gzip + JSON) rather than through spacy.lookups, which would import all of
    spaCy (about 0.4 s) and key the table by hash: the same data, a faster start.
    """
    import gzip
    import json
    from importlib.resources import files

    raw = (files("spacy_lookups_data") / "data" / "en_lemma_lookup.json.gz").read_bytes()
    table = json.loads(gzip.decompress(raw))
    return {k: v for k, v in table.items() if isinstance(v, str)}


@lru_cache(maxsize=1 << 18)
def normalize_token(token: str) -> tuple[str, str]:
    """Return (accented, folded) forms of one NFC token: case-folded, English-lemmatised."""
    low = token.casefold()
    if _NUMBER.fullmatch(low):
        return "<num>", "<num>"
    if low.isascii():
        low = lemma(low)
        return low, low
    return low, fold(low)


def tokens(text: str) -> list[tuple[str, str, int, int]]:
    """Return the tokens of a line as (accented, folded, start, end), offsets into nfc(text)."""
    out = []
    for m in _TOKEN.finditer(nfc(text)):
        accented, folded = normalize_token(m.group())
        out.append((accented, folded, m.start(), m.end()))
    return out


def normalize(text: str) -> str:
    """Return the folded, lemmatised token string of a line (what the word features see)."""
    return " ".join(folded for _, folded, _, _ in tokens(text))
