"""Ask versus act (bot/nlu/speech_act.py): a question changes nothing, a request is confirmed
and then done, so a wrong "act" costs more than a wrong "ask"."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.normalizer import ChineseNormalizer
from bot.nlu.speech_act import ACT, ASK, SPEECH_ACT, SpeechActTagger, clause_act, speech_act

# Questions about something: progress, possibility, rules, how-to; also negated and
# read-only requests ("帮我查一下…" reads, it writes nothing) and plain statements.
ASK_CASES = [
    '退款到哪了', '怎么还没到', '多久到', '能退货吗', '还能不能取消', '可以开专票吗', '发票开了没有', '怎么退货', '退款进度', '我的退款怎么还没到账',
    '为什么还不给我退款', '什么时候给我退款', '请问怎么取消订单', '我想问一下能不能退货', '我想了解一下退货流程', '帮我查一下退款到哪了', '帮我查下物流',
    '我要查一下退款', '退货要运费吗', '有没有运费险', '你们能开专票吗', '可以修改地址吗', '订单还能改地址吗', '发货了吗', '退款多久到账',
    '七天无理由退货怎么算', '能不能退款啊', '可不可以换货', '退款什么时候能到', '申请退款怎么操作', '退货地址是哪里', '我的订单状态', '发票是什么抬头',
    '能开发票么', '不用取消了', '先别取消', '我不想退货了', '地址写错了', '退款成功了吗', '换货需要多久', '取消订单会扣钱吗', '退款退到哪里',
    '發票開了沒有', '請問可以退貨嗎', '能退吗?', 'how do i return', '订单取消了没', '可以取消吗', '是否支持开专票', '退款是原路返回吗',
    '帮我看看能不能退', '可以退款吗', '你好', '在吗', '我退了', '那我退货呢', '这个多少钱', '订单号2025061800004', '退款一般几天到', '快递到哪了', '为什么不能退货',
    # whether a request already went through: its noun (退款申请) is no request
    '2025061800002的退款申请提交成功了吗', '2025061800002退款申請送出了嗎', '退货申请通过了吗', '我的退款处理了吗',
    # a question typed in pinyin is one sentence, however the normaliser pads it
    '2025061800002 neng quxiao ma', 'neng tuikuan ma',
    # a clause that is only "how" asks how to do what the others name
    '开发票 怎么 开', 'kaifapiao zenme kai', '退款 咋弄', '取消订单 怎么操作',
]

# Requests to do something; a polite question with 帮我/给我/麻烦 is a request too.
ACT_CASES = [
    '帮我退款', '我要退货', '取消订单', '把地址改成北京市朝阳区', '给我开张发票', '能帮我取消吗', '麻烦帮我取消订单', '请取消订单',
    '能不能帮我把订单取消了', '我想退货', '我要退款', '赶紧给我退款', '我要求退款', '申请退款', '直接退款吧', '不想要了 取消吧', '帮我改一下收货地址',
    '给我换个大一号的', '麻烦开一下发票', '我想换货', '请帮我开发票', '帮我把订单取消', '我要退货，怎么寄回', '可以帮我改下地址吗', '麻烦给我退一下款',
    '我要开发票', '我要取消订单', '能给我开专票吗', '改一下地址', '退款', '幫我退款', '給我開發票', '請幫我取消訂單', '帮我申请退款',
    '快点给我退款!!', '我要换货，尺码不对', '取消吧', '我想取消这个订单', '麻烦退款', 'refund please', '能不能给我退款', '退款吧',
    '在吗 我要退货', '把这单取消了', '将收货地址改为上海', '帮我把发票抬头改成公司名', '地址填错了 帮我改下', '直接给我退钱',
    # an order number and what to do with it; 把 with a long object; 需要 + a write
    '把2025061800002取消了', '2025061800002取消一下', '2025061800001取消掉', '2025061800002退款',
    '订单2025061800004需要开公司抬头的发票', '那把2025061800002退了吧', '那就退了吧', '想了想还是取消2025061800002吧',
    # the customer's decision after an answer
    '好 那我退货', '那我就退了吧', '我还是取消吧', '行 那我还是换货吧',
    '能帮我提交吗', 'bangwo tuikuan',
    '我要退货 怎么寄', '帮我取消 怎么弄都行',
]


@pytest.mark.parametrize("text", ASK_CASES)
def test_questions_are_ask(text: str) -> None:
    assert speech_act(text)[0] == ASK


@pytest.mark.parametrize("text", ACT_CASES)
def test_requests_are_act(text: str) -> None:
    assert speech_act(text)[0] == ACT


@pytest.mark.parametrize("text", ASK_CASES + ACT_CASES)
def test_confidence_is_a_probability_of_the_name(text: str) -> None:
    assert 0.5 <= speech_act(text)[1] <= 1.0


def test_one_clear_request_clause_makes_the_message_an_act() -> None:
    assert clause_act("怎么寄回")[0] == ASK
    assert speech_act("我要退货，怎么寄回") == (ACT, 0.9)


def test_an_information_question_beats_a_request_verb_in_its_clause() -> None:
    assert speech_act("什么时候给我退款")[0] == ASK
    assert speech_act("赶紧给我退款")[0] == ACT


def test_doubt_leans_to_ask() -> None:
    assert speech_act("") == (ASK, 0.5)
    assert speech_act("这个东西有点问题")[0] == ASK


def test_tagger_puts_speech_act_on_every_parse() -> None:
    tagger = SpeechActTagger.create({}, None, Resource("speech_act"),  # type: ignore[arg-type]
                                    ExecutionContext(GraphSchema({}), "test"))
    messages = [Message(data={TEXT: "幫我取消訂單"}), Message(data={TEXT: "可以開專票嗎？"}),
                Message(data={TEXT: ""})]
    ChineseNormalizer().process(messages)
    tagger.process(messages)
    assert [m.get(SPEECH_ACT)["name"] for m in messages] == [ACT, ASK, ASK]
    assert SPEECH_ACT in messages[0].as_dict(only_output_properties=True)


@pytest.mark.parametrize(
    ("text", "act"),
    [("退款被驳回了 为什么", ASK), ("退款只退了一部分", ASK), ("退货已经寄回去了，退款呢", ASK),
     ("退款的事我已经问了四次了", ASK), ("已经把地址改了", ASK), ("把钱退了吗", ASK),
     ("买错了取消一下", ACT), ("订单2024080911456要退货", ACT), ("地址要改到公司", ACT),
     ("把地址改成上海的", ACT), ("取消订单吧", ACT)],
)
def test_reports_about_a_write_are_not_requests(text: str, act: str) -> None:
    """A leading verb followed by 了/被/已经… reports what happened; 把… and …一下/吧 ask for it."""
    assert speech_act(text)[0] == act
