"""Stack marks: a skills line names whose technology it is, even a framework training never saw."""

from __future__ import annotations

import pytest

from classifier.features import word_features
from classifier.lexicon import stack_marks
from classifier.normalize import folded_tokens


@pytest.mark.parametrize(
    "line, marks",
    [
        ("* .NET Core", ["<stack:dev>"]),
        ("Html5/Angular", ["<stack:dev>"]),
        ("Ruby on Rails, PostgreSQL", ["<stack:dev>"]),
        ("Kinh nghiệm với Spring Boot và ReactJS", ["<stack:dev>"]),
        ("ITIL v4, VMware ESXi, Active Directory", ["<stack:it>"]),
        ("Quản trị Windows Server, Office 365", ["<stack:it>"]),
        ("Build Docker images for the ERP team", ["<stack:dev>", "<stack:it>"]),
        ("Excellent communication skills", []),
        ("Go to the office three days a week", []),  # "go" alone is a verb
        ("Chăm sóc sức khỏe", []),  # folded Vietnamese syllables: soc, sap, lua, lan
        ("Sắp xếp lịch họp, lan tỏa văn hóa", []),
        ("Triển khai SAP ERP và mạng LAN cho nhà máy", ["<stack:it>"]),
    ],
)
def test_stack_marks(line: str, marks: list[str]) -> None:
    assert stack_marks(folded_tokens(line)) == marks


def test_marks_are_features_only_when_asked() -> None:
    assert "<stack:dev>" in word_features("Flutter, Dart", lexicon=True)
    assert "<stack:dev>" not in word_features("Flutter, Dart")
