"""ciocto: tag each line of a job posting as CIO-like, CTO-like or neutral, and say which way
the whole posting leans. English and Vietnamese (with or without diacritics).

    >>> from classifier import load_model, classify
    >>> result = classify("Lead the engineering team; own the product architecture", load_model())
    >>> result.leaning
    'CTO'
"""

from .config import Config
from .data import LABELS, Sample, canonical_label, load_samples
from .errors import BadInput, ClassifierError, DataError, ModelIntegrityError, ModelNotFound
from .evaluate import (
    cross_validate,
    evaluate_lines,
    evaluate_postings,
    read_line_rows,
    read_postings,
)
from .labels import LabelFile, read_labels
from .model import LineScore, Model, train
from .normalize import fold, normalize
from .posting import Posting, TaggedLine, classify, classify_lines, classify_many, leaning_of
from .registry import list_models, remove_model, show_model, use_model
from .retrain import RetrainResult, train_with_labels
from .review import review_labels, suggest_lines
from .segment import Line, segment
from .store import load_model, save_model
from .textio import check_text, decode

__all__ = [
    "LABELS",
    "BadInput",
    "ClassifierError",
    "Config",
    "DataError",
    "LabelFile",
    "Line",
    "LineScore",
    "Model",
    "ModelIntegrityError",
    "ModelNotFound",
    "Posting",
    "RetrainResult",
    "Sample",
    "TaggedLine",
    "canonical_label",
    "check_text",
    "classify",
    "classify_lines",
    "classify_many",
    "cross_validate",
    "decode",
    "evaluate_lines",
    "evaluate_postings",
    "fold",
    "leaning_of",
    "list_models",
    "load_model",
    "load_samples",
    "normalize",
    "read_labels",
    "read_line_rows",
    "read_postings",
    "remove_model",
    "review_labels",
    "save_model",
    "segment",
    "show_model",
    "suggest_lines",
    "train",
    "train_with_labels",
    "use_model",
]
