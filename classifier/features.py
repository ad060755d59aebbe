"""Feature extraction: the analyzers the TF-IDF vectorisers call, and the scikit-learn pipeline.

Analyzers are module-level functions (bound with functools.partial) because a pickled model
refers to them by import path.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from .config import Config
from .lexicon import stack_marks
from .normalize import fold, folded_tokens, nfc, tokens

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


def _ngrams(grams: list[str], lo: int, hi: int, stop: frozenset[str] = frozenset()) -> list[str]:
    out: list[str] = []
    for n in range(lo, hi + 1):
        # unigrams and (without stop words) bigrams are the hot path: build them in one pass
        if n == 1:
            out.extend([g for g in grams if g not in stop] if stop else grams)
        elif n == 2 and not stop:
            out.extend([a + " " + b for a, b in zip(grams, grams[1:], strict=False)])
        else:
            for i in range(len(grams) - n + 1):
                window = grams[i : i + n]
                if not stop or not all(g in stop for g in window):
                    out.append(" ".join(window))
    return out


_STOP: frozenset[str] | None = None


def stop_words() -> frozenset[str]:
    """Return spaCy's English stop words, minus "it" (which is IT, once case-folded)."""
    global _STOP
    if _STOP is None:
        from spacy.lang.en.stop_words import STOP_WORDS

        _STOP = frozenset(STOP_WORDS) - {"it"}
    return _STOP


SHORT = "<short>"  # a line of at most three words: headers mostly ("Kinh nghiệm", "Benefits")
HEADER = "<header>"  # a line that reads as a section header (see is_header)

# A line can travel with its place in the posting: "line SEP header above SEP previous SEP next".
# Plain lines (no SEP) are valid documents too: they simply have no context.
SEP = "\x1f"
SECTION = "§"  # prefix of the features taken from the section header above the line
PREV, NEXT = "‹", "›"  # prefixes of the features taken from the neighbouring lines
POSTING = "¶"  # prefix of the features taken from the whole posting
HEADER_WORDS = 6
_HEADER_END = (".", ";", ",", "!", "?")


def is_header(text: str, words: list[str] | None = None) -> bool:
    """Return True for a line that reads as a section header: short, no sentence ending.

    `words` are the line's folded tokens, when the caller has them already.
    """
    n = len(folded_tokens(text) if words is None else words)
    return 0 < n <= HEADER_WORDS and not text.rstrip(" *#_").endswith(_HEADER_END)


def in_context(texts: list[str], config: Config) -> list[str]:
    """Return the documents the model reads for one posting's lines, in order.

    With config.section each line carries the header above it; with config.neighbours its
    previous and next lines; with config.posting the whole posting. Without any of them the
    documents are the lines themselves.
    """
    if not has_context(config):
        return list(texts)
    whole = "\n".join(texts) if config.posting else ""
    out = []
    header = ""
    for i, text in enumerate(texts):
        prev = texts[i - 1] if i > 0 and config.neighbours else ""
        nxt = texts[i + 1] if i + 1 < len(texts) and config.neighbours else ""
        out.append(SEP.join((text, header if config.section else "", prev, nxt, whole)))
        if config.section and is_header(text):
            header = text
    return out


def has_context(config: Config) -> bool:
    """Return True when a config reads lines in their posting."""
    return bool(config.section or config.neighbours or config.posting)


def line_text(doc: str) -> str:
    """Return the line itself from a document built by `in_context`."""
    return doc.split(SEP, 1)[0]


def word_features(
    text: str,
    ngrams: tuple[int, int] = (1, 2),
    accents: str = "fold",
    stop: bool = False,
    short: bool = False,
    lexicon: bool = False,
    headers: bool = False,
) -> list[str]:
    """Return the word n-gram features of one line (folded; plus accented ones with "both");
    a document from `in_context` gives those of its line (`context_features` read the rest)."""
    if SEP in text:
        text = line_text(text)
    stops = stop_words() if stop else frozenset()
    if accents != "both":
        grams = line_tokens(text)
        feats = _ngrams(grams, *ngrams, stops)
    else:
        toks = tokens(text)
        grams = [t[1] for t in toks]
        feats = _ngrams(grams, *ngrams, stops)
        feats.extend("~" + g for g in _ngrams([t[0] for t in toks], *ngrams) if not g.isascii())
    if short and 0 < len(grams) <= 3:
        feats.append(SHORT)
    if lexicon:
        feats.extend(stack_marks(grams))
    if headers and is_header(text, grams):
        feats.append(HEADER)
    return feats


_POSTING_MEMO: dict[str, frozenset[str]] = {}
_LINE_MEMO: dict[str, list[str]] = {}
_LINE_MEMO_SIZE = 50_000


def line_tokens(line: str) -> list[str]:
    """Return folded_tokens(line), remembered: a line is read for itself and again as part of
    its posting's context, and boilerplate lines recur across postings. Do not mutate."""
    out = _LINE_MEMO.get(line)
    if out is None:
        if len(_LINE_MEMO) >= _LINE_MEMO_SIZE:
            _LINE_MEMO.clear()
        out = _LINE_MEMO[line] = folded_tokens(line)
    return out


def context_features(doc: str) -> list[str]:
    """Return the features of a line's place in its posting: the words of the header above
    (§), of the lines before and after (‹ ›) and of the whole posting (¶), each word once."""
    if SEP not in doc:
        return []
    _, header, prev, nxt, whole = (doc.split(SEP) + ["", "", "", ""])[:5]
    feats = [SECTION + t for t in dict.fromkeys(folded_tokens(header))]
    feats.extend(PREV + t for t in dict.fromkeys(folded_tokens(prev)))
    feats.extend(NEXT + t for t in dict.fromkeys(folded_tokens(nxt)))
    if whole:
        words = _POSTING_MEMO.get(whole)
        if words is None:  # every line of a posting carries the same text: tokenise it once
            if len(_POSTING_MEMO) > 64:
                _POSTING_MEMO.clear()
            # line by line: most lines take fold's fast ASCII path, a whole posting rarely does
            words = _POSTING_MEMO[whole] = frozenset(
                t for line in whole.split("\n") for t in line_tokens(line)
            )
        feats.extend(sorted(POSTING + t for t in words))
    return feats


def word_surfaces(
    text: str, ngrams: tuple[int, int] = (1, 2), accents: str = "fold"
) -> dict[str, str]:
    """Return {feature: the words of the line that produced it}, to show evidence as written."""
    toks = tokens(text)
    composed = nfc(text)
    out: dict[str, str] = {}
    for n in range(ngrams[0], ngrams[1] + 1):
        for i in range(len(toks) - n + 1):
            span = toks[i : i + n]
            surface = " ".join(composed[t[2] : t[3]].casefold() for t in span)
            out.setdefault(" ".join(t[1] for t in span), surface)
            if accents == "both" and not surface.isascii():
                out.setdefault("~" + " ".join(t[0] for t in span), surface)
    return out


def char_preprocess(text: str) -> str:
    """Return the folded text the character n-grams are taken from (the line, not its context)."""
    return fold(line_text(text))


def word_analyzer(config: Config) -> partial[list[str]]:
    """Return the word analyzer of a config: the one every fit, fold and prediction uses."""
    return partial(
        word_features,
        ngrams=config.word_ngrams,
        accents=config.accents,
        stop=config.stop_words,
        short=config.short_lines,
        lexicon=config.lexicon,
        headers=config.headers,
    )


def is_context_feature(name: str) -> bool:
    """Return True for a feature taken from a line's context rather than from the line."""
    return name.startswith((SECTION, PREV, NEXT, POSTING))


def build_pipeline(config: Config) -> Pipeline:
    """Return an unfitted TF-IDF + logistic-regression pipeline for `config`."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    from .vectorize import ContextTfidf, LineTfidf

    parts = [
        (
            "word",
            LineTfidf(
                analyzer=word_analyzer(config),
                sublinear_tf=True,
                min_df=config.min_df,
                dtype=_float32(),
            ),
        )
    ]
    weights = {}
    if has_context(config):
        # its own vectoriser and norm: a posting's hundred words must not drown the line's ten
        parts.append(
            (
                "context",
                ContextTfidf(
                    analyzer=context_features,
                    sublinear_tf=True,
                    min_df=config.min_df,
                    dtype=_float32(),
                ),
            )
        )
        weights["context"] = config.context_weight
    if config.char_ngrams:
        parts.append(
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    preprocessor=char_preprocess,
                    ngram_range=config.char_ngrams,
                    sublinear_tf=True,
                    min_df=max(2, config.min_df),
                    dtype=_float32(),
                ),
            )
        )
    clf = LogisticRegression(
        C=config.C, class_weight=config.class_weight, max_iter=5000, random_state=0
    )
    union = FeatureUnion(parts, transformer_weights=weights or None)
    return Pipeline([("features", union), ("clf", clf)])


def _float32() -> type:
    import numpy as np

    return np.float32
