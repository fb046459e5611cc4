"""Every write is confirmed: the pending change, and what counts as the customer's answer.

An action that would change shop data (cancel, refund, return, exchange, order details,
invoice) shows one confirmation card and stores the change in the slot ``pending`` with the
id of the user message it answered. Only a yes in the very next user message carries it out
(``action_confirm``); anything else lets it lapse. Kept pure, so the dialogue policy and the
actions decide with the same code and the rule is tested without Rasa.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.handoff import to_simplified
from bot.nlu.pinyin import pinyin_to_hanzi

OPS = ("cancel", "refund", "return", "exchange", "modify", "invoice")
# an answer to a question that offered the request ("需要为您申请吗？"): a yes shows its card
OFFER = "offer"
CONFIRM_ACTION = "action_confirm"

_NOISE = re.compile(r"[\s,，。.!！~～…、:：;；'\"“”‘’()（）\[\]【】]+|[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_NO = re.compile(
    r"不(用|要|了|确认|需要|想|行|对|是|办|申请|改|退|开|同意|必|取消了)|算了|先不|暂不|暂时不|别|再想想|"
    r"再考虑|考虑一下|等等|等一下|等下|稍等|否|^no$|^n$|^nope$|不取消|保留|撤回|"
    # hesitation is not a yes: "好的 我先问问我老公再说", "应该对吧 我也不太确定", "ok wait"
    r"再说|先问问?|问问|商量|不确定|不太确定|不知道|没想好|wait|hold|later|晚点|回头|以后再"
)
_YES_WORDS = re.compile(
    r"确认|确定|没问题|同意|提交|就这样办|麻烦了|可以的|好的|是的|对的|没错|^ok|^yes|"
    r"(申请|退|退款|退货|取消|撤|改|开|办|换)(了|掉|一下)?吧|^(那|那就|就)?(申请|帮我申请|办理|要)$"
)
# a yes on a condition the bot has not answered ("能送的话就改")
CONDITION = re.compile(r"的话|如果|要是|假如|万一")
# an answer that only hedges or acknowledges: "都行", "应该可以", "嗯嗯 好像是", "嗯 知道了"
_HEDGE = re.compile(r"好像|应该|可能|大概|也许|估计|随便|都行|都可以|无所谓|差不多|知道了|晓得了|明白了|了解了|收到|看到了|这样啊|是吗|^哦+$|^额+|^呃+")
_TRAILING_OFF = re.compile(r"(…|\.{2,}|。{2,}|，，+)\s*$")
_WEAK_YES = re.compile(r"^(嗯+|恩+|哦+|额+|呃+|好吧?|行吧?)$")
# a clear yes that may be followed by a remark
_STRONG_YES = re.compile(r"^(确认|确定|是的|对的|对+|没错|没问题|可以的?|好的|行的?|同意|ok)")
# what a remark beside a yes must not do: ask for another change or another value
_ASKS_SOMETHING_ELSE = re.compile(r"取消|退|换|发票|开票|改成|改为|换成|改到|另外|还有|再|顺便|\d{3,}")
MAX_REMARKED = 24
# an answer is short; a longer message says something else and is read as such
MAX_ANSWER = 16
_YES_SHORT = re.compile(
    r"^(是|对|好|行|嗯+|恩+|(en)+n?|可以|好滴|好嘞|好哒|中|y|okay|okk*|要|要的|对呀|是呀|好呀|行吧|可以啊|当然)$"
    # chat forms: "嗯对", "是滴", "没毛病", "嗯呢", "对头"
    r"|^(嗯+|恩+)(对|是|好|行|呢|呐)[的滴呀啊吧]?$|^(是滴|对滴|没毛病|对头|妥了?|嗯呐)$"
)
_QUESTION = re.compile(
    r"[吗嘛么呢?？]$|什么|多少|几(天|号|点|时|日|个|月)|怎么|哪|啥|谁|为什么|多久|何时|能不能|会不会|是不是|要不要|"
    r"可不可以|有没有"
)
# "对了运费谁出": "by the way", the opening of another matter, never a yes to the card
_BY_THE_WAY = re.compile(r"^(哦|啊|噢)?对了(?=.)")
# what may stand beside a yes: politeness, "this one", and the card's own action words
_YES_FILLER = re.compile(
    r"确认|确定|没问题|同意|提交|可以的?|好的|好滴|好嘞|好哒|是的|对的|没错|ok(ay)?|yes|就这样办?|这么办|"
    r"办吧|申请|办理|麻烦了?|谢谢|谢啦|辛苦|就是?这个|这个|这单|这笔|就这|帮我|给我|请|那就|那|就|吧|啊|呀|了|的|哦|嗯+|恩+|"
    r"(?<![a-z])(en)+n?(?![a-z])|好|行|对|是|要|你|您|我|呢|啦|嘛|👌|👍|快点|尽快|赶紧|地址|电话|号码|手机|收货人|信息|正确|无误"
)
_OP_WORDS = {
    "cancel": "取消|撤销|撤|取消订单",
    "refund": "申请退款|退款|退钱|退",
    "return": "申请退货|退货|退回|寄回|退",
    "exchange": "申请换货|换货|换",
    "modify": "修改|更改|改",
    "invoice": "开发票|开票|开|发票",
}


# homophone slips of the card's words typed with a pinyin keyboard ("确人", "却认")
_YES_TYPOS = re.compile(r"[确却缺雀][人仁任忍认]|[确却缺雀][订顶定]")


def _plain(text: str | None) -> str:
    plain = _NOISE.sub("", to_simplified(text or "").lower())
    return _YES_TYPOS.sub(lambda m: "确认" if m.group(0)[1] in "人仁任忍认" else "确定", plain)


# a message of nothing but these emoji is an answer ("👌👌", "👍🏻", "🙅")
_YES_EMOJI = frozenset("👌👍✅🆗✔☑🙆")
_NO_EMOJI = frozenset("❌🙅✖⛔🚫👎")
_EMOJI_MODIFIERS = re.compile("[\\s\ufe0f\u200d\u2640\u2642\U0001F3FB-\U0001F3FF]+")


def _emoji_answer(raw: str) -> str | None:
    """"yes"/"no" for a message made only of agreeing or refusing emoji (repeats allowed)."""
    marks = set(_EMOJI_MODIFIERS.sub("", raw))
    if marks and marks <= _YES_EMOJI:
        return "yes"
    if marks and marks <= _NO_EMOJI:
        return "no"
    return None


def yes_no(text: str | None, intent: str | None = None, op: str | None = None) -> str | None:
    """The customer's answer to a confirmation card: "yes", "no", or None (not an answer).

    Words decide before the classifier: a card must never be accepted on a misread message.
    "取消" alone is "no" to every card but the cancel card, where it is ambiguous."""
    raw = (text or "").strip()
    if raw == "/affirm" or raw.startswith("/affirm{"):
        return "yes"
    if raw == "/deny" or raw.startswith("/deny{"):
        return "no"
    emoji = _emoji_answer(raw)
    if emoji:
        return emoji
    t = _plain(pinyin_to_hanzi(raw.lower()))
    if not t or len(t) > MAX_REMARKED or re.search(r"\d{6,}", t) or _BY_THE_WAY.match(t):
        return None
    if len(t) > MAX_ANSWER:
        # a longer message says something else, unless it opens with a clear yes and only remarks
        return _remarked_yes(t, op)
    if _TRAILING_OFF.search(raw) and _WEAK_YES.match(t):
        return None  # "嗯。。。": thinking aloud, not agreeing
    said = _double_negative(t)
    if said is not None:
        return _corrected(said, op)
    if _NO.search(t):
        return "no"
    if t in ("取消", "取消吧") and op != "cancel":
        return "no"
    if t == "取消":
        return None
    if _QUESTION.search(t) and not _YES_SHORT.match(t):
        return None
    if CONDITION.search(t) or _HEDGE.search(t):
        return None  # "能送的话就改", "应该可以", "嗯 知道了": no yes to this very change
    if len(t) <= MAX_ANSWER and (_YES_SHORT.match(t) or (_YES_WORDS.search(t) and len(_left_over(t, op)) <= 1)):
        return "yes"
    if _remarked_yes(t, op):
        return "yes"
    # the classifier alone never says yes: a misread message must not change data
    if intent == "deny" and len(t) <= 8:
        return "no"
    return None


def _remarked_yes(plain: str, op: str | None) -> str | None:
    """"是的 麻烦尽快发货哈", "确认修改 上次填错了不好意思": a clear yes first, then a remark
    that asks for nothing else ("是的 我要换货" at a refund card does, and is no yes to it)."""
    lead = _STRONG_YES.match(plain)
    rest = plain[lead.end():] if lead else ""
    if not lead or _NO.search(rest) or _QUESTION.search(rest) or CONDITION.search(rest) or _HEDGE.search(rest):
        return None
    return None if _ASKS_SOMETHING_ELSE.search(_left_over(rest, op)) else "yes"


# "不是不取消 是取消", "我没说不要 是要": the clause after the correction is the answer
_CORRECTION = re.compile(r"^(?:不是|我?没说|我?没有说)(.+?)是(.+)$")


def _double_negative(plain: str) -> str | None:
    """B of "not not-A but B" ("不是不取消 是取消"), or None when the message is no such correction."""
    m = _CORRECTION.match(plain)
    return m.group(2) if m and re.search(r"不|别|没", m.group(1)) else None


def _corrected(said: str, op: str | None) -> str | None:
    """The answer carried by the corrected clause: the card's own action ("是取消" at the cancel
    card) is a yes, anything else is read as an answer on its own."""
    said = re.sub(r"^(就|真的?|确实)+", "", said)
    if op in _OP_WORDS and re.fullmatch(f"要?(?:{_OP_WORDS[op]})(?:吧|的|啊|呀|了)*", said):
        return "yes"
    return yes_no(said, op=op)


def _left_over(plain: str, op: str | None) -> str:
    """What a yes-message says beyond yes, politeness and the card's own action."""
    rest = re.sub(_OP_WORDS.get(op or "", "(?!)"), "", plain)
    return _YES_FILLER.sub("", rest)


def make_pending(op: str, order_id: str, after: str | None, **args: Any) -> dict[str, Any]:
    """The slot value for a change waiting for its yes; `after` is the id of the user message
    the card answered."""
    if op not in (*OPS, OFFER):
        raise ValueError(f"unknown operation {op!r}")
    return {"op": op, "order_id": order_id, "after": after, "args": args}


def is_fresh(pending: Any, user_message_ids: Sequence[str | None]) -> bool:
    """Whether the latest user message is the very next one after the card."""
    if not isinstance(pending, dict) or pending.get("op") not in (*OPS, OFFER):
        return False
    after = pending.get("after")
    return bool(after) and len(user_message_ids) >= 2 and user_message_ids[-2] == after


_CHANGE_TO = re.compile(
    r"(?:改成|改为|换成|换为|修改为|修改成|更改为|更换为|变更为|改回成?|改回到|换回成?|改到|换到|寄到|送到|"
    r"(?:改|换|修改)(?:一下)?(?:收货)?(?:地址|电话|手机号?|号码|收货人|收件人)(?:到|成|为)|"
    r"新地址是?|新的地址是?|地址是|地址为|号码是|手机号?是|电话是|名字是|收货人是|收件人是|叫)[:：]?"
)
_TRAILER = re.compile(
    r"[，,。.!！~～\s]*(吧|哈|呀|啊|哦|吗|嗎|呢|谢谢|謝謝|谢啦|麻烦了|麻煩了|麻烦你了|辛苦了|可以吗|可以嗎|行吗|行嗎|好吗|好嗎)*"
    r"[，,。.!！?？~～\s]*$"
)
# "新" only as "新地址/新的：", never the first character of the value ("新疆乌鲁木齐市…")
_LEAD = re.compile(
    r"^(新的?(?=(收货)?(地址|电话|手机|号码|收货人|收件人|姓名|名字)|[:：])|是|为|就是)?"
    r"(收货)?(地址|电话|手机号?|号码|收货人|收件人|姓名|名字)?[:：]?"
)


def stated_new_value(text: str | None) -> str | None:
    """The new value a request states after "改成/换成/改为…", or None when it states none
    ("订单…要改收货地址" names the field only)."""
    raw = (text or "").strip()
    matches = list(_CHANGE_TO.finditer(raw))
    return _strip_trailer(raw[matches[-1].end():]) or None if matches else None


def new_value_text(text: str | None) -> str:
    """The value in "改成上海市浦东新区世纪大道100号吧": what follows the last "change to"
    phrase, without the polite words around it; the whole answer when it is just the value."""
    raw = (text or "").strip()
    stated = stated_new_value(raw)
    return stated if stated is not None else _strip_trailer(_LEAD.sub("", raw))


def _strip_trailer(value: str) -> str:
    previous = None
    while previous != value:
        previous = value
        value = _TRAILER.sub("", value).strip()
    return value


_EXCHANGE = re.compile(r"换货|换(一|个|件|双|条|只)|换(个|成|大|小)?(尺码|码|号|颜色|色|款)|换大|换小|调换|更换")


def wants_exchange(text: str | None) -> bool:
    """An exchange (换货, another size) rather than a return for money back."""
    return bool(_EXCHANGE.search(to_simplified(text or "")))


def card_answer(pending: dict[str, Any], text: str | None, intent: str | None = None) -> str | None:
    """The answer to the card ``pending`` stands for: ``yes_no``, and at the return/exchange
    offer ("需要现在为您申请吗？ [申请退货] [申请换货]") asking for an exchange ("能换个新的吗")
    or for the return ("好 那我退货") takes the offer; what it shows is the request's own card,
    which asks again."""
    op = pending.get("op")
    answer = yes_no(text, intent, op)
    if answer == "yes" and op == OFFER and _THANKS.search(_plain(text)) and not _ASKS_FOR_IT.search(_plain(text)):
        return None  # "好的谢谢" after "需要为您申请吗？" closes the question, it takes nothing
    if answer is None and op == OFFER and (pending.get("args") or {}).get("intent") == "return_exchange" \
            and (wants_exchange(text) or wants_return(text)) and not _NO.search(_plain(text)):
        return "yes"
    return answer


_THANKS = re.compile(r"谢|3q|thx|thanks|thank")
# the offered request named with the thanks ("好的 申请吧 谢谢"): the offer is taken
_ASKS_FOR_IT = re.compile(r"申请|办理|帮我|退|换|取消|开|改|确认|确定|要")
# "好 那我退货", "退了吧", "那就退回去": the return itself asked for at the return offer
_RETURN_WISH = re.compile(r"退货|退掉|退了|退回去?|寄回去?|要退|想退|那就退|我退")


def wants_return(text: str | None) -> bool:
    """A short request for the return at the return offer; a question about it ("退货运费谁出")
    is not one."""
    plain = _plain(text)
    return len(plain) <= MAX_ANSWER and bool(_RETURN_WISH.search(plain)) \
        and not _QUESTION.search(plain) and "谁" not in plain
