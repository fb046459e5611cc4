"""A policy question that names an order belongs to the order's topic."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.own_order import OwnOrderResolver, own_order_topic


@pytest.mark.parametrize(
    ("intent", "key", "entities", "topic"),
    [
        ("faq", "faq/refund_time", ["order_id"], "refund"),
        ("faq", "faq/return_policy", ["order_id"], "return_exchange"),
        ("faq", "faq/delivery_time", ["order_id", "phone_tail"], "logistics"),
        ("faq", "faq/refund_time", [], None),  # no order named: the general answer
        ("faq", "faq/membership", ["order_id"], None),  # no order topic answers it
        ("faq", "faq/missing_item", ["order_id"], None),  # goods missing: the after-sales answer, no return
        ("refund", "faq/refund_time", ["order_id"], None),  # already an order topic
    ],
)
def test_own_order_topic(intent, key, entities, topic):
    assert own_order_topic(intent, key, entities) == topic


def test_the_component_relabels_only_the_intent():
    message = Message(data={
        "text": "2025061800002 能退款吗 退的话多久到",
        "intent": {"name": "faq", "confidence": 0.91},
        "entities": [{"entity": "order_id", "value": "2025061800002"}],
        "response_selector": {"faq": {"response": {"intent_response_key": "faq/refund_time"}}},
    })
    OwnOrderResolver().process([message])
    assert message.get("intent") == {"name": "refund", "confidence": 0.91}
    assert message.get("entities")[0]["value"] == "2025061800002"
