"""ciocto: tag each line of a job posting as CIO-like, CTO-like or neutral, and say which way
the whole posting leans. English and Vietnamese (with or without diacritics).

    >>> from classifier import load_model, classify
    >>> result = classify("Lead the engineering team; own the product architecture", load_model())
    >>> result.leaning
    'CTO'
"""

from .api import train_default
from .config import Config
from .data import LABELS, Sample, canonical_label, load_samples
from .errors import BadInput, ClassifierError, DataError, ModelIntegrityError, ModelNotFound
from .evaluate import cross_validate, evaluate_postings, read_postings
from .model import LineScore, Model, train
from .normalize import fold, normalize
from .posting import Posting, TaggedLine, classify, classify_lines, classify_many, leaning_of
from .segment import Line, segment
from .store import load_model, save_model
from .textio import check_text, decode

__all__ = [
    "LABELS",
    "BadInput",
    "ClassifierError",
    "Config",
    "DataError",
    "Line",
    "LineScore",
    "Model",
    "ModelIntegrityError",
    "ModelNotFound",
    "Posting",
    "Sample",
    "TaggedLine",
    "canonical_label",
    "check_text",
    "classify",
    "classify_lines",
    "classify_many",
    "cross_validate",
    "decode",
    "evaluate_postings",
    "fold",
    "leaning_of",
    "load_model",
    "load_samples",
    "normalize",
    "read_postings",
    "save_model",
    "segment",
    "train",
    "train_default",
]
