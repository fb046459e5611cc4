"""The intent ensemble: DIET's ranking averaged with a character n-gram linear model."""

from __future__ import annotations

from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.ensemble import IntentEnsemble, combine, decide, diet_distribution


def test_diet_distribution_gives_the_faq_share_to_the_selected_key():
    parse = {
        "intent_ranking": [{"name": "faq", "confidence": 0.6}, {"name": "refund", "confidence": 0.3},
                           {"name": "nlu_fallback", "confidence": 0.5}],
        "response_selector": {"faq": {"response": {"intent_response_key": "faq/refund_time"}}},
    }
    assert diet_distribution(parse) == {"faq/refund_time": 0.6, "refund": 0.3}


def test_combine_weights_the_linear_model():
    out = combine({"a": 1.0}, {"a": 0.2, "b": 0.8}, weight=0.7)
    assert round(out["a"], 2) == 0.44 and round(out["b"], 2) == 0.56


def test_decide_keeps_a_request_for_a_person_and_rescues_a_fallback_only_when_sure():
    combined = {"cancel_order": 0.6, "deny": 0.3}
    assert decide("deny", combined, 0.35) == ("cancel_order", 0.6)
    assert decide("out_of_scope", combined, 0.35) == ("cancel_order", 0.6)
    assert decide("human_agent", combined, 0.35) is None
    assert decide("nlu_fallback", {"a": 0.3, "b": 0.2}, 0.35) is None
    assert decide("nlu_fallback", combined, 0.35) == ("cancel_order", 0.6)


def _message(text: str, intent: str, key: str | None = None) -> Message:
    data = {"text": text, "intent": intent}
    if key:
        data["intent_response_key"] = key
    return Message(data=data)


def test_trained_component_moves_a_confident_diet_mistake_and_the_faq_key(tmp_path):
    storage = LocalModelStorage(tmp_path)
    resource = Resource("ensemble")
    component = IntentEnsemble.create({"weight": 0.9}, storage, resource, None)  # type: ignore[arg-type]
    examples = [_message(t, "cancel_order") for t in ("取消订单", "帮我取消", "订单不要了取消", "取消吧")]
    examples += [_message(t, "deny") for t in ("不用了", "不要", "算了吧", "不需要")]
    examples += [_message(t, "faq", "faq/coupon") for t in ("优惠券用不了", "券怎么用", "优惠券在哪")]
    component.train(TrainingData(examples))
    loaded = IntentEnsemble.load({"weight": 0.9}, storage, resource, None)  # type: ignore[arg-type]

    message = Message(data={"text": "那就取消订单"})
    message.set("intent", {"name": "deny", "confidence": 0.9})
    message.set("intent_ranking", [{"name": "deny", "confidence": 0.9}, {"name": "cancel_order", "confidence": 0.1}])
    faq = Message(data={"text": "优惠券怎么用不了"})
    faq.set("intent", {"name": "promotion", "confidence": 0.9})
    faq.set("intent_ranking", [{"name": "promotion", "confidence": 0.9}])
    faq.set("response_selector", {"faq": {"response": {"intent_response_key": "faq/return_policy"}}})
    loaded.process([message, faq])

    assert message.get("intent")["name"] == "cancel_order"
    assert faq.get("intent")["name"] == "faq"
    assert faq.get("response_selector")["faq"]["response"]["intent_response_key"] == "faq/coupon"
    assert faq.get("response_selector")["faq"]["response"]["utter_action"] == "utter_faq/coupon"
