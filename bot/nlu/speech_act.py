"""Ask versus act: is the customer asking about something, or asking us to do it?

"退款到哪了" and "能退货吗" want an answer and must change nothing; "帮我退款" and
"取消订单" want an action, which the bot confirms with a card before it writes. The
intent alone cannot tell them apart (both are ``refund``), so every parse also carries
``"speech_act": {"name": "ask"|"act", "confidence": p}``.

Rules rather than a model: the cues are few and closed-class (question particles,
interrogatives, progress words versus request verbs), a rule is explainable when a
customer complains, and a wrong "act" costs more than a wrong "ask" (an unwanted card),
so anything without a clear request verb is an "ask".

A message is split into clauses; it is an "act" when one clause is a clear request
("我要退货，怎么寄回" still wants the return) and an "ask" otherwise. Within a clause an
information question (how / when / where / progress / whether) wins over a request verb
("什么时候给我退款" asks about timing); a yes/no question about ability ("能退货吗") is a
request only when it carries 帮我/给我/麻烦 ("能帮我取消吗" is a polite request).
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.normalizer import ORIGINAL_TEXT, normalize
from bot.nlu.pinyin import join_hanzi, typed_in_pinyin

SPEECH_ACT = "speech_act"
ASK, ACT = "ask", "act"

# Verbs that change something in the shop (the writes the bot confirms).
_WRITE = (
    r"(开(个|张|一张|下)?(电子|纸质)?(发票|票)|退款|退钱|退货|退掉|退了|退回|退一下|退给我|退|换货|换一|换个|换成|换掉|换|取消|撤销|撤回|"
    r"关闭订单|删掉|改|修改|更改|更换|变更|开票|开发票|开张|开个|开一张|开|补开|重开|补发|重发|"
    r"寄回|发货|发出|加急|催|拦截|退订|作废|申请|处理|赔|补偿)"
)
# Reading verbs: "帮我查一下" asks for information, it changes nothing.
_READ = r"(查|查询|查查|看看|看一下|看下|瞅|确认一下|确认下|问问|问一下|问下|告诉我|了解|知道|咨询|核实)"
# First-person wishes and polite imperatives.
_REQUEST = (
    r"(帮我|帮忙|帮帮我|给我|替我|麻烦|劳驾|请(?!问)|我要|我想要|我想(?!问|知道|了解|咨询|确认|看|查)|"
    r"我需要|我得|申请|要求|直接|马上|立刻|立即|赶紧|赶快|尽快|快点|快给|速度|必须|"
    r"please|pls|plz)"
)
# Questions that want information; they beat a request verb in the same clause.
_INFO_Q = (
    r"(怎么|怎样|咋|如何|多久|多长时间|几天|几号|几点|多少|什么时候|啥时候|何时|哪|是否|"
    r"有没有|有无|为什么|为啥|干嘛还|进度|状态|还没|还不|没到|未到|到了没|了没|没有[?]?$|"
    r"流程|规则|政策|条件|步骤|要多|需要多|需不需要|要不要|会不会|是不是|算不算|"
    # whether something already happened: "退款申请提交成功了吗", "退货申请通过了吗"
    r"(成功|通过|提交|送出|受理|审核|审批|批准|批|生效|处理|办好|到账)了(吗|么|嘛|没)|成功(吗|么|没)|"
    r"how|when|where|why|what|status)"
)
# Yes/no questions about what is possible ("能退货吗", "还能不能取消").
_MODAL_Q = r"(能不能|可不可以|可以不|能否|可否|行不行|好不好|能|可以|可|行|允许|支持)"
_PARTICLE = r"(吗|么|嘛|呢|吧\?|\?)"
_NEGATED = r"(不用|不要|不想|不需要|别|先别|不必|无需|没必要|暂时不|不打算|不)"
_CLAUSE_SPLIT = re.compile(r"[,，。.!！;；\s、~]+|(?<=[?？])")
_IMPERATIVE_START = re.compile(
    rf"^(那|那就|就)?(请|麻烦|快|赶紧|马上|现在|立刻)?((把|将).{{0,24}}?|给我)?{_WRITE}"
)
_WANT_WRITE = re.compile(rf"(要|想|想要|得|需要){_WRITE}")
_WRITE_AT_END = re.compile(rf"{_WRITE}(一下|下|吧|掉|掉吧|了吧|一单)$")
# the customer's decision after an answer: "那我退货", "那我就退了吧", "我还是取消吧"
_DECIDE = re.compile(
    rf"^(好|行|嗯)?((那我就|那我还是|那我|那就|我就|我还是)(直接)?{_WRITE}(了|吧|了吧|掉|掉吧)?|我(直接)?{_WRITE}(吧|掉吧)?)$"
)
# an order number and what to do with it: "2025061800002退款", "订单…取消"
_ORDER_THEN_WRITE = re.compile(rf"\d{{6,}}\D{{0,4}}{_WRITE}$")
# After a leading verb these make a report, not an order: "退款被驳回了", "退款只退了一部分".
_STATEMENT = re.compile(r"(了|被|只|都|已经|过|呢|的)")


def clauses(text: str) -> list[str]:
    """Clauses of the normalised text, split at punctuation and spaces. A message typed in
    pinyin ("neng quxiao ma") is one sentence whose words the normaliser padded with spaces:
    they are joined again ("能取消吗") before splitting."""
    normal = normalize(text)
    if typed_in_pinyin(text):
        normal = join_hanzi(normal)
    return [c for c in _CLAUSE_SPLIT.split(normal) if c]


def _negated_write(clause: str) -> bool:
    return re.search(rf"{_NEGATED}(.{{0,3}}){_WRITE}", clause) is not None and not re.search(
        rf"{_REQUEST}.{{0,6}}{_WRITE}", clause.split("不")[-1]
    )


def clause_act(clause: str) -> tuple[str, float]:
    """Speech act of one normalised clause."""
    info_q = re.search(_INFO_Q, clause) is not None
    particle = re.search(_PARTICLE, clause) is not None
    modal = re.search(_MODAL_Q, clause) is not None
    request = re.search(_REQUEST, clause) is not None
    read_only = re.search(_READ, clause) is not None and not re.search(
        rf"{_REQUEST}(把|将|一下|下)?{_WRITE}", clause
    )
    if read_only:
        return ASK, 0.85
    if info_q:
        return ASK, 0.9
    if _negated_write(clause):
        return ASK, 0.7
    if request:
        if particle or modal:
            return ACT, 0.8  # "能帮我取消吗": a polite request
        return ACT, 0.9
    if particle or modal:
        return ASK, 0.85  # "能退货吗", "可以开专票吗"
    start = _IMPERATIVE_START.search(clause)
    if start and (start.group(3) or clause.endswith("吧")  # "把…" is always directive
                  or not _STATEMENT.search(clause[start.end():])):
        return ACT, 0.75  # "取消订单", "把地址改成…"
    if _WRITE_AT_END.search(clause):
        return ACT, 0.7  # "买错了取消一下", "地址改一下"
    if _WANT_WRITE.search(clause):
        return ACT, 0.65  # "订单…要退货", "东西不喜欢想退"
    if _DECIDE.match(clause) and not (clause.startswith("我") and clause.endswith("了")):
        return ACT, 0.7  # "那我退货"; "我退了" reports what was done
    if _ORDER_THEN_WRITE.search(clause):
        return ACT, 0.65  # "2025061800002退款"
    if clause.endswith("吧") and re.search(_WRITE, clause):
        return ACT, 0.65  # "想了想还是取消2025061800002吧"
    return ASK, 0.55  # a statement: no clear request, so nothing is done


# A clause that is only "how" ("开发票 怎么 开", "退款 咋弄"): the message asks how to do what the
# other clauses name, so only an outright request ("我要退货 怎么寄") still makes it an act.
_BARE_HOW = re.compile(r"^(怎么|怎样|咋|如何|怎么样)(才能|能|可以)?.{0,2}(呢|啊|呀|吗|么)?$")


def speech_act(text: str) -> tuple[str, float]:
    """("ask" | "act", confidence) of a customer message; "ask" when in doubt."""
    parts = clauses(text or "")
    if not parts:
        return ASK, 0.5
    if len(parts) > 1 and any(_BARE_HOW.match(c) for c in parts):
        parts = [c for c in parts if _BARE_HOW.match(c) or re.search(_REQUEST, c)]
    results = [clause_act(c) for c in parts]
    acts = [conf for name, conf in results if name == ACT]
    if acts:
        return ACT, max(acts)
    return ASK, max(conf for _, conf in results)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class SpeechActTagger(GraphComponent):
    """Adds ``speech_act`` to every parse result; changes nothing else."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """No options."""
        return {}

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext) -> SpeechActTagger:
        """Creates the component."""
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        """Tags each message from the customer's own words (normalised here)."""
        for message in messages:
            text = message.get(ORIGINAL_TEXT) or message.get(TEXT)
            name, confidence = speech_act(text or "")
            message.set(SPEECH_ACT, {"name": name, "confidence": confidence}, add_to_output=True)
        return messages
