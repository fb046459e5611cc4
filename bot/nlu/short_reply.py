"""Whole-message short replies ("嗯", "早", "3q", "no") get their intent from a lexicon.

A one- or two-word message carries too few characters for DIET or the out-of-scope gate to
judge (held-out "嗯" came back out of scope, "3q" an order question), yet these few forms
steer every conversation: a yes, a no, a greeting, thanks, a goodbye. They are a closed
class, so a lexicon decides them exactly and explainably; anything longer is left to the
classifiers.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.normalizer import ORIGINAL_TEXT, normalize

SHORT_REPLIES: dict[str, frozenset[str]] = {
    "affirm": frozenset(
        "嗯 嗯嗯 嗯嗯嗯 嗯呢 嗯哪 恩 恩恩 好 好的 好滴 好嘞 好哒 好呀 好好 行 行吧 行的 可以 可以的 "
        "是 是的 是滴 是啊 是呀 对 对的 对啊 对呀 对对 对对对 没错 没问题 ok okay okk 好ok yes yep yeah 确认 确定 中".split()
    ),
    "deny": frozenset("不 不是 不要 不用 不用了 不需要 不对 不行 否 no nope 没有 没有了 不了".split()),
    "greet": frozenset(
        "你好 您好 你好呀 您好呀 你好啊 早 早啊 早上好 上午好 中午好 下午好 晚上好 哈喽 哈罗 哈啰 嗨 "
        "hi hello hey 在吗 在么 在嘛 在不在 亲 亲在吗".split()
    ),
    "thank": frozenset(
        "谢谢 谢谢你 谢谢您 谢谢啦 谢啦 谢了 多谢 多谢了 感谢 感谢感谢 3q 3q啦 thx thanks thankyou 辛苦了 辛苦啦".split()
    ),
    "goodbye": frozenset("再见 拜拜 拜拜了 拜 回见 bye byebye goodbye 下次见".split()),
}
_LOOKUP = {form: intent for intent, forms in SHORT_REPLIES.items() for form in forms}
_STRIP = re.compile(r"[\s,，。.!！?？~～…、:：;；'\"“”‘’()（）]+")
SHORT_REPLY = "short_reply"


# hesitation that says nothing yet ("呃那个嗯", "就是那个啥来着"): not understood, whatever a
# classifier draws for it (affirm, complaint)
_FILLER = re.compile(r"(呃|额|嗯|恩|唔|啊|哦|噢|诶|欸|那个|这个|那啥|就是|啥|来着|什么|怎么说|emm+|em|hmm+|um+|uh+)+")
_HESITATION = re.compile(r"呃|额|唔|那个|那啥|来着|怎么说|emm|hmm|um|uh")
FALLBACK = "nlu_fallback"


def short_reply_intent(text: str | None) -> str | None:
    """The intent of a message that is one of the lexicon's forms as a whole, ``nlu_fallback``
    for pure hesitation, else None."""
    key = _STRIP.sub("", normalize(text or "")).replace("thank you", "thankyou")
    known = _LOOKUP.get(key) or _LOOKUP.get(key.replace(" ", ""))
    if known:
        return known
    compact = key.replace(" ", "").lower()
    if compact and _HESITATION.search(compact) and not _FILLER.sub("", compact):
        return FALLBACK
    return None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class ShortReplyClassifier(GraphComponent):
    """Sets the intent of whole-message short replies; leaves every other message alone."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """No options: the lexicon is the configuration."""
        return {}

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext) -> ShortReplyClassifier:
        """Creates the component."""
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        """Overrides the intent (confidence 1.0) where the whole message is a short reply."""
        for message in messages:
            text = message.get(ORIGINAL_TEXT) or message.get(TEXT) or ""
            intent = short_reply_intent(text)
            if intent:
                message.set(INTENT, {INTENT_NAME_KEY: intent, PREDICTED_CONFIDENCE_KEY: 1.0},
                            add_to_output=True)
                message.set(SHORT_REPLY, True, add_to_output=True)
        return messages
