"""The model's knobs: frozen, hashable, saved into the card and read back from older cards."""

from __future__ import annotations

from dataclasses import replace

from classifier import Config


def test_config_is_hashable_and_round_trips() -> None:
    config = replace(Config(), lexicon=True, section=True, char_ngrams=(2, 4))
    assert hash(config) == hash(Config.from_dict(config.to_dict()))
    assert Config.from_dict(config.to_dict()) == config
    assert len({Config(), Config(), config}) == 2


def test_a_card_from_an_older_version_reads_with_defaults() -> None:
    old = {"word_ngrams": [1, 2], "C": 30.0, "short_lines": True, "extra": {}, "gone": 1}
    config = Config.from_dict(old)
    assert config.word_ngrams == (1, 2) and config.C == 30.0
    assert not config.section and not config.neighbours  # an old model had no context
