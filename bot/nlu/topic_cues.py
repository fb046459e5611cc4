"""The order topic a message names in plain words, for the messages the classifiers were unsure of.

DIET and the n-gram regression are right on most messages, but on unseen wording their
answer is a draw: "2025061800006 買了快三週了 還能退嗎" came back ``logistics`` at 0.26 with
``return_exchange`` third, "我那件预售的羽绒服什么时候能发" fell back. Which of two trainings
gets such a message right decides whether the customer is answered, so the words decide
where they are unambiguous: a message the classifiers gave less than ``threshold`` that names
exactly one order topic ("还能退吗", "什么时候能发", "取消这单", "改一下地址", "开发票") gets
that topic. A general policy question ("退货运费谁出") stays an FAQ unless it is about the
customer's own order (an order number, "我那件", "这单"). An unsure out-of-scope draw is
re-labelled only when the message carries an order number. Requests for a person and the
out-of-scope gate come later in the pipeline and keep the last word.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.normalizer import ORIGINAL_TEXT, normalize

FAQ = "faq"
ORDER_TOPICS = frozenset({"return_exchange", "refund", "logistics", "cancel_order", "invoice", "modify_order"})
# order topic -> the plain words that name it, on the normalised (Simplified, lower-case) text
CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("return_exchange", re.compile(
        r"退货|退换|换货|退回去|寄回去|(能|可以|可不可以|还能|能不能|还可以|可否)(退|换)(吗|嘛|么|不|了吗|的吗|啊)"
        # a fault in goods already received: the return window (and the warranty) answer it
        r"|坏了|故障|不加热|不制冷|不充电|开不了机|不能用了|用不了了")),
    ("refund", re.compile(r"退款|退钱|钱.{0,4}退")),
    ("logistics", re.compile(
        r"(什么时候|啥时候|几时|何时|哪天|多久)(才)?(能|会|可以|给我)?(发|发货|寄出|到|送到|送来)|到哪(了|儿|里)|物流"
        r"|发(货)?了(没|吗|么|嘛)|(发|寄)出(去|来)?了(没|吗|么)|还没(发货|发出|寄出|到货)")),
    ("cancel_order", re.compile(r"取消(订单|这单|这个单|这笔|那单)|(订单|这单|那单).{0,4}取消")),
    ("invoice", re.compile(r"发票|开票")),
    ("promotion", re.compile(r"会员日|满减活动|优惠活动|大促|促销活动")),
    ("product_inquiry", re.compile(r"防水|参数|材质|面料|规格|续航|功率|尺寸多大|适合.{0,4}(用|穿|戴)吗")),
    ("modify_order", re.compile(
        r"(改|修改|更改)(一下)?(收货)?(地址|电话|手机号?|收货人)|(地址|电话|手机号|收货人).{0,4}(改|修改|更改|填错|写错)")),
)
# a question about the customer's own order rather than the shop's rules
_OWN = re.compile(r"\d{6,}|我(的|那|这)|这单|那单|这笔|那笔|这件|那件|这个订单|我买的|我下的|我刚")
# the classifiers' own decisions the words do not overrule
_KEPT = frozenset({"human_agent", "out_of_scope", "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "complaint"})
SIBLINGS = {"return_exchange": "refund", "refund": "return_exchange", "logistics": "order_status",
            "order_status": "logistics"}


def cue_topic(text: str) -> str | None:
    """The one order topic ``text`` names, or None when it names none or several."""
    topics = {topic for topic, pattern in CUES if pattern.search(text)}
    if topics == {"refund", "logistics"}:
        return "refund"  # "钱退到哪了": where the money is, not the parcel
    return topics.pop() if len(topics) == 1 else None


# an order number: a message carrying one is about the shop's orders, never out of scope
_ORDER_NUMBER = re.compile(r"(?<!\d)\d{12,20}(?!\d)")
# an e-mail address: the shop asks for one only to send an invoice ("那开个人的吧 邮箱ln@test.com")
EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+", re.IGNORECASE)


# words that name a request outright, whatever the classifiers drew for the order they name:
# another size or colour is an exchange, never a parcel's whereabouts ("2025061800005的鞋子能换个码吗")
_EXCHANGE = re.compile(r"换(个|一个|一|成)?(大|小)?(一)?(码|尺码|号|颜色|色|款)|换大|换小")
# "2025061800003不要了": the order is not wanted any more, which is no goodbye
_NOT_WANTED = re.compile(r"(不要了|不想要了|不要这单了|不想要这单了)")


def resolve(intent: str | None, confidence: float, text: str, threshold: float) -> str | None:
    """The topic to put on an unsure message, or None to keep the classifiers' intent."""
    if (intent in ("logistics", "order_status") or (intent == "nlu_fallback" and _ORDER_NUMBER.search(text))) \
            and _EXCHANGE.search(text):
        return "return_exchange"
    if intent in ("deny", "goodbye", "nlu_fallback", "out_of_scope") and _ORDER_NUMBER.search(text) \
            and _NOT_WANTED.search(text):
        return "cancel_order"
    if intent in ("out_of_scope", "nlu_fallback") and EMAIL.search(text) and not _ORDER_NUMBER.search(text):
        return "invoice"
    if intent == "out_of_scope" and confidence < threshold and cue_topic(text) == "product_inquiry":
        return "product_inquiry"  # "the smart watch 运动版 防水吗": the shop's goods, asked about
    if intent in _KEPT and not (intent == "out_of_scope" and _ORDER_NUMBER.search(text)):
        return None
    if intent == "out_of_scope":
        # "帮我查一下2025061800004": an order number with no other topic is a look at that order
        return cue_topic(text) or "order_status"
    if confidence >= threshold and intent != "nlu_fallback":
        return None
    topic = cue_topic(text)
    if topic is None or topic == intent or SIBLINGS.get(topic) == intent:
        return None
    if intent == FAQ and topic in ORDER_TOPICS and not _OWN.search(text):
        return None
    return topic


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class TopicCueResolver(GraphComponent):
    """Gives an unsure message the one order topic its words name."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """``threshold``: below this intent confidence the words decide."""
        return {"threshold": 0.5}

    def __init__(self, config: dict[str, Any]) -> None:
        self._threshold = float(config.get("threshold", 0.5))

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext) -> TopicCueResolver:
        """Creates the component."""
        return cls({**cls.get_default_config(), **config})

    def process(self, messages: list[Message]) -> list[Message]:
        """Re-labels unsure messages that name one order topic; everything else is kept."""
        for message in messages:
            intent = message.get(INTENT) or {}
            text = normalize(message.get(ORIGINAL_TEXT) or message.get("text") or "")
            topic = resolve(intent.get(INTENT_NAME_KEY), float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0),
                            text, self._threshold)
            if topic:
                message.set(INTENT, {INTENT_NAME_KEY: topic,
                                     PREDICTED_CONFIDENCE_KEY: intent.get(PREDICTED_CONFIDENCE_KEY)},
                            add_to_output=True)
        return messages
