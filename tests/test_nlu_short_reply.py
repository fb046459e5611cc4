"""Short replies take their intent from the lexicon; longer messages are left to the classifiers."""

from __future__ import annotations

import pytest
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.normalizer import normalize, normalize_aligned
from bot.nlu.short_reply import ShortReplyClassifier, short_reply_intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("嗯嗯", "affirm"), ("好的👌", "affirm"), ("沒問題", "affirm"), ("OK!", "affirm"),
        ("ＮＯ", "deny"), ("不用了。", "deny"), ("nope", "deny"),
        ("早", "greet"), ("哈罗~", "greet"), ("Hello", "greet"),
        ("3Q啦", "thank"), ("Thank you!", "thank"), ("謝謝", "thank"),
        ("goodbye👋", "goodbye"), ("拜拜", "goodbye"),
        # anything beyond the closed forms is for the classifiers
        ("嗯，是这个", None), ("不对不对，我是想问物流", None), ("好的确认取消", None), ("", None),
        # hesitation that says nothing yet is not understood, whatever a classifier draws
        ("呃那个嗯", "nlu_fallback"), ("就是那个啥来着", "nlu_fallback"), ("emmm", "nlu_fallback"),
        ("就是这个", None), ("那个订单", None), ("呃 我想问下", None),
    ],
)
def test_short_reply_intent(text, intent):
    assert short_reply_intent(text) == intent


def test_component_overrides_only_short_replies():
    component = ShortReplyClassifier.create({}, None, Resource("short"), None)  # type: ignore[arg-type]
    short = Message.build("嗯")
    short.set("intent", {"name": "out_of_scope", "confidence": 1.0})
    long = Message.build("嗯 那申请吧")
    long.set("intent", {"name": "refund", "confidence": 0.9})
    component.process([short, long])
    assert short.get("intent") == {"name": "affirm", "confidence": 1.0}
    assert long.get("intent")["name"] == "refund"


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("tuikuan", "退款"),
        ("dingdan zhuangtai 帮我查查", "订单 状态 帮我查查"),
        ("WU LIU 怎么还不动", "物流 怎么还不动"),
        ("zhanghao bei dao le", "账号 被盗 了"),
        ("na yushou de ne", "那 预售 的 呢"),  # the glue syllables of a pinyin sentence
        ("ok tuikuan", "ok 退款"),  # an English word keeps the single syllables Latin
        ("ne", "ne"),  # and so does a message with no shop word
        ("kefu在吗", "客服 在吗"),
        ("you know what", "you know what"),  # English stays English
        ("zhifubao", "支付宝"),
        ("kaifapiao zenme kai", "开发票 怎么 开"),
        ("haode xiexie", "好的 谢谢"),
        ("baibai", "拜拜"),
    ],
)
def test_pinyin_shop_words_become_characters(text, normal):
    assert normalize(text) == normal
    assert len(normalize_aligned(text)) == len(text)
