"""The knobs of a model, frozen and saved into its card."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Config:
    """Feature and classifier settings; the defaults are the measured best (see README).

    word_ngrams: n-gram range over normalised tokens (Vietnamese syllables, English lemmas).
    accents: "fold" keeps only the diacritics-folded view; "both" adds the accented view too.
    char_ngrams: (lo, hi) for character n-grams on the folded text, or None for none.
    C: inverse regularisation strength of the logistic regression.
    class_weight: "balanced" or None.
    min_df: minimum document frequency for a feature to be kept.
    stop_words: drop n-grams made only of English stop words (spaCy's list, minus "it").
    short_lines: add a feature for lines of at most three words (section headers mostly).
    lexicon: mark lines that name a product-engineering or an internal-IT technology (lexicon.py).
    headers: add a feature for lines that read as section headers (short, no sentence end).
    section: each line also carries the words of the section header above it.
    neighbours: each line also carries the words of the lines before and after it.
    posting: each line also carries the words of its whole posting.
    context_weight: how much the context features count beside the line's own.
    margin: how far the posting's p_cto must sit from 0.5 to lean one way; closer is "neutral".
    """

    word_ngrams: tuple[int, int] = (1, 2)
    accents: str = "fold"
    char_ngrams: tuple[int, int] | None = None
    C: float = 30.0
    class_weight: str | None = "balanced"
    min_df: int = 1
    margin: float = 0.05
    stop_words: bool = False
    short_lines: bool = True
    lexicon: bool = True
    headers: bool = True
    section: bool = False
    neighbours: bool = False
    posting: bool = True
    context_weight: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain JSON-able values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        """Rebuild a config saved by `to_dict`, tolerating keys from other versions."""
        known = {f for f in cls.__dataclass_fields__}
        # a card written before a feature existed describes a model without it
        kw: dict[str, Any] = dict.fromkeys(_ADDED_LATER, False)
        kw.update({k: v for k, v in d.items() if k in known})
        for key in ("word_ngrams", "char_ngrams"):
            if isinstance(kw.get(key), list):
                kw[key] = tuple(kw[key])
        return cls(**kw)


# options added after the first model format; an older card has none of them
_ADDED_LATER = ("lexicon", "headers", "section", "neighbours", "posting")
