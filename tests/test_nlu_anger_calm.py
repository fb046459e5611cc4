"""Calm-worded anger in the anger lexicon: rhetorical questions, sarcasm, "how many times",
waiting complaints and exasperation are anger without a swear word; a calm complaint is not."""

from __future__ import annotations

import pytest

from bot.nlu.anger import ANGRY, NEUTRAL, REGEX_PREFIX, lexicon_score, parse_lexicon, score_anger

CALM_WORDED_ANGER = [
    "到底有没有人管", "这就是你们的服务?", "呵呵，真是好服务", "你们可真行", "第三次问了",
    "说了多少遍了", "等了一个星期了还没人理", "无语", "算我倒霉", "问了三遍了还是没人回",
    "这叫守信用？", "退个款比登天还难", "搞这么复杂干嘛", "怎么这么慢", "你们仓库的人都在睡觉吗",
    "心累", "别让我一直等", "听不懂吗", "都半个月了 钱呢", "我对你们太失望了🙂", "好的呢 您继续装死",
    "三天前就说72小时 现在又说72小时", "上次说可以退 这次又说不行",
    "问了一万遍了还是这句话", "这售后也是绝了", "把我当冤大头是吧", "卧槽 又延迟发货",
    "靠，怎么又是这个回复", "你们到底管不管", "这么久没消息 是不是非要我去投诉", "客服态度差得离谱",
    "哈哈 你们是骗子吧 钱到现在没退", "呵呵 真是好服务",  # a laugh does not soften an insult
]
CALM = [
    "商品有点小问题，想反馈一下", "上次的客服回复很敷衍，想反映一下", "请问什么时候发货",
    "谢谢你们的好服务", "快递今天能到吗", "我想问一下第二件半价吗", "退款多久到账",
    "第一次在你们家买，尺码怎么选", "好的 三天后我再看看", "订单2024090911223到哪了",
    "不好意思 刚才单号输错了", "对你们的服务有点失望 说实话", "好的 我继续等等", "您继续说",
    "昨天说的明天发货 我再等等",
    "草莓什么时候发货", "这个靠谱吗", "要草绿色的", "参数在哪看", "您的电话打不通 换个号码联系我",
    "过了七天也不行？", "超过7天也不能退吗",  # a time limit asked about is no wait
    # laughter and praise make a rude word a joke; a customer saying they are not angry is not
    "我靠 这么快就发货了 太赞了", "哈哈哈 气死我了 刚买的枕头就降价了😂 能退差价不",
    "我真的服了 哈哈 下错单了 想取消", "不用转人工 我没生气 就问问啥时候到",
]


@pytest.mark.parametrize("text", CALM_WORDED_ANGER)
def test_calm_worded_anger_is_anger(text: str) -> None:
    assert score_anger(text)[0] == ANGRY


@pytest.mark.parametrize("text", CALM)
def test_calm_messages_stay_neutral(text: str) -> None:
    assert score_anger(text)[0] == NEUTRAL


def test_regex_terms_and_negative_weights() -> None:
    entries = parse_lexicon("re:第[二三]次\tintensifier\t0.9\n想反馈一下\tcalm\t-0.8\n")
    assert entries[0].term == REGEX_PREFIX + "第[二三]次"
    assert entries[1].weight == -0.8
    assert lexicon_score("想反馈一下") == 0.0  # never below zero


def test_a_broken_regex_term_names_its_line() -> None:
    with pytest.raises(ValueError, match="line 1: bad pattern"):
        parse_lexicon("re:第[二三次\tintensifier\t0.9\n")
