"""The line model: training, per-line probabilities and exact linear evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .config import Config
from .data import LABELS, Sample, samples_sha256
from .errors import DataError
from .features import (
    HEADER,
    SEP,
    SHORT,
    build_pipeline,
    has_context,
    in_context,
    is_context_feature,
    line_text,
    word_surfaces,
)

if TYPE_CHECKING:
    import numpy as np
    from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class LineScore:
    """The model's view of one line: tag, class probabilities and the terms that decided it."""

    tag: str
    p_cto: float
    p_cio: float
    p_neutral: float
    evidence: tuple[tuple[str, float], ...] = ()


@dataclass
class Model:
    """A fitted pipeline with its card (name, config, versions, data hash, metrics)."""

    pipeline: Pipeline
    card: dict[str, Any]
    _names: Any = field(default=None, repr=False)
    _config: Config | None = field(default=None, repr=False)
    _own: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return str(self.card.get("name", "unnamed"))

    @property
    def config(self) -> Config:
        if self._config is None:  # parsed once: postings ask for it one by one
            self._config = Config.from_dict(self.card.get("config", {}))
        return self._config

    def score_lines(self, texts: Sequence[str], evidence: int = 5) -> list[LineScore]:
        """Return one LineScore per text; `evidence` is how many terms to keep per line.

        A text is a line, or a document from `in_context` (the line with its place in its
        posting): `score_posting` builds those.
        """
        if not texts:
            return []
        import numpy as np

        # Postings repeat lines ("Job description", "Competitive salary"): score each once.
        first: dict[str, int] = {}
        where = [first.setdefault(t, len(first)) for t in texts]
        unique = list(first)
        clf = self.pipeline.named_steps["clf"]
        blocks = self._blocks(unique)
        proba = _softmax(clf, blocks)
        classes = list(clf.classes_)
        i_cio, i_cto, i_neu = (classes.index(c) for c in LABELS)
        # A line with no known word of its own says nothing about either role, whatever
        # posting it sits in and however short it is.
        known = np.zeros(len(unique))
        for b in blocks:
            if not b.context:
                own = self._word_columns()[b.start : b.start + b.X.shape[1]]
                known += np.asarray((b.X != 0).astype(np.float32) @ own).ravel()
        empty = known == 0
        proba[empty] = 0.0
        proba[empty, i_neu] = 1.0
        tags = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
        direction = clf.coef_[i_cto] - clf.coef_[i_cio] if evidence else None
        scores = []
        for r, text in enumerate(unique):
            ev: tuple[tuple[str, float], ...] = ()
            if direction is not None and not empty[r]:
                ev = self._evidence(text, _row(blocks, r), direction, evidence)
            p = proba[r]
            scores.append(
                LineScore(
                    tag=str(tags[r]),
                    p_cto=float(p[i_cto]),
                    p_cio=float(p[i_cio]),
                    p_neutral=float(p[i_neu]),
                    evidence=ev,
                )
            )
        return [scores[u] for u in where]

    def _blocks(self, docs: list[str]) -> list[_Block]:
        """Return the feature matrix of the documents, one block per part of the union.

        A posting's context is the same for all its lines: its block holds each distinct
        context once, with the row of each line, so scoring costs one context per posting.
        """
        from .vectorize import ContextTfidf

        union = self.pipeline.named_steps["features"]
        weights = union.transformer_weights or {}
        out, start = [], 0
        for name, step in union.transformer_list:
            w = weights.get(name, 1.0)
            if isinstance(step, ContextTfidf):
                X, rows = step.transform_unique(docs)
            else:
                X, rows = step.transform(docs), None
            X = (X * w if w != 1.0 else X).tocsr()
            out.append(_Block(X, rows, start))
            start += X.shape[1]
        return out

    def _evidence(
        self, text: str, row: tuple[Any, Any], direction: np.ndarray, k: int
    ) -> tuple[tuple[str, float], ...]:
        """Return the k terms with the largest |coef(CTO) - coef(CIO)| x tf-idf in row r.

        Positive weights push towards CTO, negative towards CIO; the sum over all terms plus the
        intercept difference is exactly the line's CTO-vs-CIO log-odds.
        """
        idx, values = row
        contrib = values * direction[idx]
        order = sorted(range(len(idx)), key=lambda j: -abs(contrib[j]))[:k]
        names = self._feature_names()
        cfg = self.config
        surfaces = word_surfaces(line_text(text), cfg.word_ngrams, cfg.accents)
        out = []
        for j in order:
            if contrib[j] == 0:
                continue
            kind, _, feat = str(names[idx[j]]).partition("__")
            term = surfaces.get(feat, feat) if kind == "word" else feat.strip()
            if feat == SHORT:
                term = "(short line)"
            elif feat == HEADER:
                term = "(reads as a header)"
            elif feat in _STACK_NAMES:
                term = _STACK_NAMES[feat]
            elif is_context_feature(feat):
                term = f"({_CONTEXT_NAMES[feat[0]]}: {feat[1:]})"
            out.append((term, round(float(contrib[j]), 4)))
        return tuple(out)

    def score_posting(self, texts: Sequence[str], evidence: int = 5) -> list[LineScore]:
        """Return one LineScore per line of one posting, each line read in its place."""
        return self.score_lines(in_context(list(texts), self.config), evidence)

    def _word_columns(self) -> Any:
        """Return a 0/1 vector over features marking the line's own words (not its context,
        not the short-line or header marks): what makes a line say something."""
        if self._own is None:
            import numpy as np

            marks = {SHORT, HEADER}
            feats = [str(n).partition("__")[2] for n in self._feature_names()]
            self._own = np.array(
                [not (f in marks or is_context_feature(f)) for f in feats], dtype=np.float32
            )
        return self._own

    def _feature_names(self) -> Any:
        if self._names is None:
            self._names = self.pipeline.named_steps["features"].get_feature_names_out()
        return self._names


@dataclass(frozen=True)
class _Block:
    """One part's features: X (the distinct contexts when `rows` maps lines to them)."""

    X: Any
    rows: Any
    start: int

    @property
    def context(self) -> bool:
        return self.rows is not None


def _softmax(clf: Any, blocks: list[_Block]) -> Any:
    """Return clf.predict_proba of the blocks' union, computed block by block: a context
    block's scores are computed once per distinct context and repeated per line."""
    import numpy as np

    coef = clf.coef_
    n = blocks[0].X.shape[0] if blocks[0].rows is None else len(blocks[0].rows)
    z = np.tile(clf.intercept_, (n, 1)).astype(np.float64)
    for b in blocks:
        part = np.asarray(b.X @ coef[:, b.start : b.start + b.X.shape[1]].T)
        z += part[b.rows] if b.context else part
    if z.shape[1] == 1:  # a binary model: one column, the second class's log-odds
        z = np.hstack([np.zeros_like(z), z])
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    return z / z.sum(axis=1, keepdims=True)


def _row(blocks: list[_Block], r: int) -> tuple[Any, Any]:
    """Return (column indices, values) of document r across all blocks."""
    import numpy as np

    idx, val = [], []
    for b in blocks:
        i = b.rows[r] if b.context else r
        lo, hi = b.X.indptr[i], b.X.indptr[i + 1]
        idx.append(b.X.indices[lo:hi] + b.start)
        val.append(b.X.data[lo:hi])
    return np.concatenate(idx), np.concatenate(val)


_STACK_NAMES = {
    "<stack:dev>": "(names a product-engineering technology)",
    "<stack:it>": "(names an internal-IT technology)",
}
_CONTEXT_NAMES = {"§": "section", "‹": "line before", "›": "line after", "¶": "posting"}


def training_docs(samples: Sequence[Sample], config: Config) -> list[str]:
    """Return the documents a model is fitted on: each line, read in its written posting.

    Lines without a posting id are documents on their own. Training, every cross-validation
    fold and prediction (`Model.score_posting`) build documents with the same `in_context`.
    """
    docs = [s.text for s in samples]
    if not has_context(config):
        return docs
    i = 0
    while i < len(samples):
        j = i + 1
        if samples[i].posting:
            while j < len(samples) and samples[j].posting == samples[i].posting:
                j += 1
            docs[i:j] = in_context(docs[i:j], config)
        i = j
    return docs


def fitted_config(config: Config, docs: Sequence[str]) -> Config:
    """Return the config a model fitted on these documents really has: without context when
    no document carries one (lines with no written posting), since nothing could be learnt."""
    if has_context(config) and not any(SEP in d for d in docs):
        return replace(config, section=False, neighbours=False, posting=False)
    return config


def train(
    samples: Sequence[Sample],
    config: Config | None = None,
    name: str = "default",
    weights: Sequence[float] | None = None,
) -> Model:
    """Return a Model fitted on the samples; the same samples and config give the same model."""
    config = config or Config()
    labels = {s.label for s in samples}
    missing = [lab for lab in LABELS if lab not in labels]
    if missing:
        raise DataError(f"training data has no {missing[0]!r} lines; every class needs examples")
    docs = training_docs(samples, config)
    config = fitted_config(config, docs)
    pipeline = build_pipeline(config)
    fit_params = {"clf__sample_weight": list(weights)} if weights is not None else {}
    pipeline.fit(docs, [s.label for s in samples], **fit_params)
    card = {
        "name": name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels": list(LABELS),
        "config": config.to_dict(),
        "data_sha256": samples_sha256(samples),
        "n_samples": len(samples),
        "versions": _versions(),
    }
    return Model(pipeline, card)


def _versions() -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("ciocto", "scikit-learn", "spacy", "numpy", "joblib"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out
