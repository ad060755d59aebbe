"""A whole posting: every line tagged, and the posting's overall leaning with its reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import BadInput
from .features import in_context
from .model import LineScore, Model
from .normalize import nfc
from .segment import Line, segment
from .textio import check_text


@dataclass(frozen=True)
class TaggedLine:
    """One line of a posting with the model's tag, probabilities and evidence."""

    n: int
    text: str
    score: LineScore

    def to_dict(self) -> dict[str, Any]:
        s = self.score
        return {
            "n": self.n,
            "text": self.text,
            "tag": s.tag,
            "p_cto": round(s.p_cto, 4),
            "p_cio": round(s.p_cio, 4),
            "p_neutral": round(s.p_neutral, 4),
            "evidence": [[term, w] for term, w in s.evidence],
        }


@dataclass(frozen=True)
class Posting:
    """The result for one posting; `to_dict` is the JSON contract."""

    leaning: str
    p_cto: float
    confidence: float
    counts: dict[str, int]
    lines: list[TaggedLine]
    strongest: dict[str, int | None]
    model: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "leaning": self.leaning,
            "p_cto": round(self.p_cto, 4),
            "confidence": round(self.confidence, 4),
            "counts": dict(self.counts),
            "lines": [line.to_dict() for line in self.lines],
            "strongest": dict(self.strongest),
            "strongest_text": {
                side: next((t.text for t in self.lines if t.n == n), None)
                for side, n in self.strongest.items()
            },
            "model": dict(self.model),
        }


def leaning_of(scores: list[LineScore], margin: float = 0.05) -> tuple[str, float, float]:
    """Return (leaning, p_cto, confidence) from line scores; neutral lines carry no weight.

    p_cto is the mean of each signal line's CTO share p_cto / (p_cto + p_cio), weighted by how
    sure the model is that the line is not neutral. A posting whose p_cto lies within `margin`
    of 0.5 (the two sides cancel), or that has no CIO/CTO line at all, leans neutral.
    """
    num = den = 0.0
    for s in scores:
        if s.tag == "neutral":
            continue
        # weight (p_cto + p_cio) times share p_cto / (p_cto + p_cio) is just p_cto
        num += s.p_cto
        den += s.p_cto + s.p_cio
    if den == 0:
        return "neutral", 0.5, 1.0
    p = num / den
    if abs(p - 0.5) < margin:
        return "neutral", p, 1.0 - abs(p - 0.5) * 2
    return ("CTO" if p > 0.5 else "CIO"), p, max(p, 1.0 - p)


def classify_lines(lines: list[Line], model: Model, evidence: int = 5) -> Posting:
    """Return the Posting for already segmented lines."""
    return _posting(lines, model.score_posting([line.text for line in lines], evidence), model)


def _posting(lines: list[Line], scores: list[LineScore], model: Model) -> Posting:
    tagged = [TaggedLine(line.n, line.text, s) for line, s in zip(lines, scores, strict=True)]
    leaning, p, conf = leaning_of(scores, model.config.margin)
    counts = {"CIO": 0, "CTO": 0, "neutral": 0}
    for s in scores:
        counts[s.tag] += 1
    strongest: dict[str, int | None] = {}
    for side, key in (("CIO", "p_cio"), ("CTO", "p_cto")):
        best = max(
            (t for t in tagged if t.score.tag == side),
            key=lambda t, key=key: getattr(t.score, key),  # type: ignore[misc]
            default=None,
        )
        strongest[side] = best.n if best else None
    card = model.card
    info = {"name": model.name, "created": str(card.get("created", ""))}
    return Posting(leaning, p, conf, counts, tagged, strongest, info)


def classify_many(texts: list[str], model: Model, evidence: int = 5) -> list[Posting | BadInput]:
    """Return a Posting per text (or the BadInput that text raised), scoring all lines at once.

    Gives exactly what `classify` gives for each text; batching only saves per-call overhead.
    """
    segmented: list[list[Line] | BadInput] = []
    for text in texts:
        try:
            segmented.append(_segment_checked(text))
        except BadInput as e:
            segmented.append(e)
    config = model.config
    flat = [
        doc
        for lines in segmented
        if isinstance(lines, list)
        for doc in in_context([line.text for line in lines], config)
    ]
    scores = iter(model.score_lines(flat, evidence=evidence))
    out: list[Posting | BadInput] = []
    for lines in segmented:
        if isinstance(lines, BadInput):
            out.append(lines)
        else:
            out.append(_posting(lines, [next(scores) for _ in lines], model))
    return out


def classify(text: str, model: Model, evidence: int = 5) -> Posting:
    """Return every line of a posting tagged, and its leaning."""
    return classify_lines(_segment_checked(text), model, evidence)


def _segment_checked(text: str) -> list[Line]:
    check_text(text)
    lines = segment(nfc(text))
    if not lines:
        raise BadInput("the posting has no text to classify (only whitespace or markup)")
    return lines
