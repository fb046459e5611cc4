"""Sibling-aware fallback: the pure rule, and the Rasa component on a real Message."""

from __future__ import annotations

import pytest
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.fallback import SiblingAwareFallbackClassifier, should_fall_back


@pytest.mark.parametrize(("ranking", "fallback"), [
    # order_status and logistics split one intention: take the top one
    ([("order_status", 0.48), ("logistics", 0.47), ("refund", 0.02)], False),
    # siblings together still too unsure
    ([("order_status", 0.25), ("logistics", 0.2), ("refund", 0.2)], True),
    # a real rival outside the group within the margin
    ([("order_status", 0.45), ("logistics", 0.1), ("complaint", 0.4)], True),
    ([("refund", 0.5), ("return_exchange", 0.45), ("greet", 0.01)], False),
    # unrelated intents behave as in Rasa
    ([("refund", 0.55), ("logistics", 0.44)], False),
    ([("refund", 0.52), ("complaint", 0.47)], True),
    ([("greet", 0.4), ("thank", 0.1)], True),
    ([], True),
])
def test_should_fall_back(ranking: list[tuple[str, float]], fallback: bool) -> None:
    assert should_fall_back(ranking, 0.5, 0.1) is fallback


def test_without_groups_it_is_rasas_rule() -> None:
    ranking = [("order_status", 0.48), ("logistics", 0.47)]
    assert should_fall_back(ranking, 0.5, 0.1, groups=())


def message(ranking: list[tuple[str, float]]) -> Message:
    return Message(data={
        "text": "我的订单2025061800004到哪了",
        "intent": {"name": ranking[0][0], "confidence": ranking[0][1]},
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
    })


def test_component_keeps_the_top_sibling_where_rasa_falls_back() -> None:
    ranking = [("order_status", 0.48), ("logistics", 0.47), ("refund", 0.05)]
    config = {"threshold": 0.5, "ambiguity_threshold": 0.1}

    ours = message(ranking)
    SiblingAwareFallbackClassifier(
        {**SiblingAwareFallbackClassifier.get_default_config(), **config}
    ).process([ours])
    assert ours.data["intent"]["name"] == "order_status"

    stock = message(ranking)
    FallbackClassifier(config).process([stock])
    assert stock.data["intent"]["name"] == "nlu_fallback"


def test_component_still_falls_back_on_nonsense() -> None:
    msg = message([("greet", 0.3), ("out_of_scope", 0.28), ("thank", 0.2)])
    SiblingAwareFallbackClassifier(SiblingAwareFallbackClassifier.get_default_config()).process(
        [msg]
    )
    assert msg.data["intent"]["name"] == "nlu_fallback"
    assert msg.data["intent_ranking"][0]["name"] == "nlu_fallback"
