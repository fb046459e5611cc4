"""The handoff payload: why a conversation goes to a human, how urgently, to which skill
group, and a one-line summary for the agent.

Pure functions only, so the rules the hub's queue relies on are tested directly. The
payload travels to the hub as the bot message's ``custom`` field:
``{"handoff": {"reason": R, "priority": P, "skill": S, "summary": "..."}}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from bot.nlu.pinyin import pinyin_to_hanzi

REASONS = ("requested", "angry", "not_understood", "urgent", "verification_failed")
PRIORITIES = ("normal", "high", "urgent")  # ascending
SKILLS = ("orders", "refunds", "payments", "account", "general")

VIP_BUMP_LEVEL = 3

# intent -> skill group; intents not listed (small talk, faq, fallback) say nothing about it
INTENT_SKILL: dict[str, str] = {
    "order_status": "orders",
    "logistics": "orders",
    "cancel_order": "orders",
    "modify_order": "orders",
    "invoice": "orders",
    "refund": "refunds",
    "return_exchange": "refunds",
    "payment_issue": "payments",
    "account_issue": "account",
    "complaint": "general",
    "promotion": "general",
    "product_inquiry": "general",
}

INTENT_LABEL: dict[str, str] = {
    "greet": "问候",
    "goodbye": "告别",
    "thank": "感谢",
    "affirm": "肯定",
    "deny": "否定",
    "bot_challenge": "问是否机器人",
    "human_agent": "要求人工",
    "order_status": "查订单",
    "logistics": "查物流",
    "cancel_order": "取消订单",
    "modify_order": "修改订单",
    "refund": "退款",
    "return_exchange": "退换货",
    "complaint": "投诉",
    "invoice": "发票",
    "payment_issue": "支付问题",
    "account_issue": "账号问题",
    "promotion": "优惠活动",
    "product_inquiry": "商品咨询",
    "out_of_scope": "无关问题",
    "faq": "常见问题",
    "nlu_fallback": "未识别",
}

URGENT_SKILL = {"stolen_account": "account", "scam_report": "account", "double_charge": "payments",
                "paid_but_failed": "payments"}

_STOLEN = re.compile(
    r"(被盗|盗号|盗了|盗刷|被黑|被人(登录|登陆|登入|盗|改了?密码|冒用|用了)|(异地|外地|陌生设备|其他设备)登[录陆入]"
    r"|不是我(本人)?(登录|登陆|登入|买|下的?订?单|操作)|登[录陆入].{0,12}不是我"
    r"|(多了|多出|冒出).{0,8}(订单|单子).{0,8}不是我|我(从来)?没(下|买)过的(订单|单子)"
    r"|账号.{0,6}(被人|别人)(登|用|改)|(别人|陌生人).{0,6}(登录|登陆|盗用|冒用)我的?账"
    r"|(有人|别人|陌生人)(把|将|给)?我的?(账号|账户|帐号|帐户|手机号|绑定).{0,12}(换|改|绑|解绑)"
    r"|(账号|账户|帐号).{0,8}(绑定的?)?(手机号?|邮箱).{0,6}(被|让)(人|别人)?(换|改))"
)
_DOUBLE = re.compile(
    r"(重复扣|重复支付|重复付款|重复收费|多扣|扣了?(我)?(两|2|二|三|3)(次|遍|回|笔)|扣(两|2|二)笔|扣款(两|2|二)次"
    r"|付了?(两|2|二)次|(两|2|二)次扣款|扣了双份|扣款出现了?(两|2|二)次|(两|2|二)(次|遍|笔)(扣款|扣费|付款))"
)
_PAY_FAILED = re.compile(r"(支付失败|付款失败|没付成功|未支付|支付不成功|付款不成功|显示未付款|订单没生成|没有生成订单|订单不见了|交易失败)")
_MONEY_TAKEN = re.compile(r"(扣了|扣款|扣钱|钱被扣|已扣|扣费|钱扣了|钱没了|钱已经|已经付了?钱|钱付了)")
_PAID = r"(付了|付过|已付|已经付|付款了|支付了|已支付|付完|付成功|扣了|扣款了|钱扣了|扣钱了|钱被扣|钱已经扣|钱没了|钱付了)"
# money taken but the shop has no paid order for it, or it never came back
_PAID_NOT_REGISTERED = re.compile(
    _PAID + r".{0,16}(未付款|待付款|未支付|没付款|没有付款|待支付|没支付|没付成功|付款失败|支付失败)"
    r"|" + _PAID + r".{0,16}(没有?订单|订单(列表)?(里|也)?(什么都|什么也|啥都|啥也)?(没有|不见|没生成|没了|消失|查不到|找不到)"
    r"|没下单|没生成|没买(东西|过|任何)|没有买|(没|没有)(看到|看见|找到)(订单|单子)|订单.{0,4}(看不到|找不到|没看到)"
    r"|(找不到|看不到|查不到|搜不到)(这个|这笔|任何)?(订单|单子|记录))"
    # the balance gone without a purchase: "余额怎么没了 我没买东西啊"
    r"|(余额|钱).{0,6}(没了|少了|不见了|被扣).{0,16}(没买(东西|过|任何)?|没下(过)?单|没有买)"
    r"|" + _PAID + r".{0,24}(没退|没有退|也不退|没给退|不给退|退不回)"
    r"|(没有?订单|没下(过)?单|订单没生成|没买(东西|过|任何)|没有买(东西)?).{0,12}(扣了|扣款|扣钱|被扣|钱没了)"
)


@lru_cache(maxsize=1)
def _t2s():  # type: ignore[no-untyped-def]
    """Traditional → Simplified converter, built once (customers write both)."""
    try:
        import opencc

        return opencc.OpenCC("t2s")
    except Exception:  # pragma: no cover - opencc is a pinned dependency
        return None


def to_simplified(text: str) -> str:
    """Simplified-Chinese form of `text`, so keyword rules see one script."""
    conv = _t2s()
    return conv.convert(text) if conv is not None else text


# someone posing as the shop asks for money: a fraud in progress, a person must step in now
_SCAM = re.compile(
    r"(冒充|假冒|自称|说是|说他是|声称是?)(你们|你们的|贵店|店铺|平台|官方)?的?(客服|工作人员|售后|官方).{0,24}"
    r"(转账|借款|贷款|网贷|备用金|验证码|屏幕共享|共享屏幕|开通|打款|汇款)"
)

# typos seen in these very messages ("我己经付了款 为啥还是待付欵")
_TYPO_FIXES = {"己经": "已经", "以经": "已经", "付欵": "付款", "扣欵": "扣款", "帐号": "账号", "帐户": "账户"}
_TYPOS = re.compile("|".join(_TYPO_FIXES))


def urgent_kind(text: str | None) -> str | None:
    """Tier-1 problem named in a customer message: stolen_account, scam_report (someone posing
    as the shop asks for a transfer or a code), double_charge or paid_but_failed (a failed
    payment where money was taken); None otherwise.

    Keyword rules rather than the classifier, because missing one of these costs real
    money and the wording is narrow.
    """
    if not text:
        return None
    t = pinyin_to_hanzi(_TYPOS.sub(lambda m: _TYPO_FIXES[m.group(0)], to_simplified(text)).lower())
    if _SCAM.search(t):
        return "scam_report"
    if _STOLEN.search(t):
        return "stolen_account"
    if _DOUBLE.search(t):
        return "double_charge"
    if (_PAY_FAILED.search(t) and _MONEY_TAKEN.search(t)) or _PAID_NOT_REGISTERED.search(t):
        return "paid_but_failed"
    return None


# the bot just showed an order as unpaid ("当前状态：待付款")
_SHOWN_UNPAID = re.compile(r"待付款|未付款|还未付款|尚未付款")
# "我早上就付了", "这个我付过钱的啊": a payment claimed as done ("付完款再开", "付了再说" are plans)
_CLAIMS_PAID = re.compile(
    r"(付了|付过|已付|已经付|付款了|支付了|已支付|付成功了?|扣了|扣款了|钱扣了|扣钱了|钱被扣|钱已经扣|钱没了|钱付了)"
    r"(?![^，,。！!？?\s]{0,3}(再|以后|之后|后|就能|就可以))"
)


def urgent_in_recent(texts: Sequence[str | None], bot_said: str | None = None) -> str | None:
    """The tier-1 problem in the latest message, or told over the latest two ("支付宝扣了我399"
    then "可是我订单里找不到这一单"), or "我早上就付了" right after the bot showed the order as
    unpaid: a customer explains in pieces, the money is taken all the same."""
    recent = [t for t in texts if t][-2:]
    if not recent:
        return None
    if bot_said and _SHOWN_UNPAID.search(bot_said) and _CLAIMS_PAID.search(to_simplified(recent[-1])):
        return "paid_but_failed"
    latest = urgent_kind(recent[-1])
    if latest or len(recent) < 2 or urgent_kind(recent[0]):
        # a problem the earlier message told alone was handed off then; it is not told again
        return latest
    return urgent_kind("，".join(recent))


# thanks said through the teeth after a complaint ("物流三天没动了" → "真是谢谢你们了啊")
_SARCASTIC_THANKS = re.compile(r"(真是|真的是|可真|太)(太)?(谢谢|感谢|多谢)(你们|您)?(了)?(啊|呢|哈|哦|呵呵)|谢谢你们(全家|八辈)|呵呵.{0,4}谢|谢谢.{0,4}呵呵|辛苦你们了(啊|呢)?[.。…]{2,}")
_COMPLAINT = re.compile(r"没动|不动|还没(到|发|收到|更新|处理|退)|几天了|多少天|等了|太慢|这么慢|怎么还|又是|一直(没|不)|催了|卡(住|在)")


def sarcastic_after_complaint(texts: Sequence[str | None]) -> bool:
    """Sarcastic thanks right after the customer complained: anger, though no word is rude."""
    recent = [to_simplified(t) for t in texts if t][-2:]
    return len(recent) == 2 and bool(_SARCASTIC_THANKS.search(recent[1])) and bool(_COMPLAINT.search(recent[0]))


def decide_reason(
    explicit: str | None,
    intent: str | None,
    emotion: str | None,
    urgent: str | None = None,
) -> str:
    """Why we hand off. An action that asked for the handoff (urgent topic, failed
    verification) knows best; then an urgent problem in the message; then anger; then a
    message we could not understand; otherwise the customer asked for a person."""
    if explicit in REASONS:
        return explicit  # type: ignore[return-value]
    if urgent:
        return "urgent"
    if emotion == "angry":
        return "angry"
    if intent == "nlu_fallback":
        return "not_understood"
    return "requested"


def decide_priority(reason: str, vip_level: int | None = 0) -> str:
    """urgent → urgent, angry → high, else normal; VIP (level ≥ 3) one step up, capped."""
    base = {"urgent": "urgent", "angry": "high"}.get(reason, "normal")
    idx = PRIORITIES.index(base)
    if (vip_level or 0) >= VIP_BUMP_LEVEL:
        idx = min(idx + 1, len(PRIORITIES) - 1)
    return PRIORITIES[idx]


# What a complaint (or a bare "human please") is about, read off the customer's words when the
# intent names no topic: an angry "钱到现在都没退，我要投诉" belongs to the refunds group.
TOPIC_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("payments", re.compile(r"扣款|扣钱|扣费|支付|付款失败|付了钱|多扣|重复扣")),
    ("refunds", re.compile(r"退款|退钱|没退|不退|退货|退换|售后|钱.{0,6}退")),
    ("account", re.compile(r"账号|账户|登录|登陆|密码|被盗")),
    ("orders", re.compile(r"快递|物流|发货|配送|送货|收货|包裹|订单")),
)


def skill_from_words(texts: Sequence[str]) -> str | None:
    """The first topic named in the newest message that names one."""
    for text in reversed([t for t in texts if t]):
        simplified = to_simplified(text)
        for skill, pattern in TOPIC_WORDS:
            if pattern.search(simplified):
                return skill
    return None


def decide_skill(
    intents: Sequence[str | None], urgent: str | None = None, texts: Sequence[str] = ()
) -> str:
    """Skill group from the urgent kind, else the most recent topical intent of the
    conversation (a 'human please' message says nothing about the topic), else what the
    customer's words are about, else general."""
    if urgent in URGENT_SKILL:
        return URGENT_SKILL[urgent]
    for intent in reversed(list(intents)):
        if INTENT_SKILL.get(intent or "", "general") != "general":
            return INTENT_SKILL[intent or ""]
    return skill_from_words(texts) or "general"


_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_SPACES = re.compile(r"\s+")


def mask_phones(text: str) -> str:
    """Mainland mobile numbers in free text → 138****1234 (agents and logs never see them whole)."""
    return _PHONE.sub(r"\1****\2", text)


def shorten(text: str, limit: int = 30) -> str:
    """One line, at most `limit` characters, phones masked."""
    one = _SPACES.sub(" ", mask_phones(text or "")).strip()
    return one if len(one) <= limit else one[: limit - 1] + "…"


def build_summary(
    intent: str | None,
    order_id: str | None,
    messages: Sequence[str],
    *,
    keep: int = 3,
    limit: int = 30,
) -> str:
    """One line for the agent: topic, order number if known, last few customer messages."""
    label = INTENT_LABEL.get(intent or "", intent or "未知")
    parts = [f"意图:{label}"]
    if order_id:
        parts.append(f"订单:{order_id}")
    said = [m for m in messages if m and m.strip()]
    # a message the bot re-read for its topic ("那2025061800010呢") is in the tracker twice
    said = [m for i, m in enumerate(said) if i == 0 or m != said[i - 1]]
    recent = [shorten(m, limit) for m in said][-keep:]
    if recent:
        parts.append("客户:" + " / ".join(recent))
    return " | ".join(parts)


# Actions that run between a user message and the bot's first real decision; they are not
# "what the bot last did".
TRANSPARENT_ACTIONS = frozenset({"action_listen", "action_unlikely_intent", "action_extract_slots"})


def bot_text_before_latest_message(newest_first: Iterable[tuple[bool, str | None]]) -> str | None:
    """The bot's last message before the customer's latest one, from the events newest first as
    (is a user message, the bot's text or None); Rasa's events and the SDK's dicts both map here."""
    seen_user = False
    for is_user, text in newest_first:
        if is_user:
            if seen_user:
                return None
            seen_user = True
        elif seen_user and text:
            return text
    return None


def action_before_latest_message(newest_first: Iterable[tuple[bool, str | None]]) -> str | None:
    """The bot's last action before the latest user message, from the events newest first as
    (is a user message, action name) pairs; one definition for the policy (Rasa events) and
    the actions (the SDK's event dicts)."""
    seen_user = False
    for is_user, action in newest_first:
        if is_user:
            if seen_user:
                return None
            seen_user = True
        elif seen_user and action and action not in TRANSPARENT_ACTIONS:
            return action
    return None


def more_urgent(reason: str, previous: str | None) -> str:
    """The reason with the higher queue priority; the earlier one on a tie, so "快点帮我处理"
    after an urgent handoff keeps it urgent."""
    if previous not in REASONS:
        return reason
    rank = {"urgent": 2, "angry": 1}
    return reason if rank.get(reason, 0) > rank.get(previous, 0) else previous  # type: ignore[return-value]


def build_payload(
    *,
    explicit_reason: str | None,
    intents: Sequence[str | None],
    emotion: str | None,
    text: str | None,
    messages: Sequence[str],
    order_id: str | None,
    vip_level: int | None,
    previous: dict | None = None,
    bot_said: str | None = None,
) -> dict:
    """The complete ``{"handoff": {...}}`` payload from what the action read off the tracker.
    ``previous``: the handoff this conversation is already waiting on (its reason and skill),
    when the customer writes again before a person took over; the wait keeps its urgency.
    ``bot_said``: the bot's last message before the latest one of the customer's."""
    earlier = [m for m in messages if m and m != text][-1:]
    urgent = urgent_in_recent([*earlier, text], bot_said)
    if sarcastic_after_complaint([*earlier, text]):
        emotion = "angry"
    reason = decide_reason(explicit_reason, intents[-1] if intents else None, emotion, urgent)
    skill = decide_skill(intents, urgent, messages)
    if previous:
        reason = more_urgent(reason, previous.get("reason"))
        if not urgent and previous.get("skill") in SKILLS:
            skill = previous["skill"]
    topic = next((i for i in reversed(list(intents)) if i in INTENT_SKILL), None)
    summary_intent = topic or (intents[-1] if intents else None)
    return {
        "handoff": {
            "reason": reason,
            "priority": decide_priority(reason, vip_level),
            "skill": skill,
            "summary": build_summary(summary_intent, order_id, messages),
        }
    }
