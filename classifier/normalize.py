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

# A token: letters/digits, keeping "node.js", "asp.net", "r&d", "c++", "c#" whole.
# Links and e-mail addresses are one token each: their pieces ("https", "careers", "vn")
# would otherwise read as words.
_TOKEN = re.compile(
    r"(?:https?://|www\.)[^\s)\]>\"']+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|[^\W_]+(?:[.&](?=[^\W\d_])[^\W_]+)*[+#]*"
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*\+?")


def nfc(text: str) -> str:
    """Return the text in Unicode NFC, so composed and decomposed accents compare equal."""
    return unicodedata.normalize("NFC", text)


def _fold_table() -> dict[int, str]:
    """Map every precomposed Latin letter with diacritics to its base letter; đ to d."""
    table = {ord("đ"): "d", ord("Đ"): "d"}
    for cp in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        base = "".join(
            c for c in unicodedata.normalize("NFD", chr(cp)) if not unicodedata.combining(c)
        )
        if base and base != chr(cp):
            table[cp] = base
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """Return case-folded text with Vietnamese (and other) diacritics removed; đ becomes d."""
    folded = unicodedata.normalize("NFC", text).casefold().translate(_FOLD)
    if folded.isascii():
        return folded
    # letters outside the table (rare scripts, stray combining marks): the slow, general way
    decomposed = unicodedata.normalize("NFD", folded)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


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
def norm_folded(token: str) -> str:
    """Return the feature form of a folded token: numbers become <num>, English words lemmas.

    Lemmas apply to the folded form, so "quản" and "quan" always end up the same.
    """
    if _NUMBER.fullmatch(token):
        return "<num>"
    if "@" in token:
        return "<email>"
    if "://" in token or token.startswith("www."):
        return "<url>"
    return lemma(token) if token.isascii() else token


@lru_cache(maxsize=1 << 18)
def normalize_token(token: str) -> tuple[str, str]:
    """Return (accented, folded) forms of one NFC token: case-folded, English-lemmatised."""
    low = token.casefold()
    folded = norm_folded(fold(low))
    if low.isascii():
        return folded, folded
    return low, folded


def folded_tokens(text: str) -> list[str]:
    """Return the folded feature tokens of a line: the fast path of `tokens` without offsets."""
    return [norm_folded(t) for t in _TOKEN.findall(fold(text))]


def tokens(text: str) -> list[tuple[str, str, int, int]]:
    """Return the tokens of a line as (accented, folded, start, end), offsets into nfc(text)."""
    out = []
    for m in _TOKEN.finditer(nfc(text)):
        accented, folded = normalize_token(m.group())
        out.append((accented, folded, m.start(), m.end()))
    return out


def normalize(text: str) -> str:
    """Return the folded, lemmatised token string of a line (what the word features see)."""
    return " ".join(folded_tokens(text))
