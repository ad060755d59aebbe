"""Every cross-validation fold reads lines exactly as the shipped model does.

Promotion (`train`), `review-labels` and `evaluate` all refit the pipeline fold by fold; if a
fold built its features differently (a missing option, no context), their figures would speak
of a model that is never shipped.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from classifier import Config, Sample, train
from classifier import features as features_module
from classifier.evaluate import out_of_fold
from classifier.model import training_docs
from classifier.retrain import Recipe, TrainingSet, same_fold_probabilities

POSTINGS = {
    "bank": [
        ("Responsibilities", "neutral"),
        ("Keep the branch network and the data centre running", "CIO"),
        ("Run the service desk and the laptop fleet", "CIO"),
        ("Renew licences and contracts with IT vendors", "CIO"),
        ("Benefits", "neutral"),
        ("The company pays for your health insurance", "neutral"),
    ],
    "saas": [
        ("What you will do", "neutral"),
        ("Lead the engineers who build our booking app", "CTO"),
        ("Own the architecture of the product and its APIs", "CTO"),
        ("Set up code review and CI/CD for every product team", "CTO"),
        ("Perks", "neutral"),
        ("We are a friendly team in the city centre and offer the latest laptop", "neutral"),
    ],
}
LOOSE = [
    ("Administer ERP and e-mail accounts for all staff", "CIO"),
    ("Patch the file servers and check the backups every week", "CIO"),
    ("Train office staff on the new HR system", "CIO"),
    ("Research new machine learning models for the product", "CTO"),
    ("Grow the mobile development team", "CTO"),
    ("Work with customers on their technical needs for our platform", "CTO"),
    ("Send your CV to our recruiter", "neutral"),
    ("Hybrid working, three days at the office", "neutral"),
    ("Good communication skills", "neutral"),
]
SHIPPED = replace(
    Config(), stop_words=True, short_lines=True, lexicon=True, headers=True, section=True,
    neighbours=True, posting=True,
)  # fmt: skip


def samples() -> list[Sample]:
    out = [
        Sample(text, label, "en", "authored", "", f"t:{pid}")
        for pid, lines in POSTINGS.items()
        for text, label in lines
    ]
    return out + [Sample(text, label, "en") for text, label in LOOSE]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, list[str]]]:
    """Record every pipeline a fold fits, with the documents it was fitted on."""
    seen: list[tuple[object, list[str]]] = []
    real = features_module.build_pipeline

    def build(config: Config):
        pipe = real(config)
        fit = pipe.fit

        def recording_fit(X, y=None, **kw):
            seen.append((pipe, list(X)))
            return fit(X, y, **kw)

        pipe.fit = recording_fit  # type: ignore[method-assign]
        return pipe

    monkeypatch.setattr(features_module, "build_pipeline", build)
    return seen


def steps(pipe):
    return dict(pipe.named_steps["features"].transformer_list)


def word_step(pipe):
    return steps(pipe)["word"]


def assert_folds_read_like_the_shipped_model(recorded, data: list[Sample]) -> None:
    shipped = train(data, SHIPPED)
    docs = training_docs(data, SHIPPED)
    folds = [(p, X) for p, X in recorded if p is not shipped.pipeline]
    assert folds, "no fold was fitted"
    for pipe, X in folds:
        assert set(X) <= set(docs), "a fold was fitted on documents the shipped model never sees"
        assert steps(pipe).keys() == steps(shipped.pipeline).keys()
        assert pipe.named_steps["features"].transformer_weights == (
            shipped.pipeline.named_steps["features"].transformer_weights
        )
        for name, step in steps(pipe).items():
            fold_analyze = step.build_analyzer()
            shipped_analyze = steps(shipped.pipeline)[name].build_analyzer()
            for doc in docs:
                assert fold_analyze(doc) == shipped_analyze(doc), (name, doc)


def test_training_docs_carry_the_section_and_neighbours() -> None:
    docs = training_docs(samples(), SHIPPED)
    shipped = train(samples(), SHIPPED)
    line = steps(shipped.pipeline)["word"].build_analyzer()
    context = steps(shipped.pipeline)["context"].build_analyzer()
    own, around = line(docs[5]), context(docs[5])  # "The company pays for your health..."
    assert "health insurance" in own and "the" not in own  # stop words go, as configured
    assert not any(f.startswith(("§", "‹", "›", "¶")) for f in own)
    assert "§benefit" in around and "‹benefit" in around  # lemmas, as for the line
    assert "¶booking" not in around and "¶vendor" in around  # its own posting, not another
    assert "<short>" in line(docs[0])
    assert docs[-1] == LOOSE[-1][0] and context(docs[-1]) == []  # outside a posting


def test_evaluate_folds_build_the_shipped_features(recorded) -> None:
    out_of_fold(samples(), SHIPPED, folds=2)
    assert_folds_read_like_the_shipped_model(recorded, samples())


def test_train_and_review_folds_build_the_shipped_features(recorded) -> None:
    data = samples()
    training = TrainingSet(tuple(data), tuple(1.0 for _ in data), ())
    same_fold_probabilities(training, [Recipe(SHIPPED, base=False, extra=tuple(data))], (), 2)
    assert_folds_read_like_the_shipped_model(recorded, data)
