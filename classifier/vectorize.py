"""The word TF-IDF vectoriser, in its own module because it imports scikit-learn at load time
(a pickled model refers to it by import path; `ciocto --help` must not pay for sklearn)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer


class LineTfidf(TfidfVectorizer):
    """TfidfVectorizer with a faster transform: features map to columns in one pass and numpy
    counts them. Fitting is scikit-learn's own; the matrices are identical (tested)."""

    def transform(self, raw_documents: Any) -> Any:
        self._check_vocabulary()
        analyze = self.build_analyzer()
        get = self.vocabulary_.get
        indices: list[int] = []
        indptr = [0]
        for doc in raw_documents:
            indices.extend([j for j in map(get, analyze(doc)) if j is not None])
            indptr.append(len(indices))
        counts = sparse.csr_matrix(
            (np.ones(len(indices), dtype=self.dtype), indices, indptr),
            shape=(len(indptr) - 1, len(self.vocabulary_)),
        )
        counts.sum_duplicates()
        if self.binary:
            counts.data.fill(1)
        return self._tfidf.transform(counts, copy=False)


class ContextTfidf(LineTfidf):
    """LineTfidf for the context part of documents (see features.in_context): every line of a
    posting carries the same posting, so each distinct context is analysed once and its row
    repeated, instead of looking up a posting's words once per line."""

    def transform(self, raw_documents: Any) -> Any:
        unique, rows = self.transform_unique(raw_documents)
        return unique[rows] if len(rows) else unique

    def transform_unique(self, raw_documents: Any) -> tuple[Any, Any]:
        """Return (the matrix of the distinct contexts, the row of each document in it)."""
        sep = "\x1f"
        where: dict[str, int] = {}
        rows = [where.setdefault(sep + doc.partition(sep)[2], len(where)) for doc in raw_documents]
        return super().transform(list(where)), np.asarray(rows, dtype=np.intp)
