"""An unsure message that names one order topic in plain words gets that topic."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.normalizer import normalize
from bot.nlu.topic_cues import TopicCueResolver, cue_topic, resolve


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("2025061800006 買了快三週了 還能退嗎", "return_exchange"),
        ("我那件预售的羽绒服什么时候能发", "logistics"),
        ("这单帮我取消掉", "cancel_order"),
        ("收货地址改一下", "modify_order"),
        ("发票在哪开", "invoice"),
        ("2025061800005 电饭煲用了两次就不加热了", "return_exchange"),
        ("这个月会员日是几号", "promotion"),
        ("the smart watch 运动版 防水吗", "product_inquiry"),
        ("2025 0618 0000 2 发了没", "logistics"),
        ("寄出去了吗", "logistics"),
        ("退款退货都行", None),  # two topics: the words do not decide
        ("你们店在哪个城市", None),
    ],
)
def test_cue_topic(text: str, topic: str | None) -> None:
    assert cue_topic(normalize(text)) == topic


@pytest.mark.parametrize(
    ("intent", "confidence", "text", "topic"),
    [
        ("logistics", 0.26, "2025061800006 买了快三周了 还能退吗", "return_exchange"),
        ("nlu_fallback", 0.5, "我那件预售的羽绒服什么时候能发", "logistics"),
        ("logistics", 0.9, "2025061800006 还能退吗", None),  # the classifiers were sure
        ("refund", 0.3, "还能退吗", None),  # a sibling: same next step
        ("faq", 0.4, "退货运费谁出", None),  # the shop's rule, not one's own order
        ("faq", 0.4, "我那件退货运费谁出", "return_exchange"),
        ("faq", 0.32, "the smart watch 运动版 防水吗", "product_inquiry"),  # not an order topic
        ("human_agent", 0.3, "退货找人工", None),
        # an unsure out-of-scope draw gives way only to an order number
        ("out_of_scope", 0.3, "2025061800005 这个还能退吗 没拆", "return_exchange"),
        ("out_of_scope", 0.3, "这张机票还能退吗", None),
        ("out_of_scope", 0.33, "the smart watch 运动版 防水吗", "product_inquiry"),  # the shop's goods
        ("out_of_scope", 0.9, "潜水表防水吗", None),  # a sure out-of-scope draw stays
        ("out_of_scope", 0.44, "帮我查一下2025061800004", "order_status"),  # naming no topic: the order itself
        # another size is an exchange however sure the draw of the parcel's whereabouts
        ("logistics", 0.9, "2025061800005的鞋子能换个码吗", "return_exchange"),
        ("order_status", 0.8, "换大一号的要多久", "return_exchange"),
        ("logistics", 0.9, "换了快递吗", None),
        ("nlu_fallback", 0.5, "2025061800005的鞋子能换个码吗", "return_exchange"),
        ("logistics", 0.41, "2025061800009的钱退到哪了", "refund"),  # the money's whereabouts
        # an e-mail address is asked for only to send an invoice
        ("out_of_scope", 0.43, "那开个人的吧 邮箱ln@test.com", "invoice"),
        ("out_of_scope", 0.43, "邮箱ln@test.com", "invoice"),
        # an order not wanted any more is a cancel wish, not a goodbye
        ("deny", 0.9, "2025061800003不要了", "cancel_order"),
        ("deny", 0.9, "不要了", None),
        ("order_status", 0.4, "退货退款都要", None),
    ],
)
def test_resolve(intent: str, confidence: float, text: str, topic: str | None) -> None:
    assert resolve(intent, confidence, text, 0.5) == topic


def test_the_component_relabels_only_the_intent() -> None:
    message = Message(data={"text": "我那件预售的羽绒服什么时候能发",
                            "intent": {"name": "nlu_fallback", "confidence": 0.5}, "entities": []})
    TopicCueResolver({"threshold": 0.5}).process([message])
    assert message.get("intent") == {"name": "logistics", "confidence": 0.5}
