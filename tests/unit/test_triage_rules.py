"""Triage keyword rules: category, severity, validity and responsibility from Chinese complaint text."""

from __future__ import annotations

import pytest

from services.triage.domain import classify


@pytest.mark.parametrize(("text", "category", "subcategory", "severity"), [
    ("厨房有很重的燃气味，快来人", "emergency", "gas", "emergency"),
    ("我妈被困在3号楼电梯里了", "emergency", "lift_entrapment", "emergency"),
    ("地下车库水浸了，水还在往里灌", "emergency", "flooding", "emergency"),
    ("楼道灯坏了一周了没人修", "service", "repair", "general"),
    ("小区门口垃圾堆了三天没人清理", "service", "cleaning", "general"),
    ("物业费涨价不合理，我们多户业主要打12345", "fees", "service_fee", "major"),
    ("楼上漏水到我家天花板", "neighbour", "leak_downstairs", "general"),
    ("建议小区多种点树", "service", "greening", "minor"),
    ("保安态度很差还骂人", "service", "attitude", "general"),
])
def test_classifies_typical_complaints(text, category, subcategory, severity):
    c = classify(text)
    assert (c.category.value, c.subcategory, c.severity.value) == (category, subcategory, severity)


def test_an_emergency_word_wins_over_an_ordinary_one():
    c = classify("电梯又坏了，现在有人被困在里面")
    assert c.subcategory == "lift_entrapment" and c.severity.value == "emergency"


def test_a_developer_defect_is_invalid_and_not_ours():
    c = classify("交房才一年墙体开裂，开发商不管")
    assert c.valid is False
    assert c.responsibility.value == "not_ours" and c.responsible_party.value == "developer"


def test_text_that_matches_nothing_goes_to_an_operator_with_low_confidence():
    c = classify("你好")
    assert c.subcategory == "other" and c.needs_review is True and c.confidence < 0.5


def test_every_decision_names_the_words_that_made_it():
    c = classify("电梯坏了，再不修我就找记者曝光")
    assert any("电梯" in r for r in c.reasons) and any("记者" in r for r in c.reasons)
    assert c.severity.value == "major"
