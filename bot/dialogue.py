"""Pure helpers for the dialogue: reading order numbers and phone tails out of free text,
checking the values a customer gives in forms, and wording order facts.

Kept apart from the rasa-sdk actions so the rules are tested without a tracker.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.handoff import to_simplified
from bot.orders.values import (  # noqa: F401 - the forms' checks are the service's
    clean_email,
    clean_invoice_title,
    clean_order_field,
    clean_tax_id,
    is_personal_title,
)

# intents that touch one of the customer's orders and so need a verified order
ORDER_TOPICS = (
    "order_status",
    "logistics",
    "cancel_order",
    "modify_order",
    "refund",
    "return_exchange",
    "invoice",
)

MAX_VERIFY_ATTEMPTS = 3

# FAQ answers that fit a general question classified as an order topic ("退款一般几天到账",
# "衣服能退吗", "发票抬头写错了能重开吗"): the policy answers it, no order is needed.
TOPIC_FAQ: dict[str, frozenset[str]] = {
    "refund": frozenset({"faq/refund_time", "faq/return_policy", "faq/return_shipping", "faq/price_protection"}),
    "return_exchange": frozenset({"faq/return_policy", "faq/change_size", "faq/return_shipping",
                                  "faq/missing_item", "faq/warranty"}),
    "invoice": frozenset({"faq/invoice_reissue", "faq/special_invoice"}),
    "logistics": frozenset({"faq/delivery_time", "faq/remote_delivery", "faq/shipping_fee", "faq/missing_item"}),
    "order_status": frozenset({"faq/delivery_time", "faq/remote_delivery"}),
    "cancel_order": frozenset({"faq/refund_time"}),
}
# words that tie a question to one of the customer's own orders or refunds
_OWN = re.compile(
    r"我的|我那|我这|我刚|我昨天|我前|我上|我买的|我退的|我申请的|我下的|我家|这单|这笔|这个订单|那个订单|那单|那笔|"
    r"订单号|单号|\d{6,}|到哪|进度|还没|怎么还|为什么还|咋还|啥时候能|什么时候能|到账了吗|退了吗|开了吗|发了吗|"
    # a lookup asked for ("帮我查下物流呗") or a state asked after ("钱退了没啊") is about their order
    r"(帮我|给我)?(查|看|瞅)(一下|下|查|看)?(我的|物流|快递|包裹|订单|单子|退款进度|到哪)|了没|好了吗|到了吗|"
    r"啥情况|什么情况"
)


# the shop's rule for topics no FAQ answers ("没付款的订单会自动取消吗")
TOPIC_POLICY = {"cancel_order": "utter_cancel_policy", "modify_order": "utter_modify_policy"}


def general_answer(
    topic: str | None, text: str | None, speech_act: str | None, faq_key: str | None
) -> tuple[str, str | None] | None:
    """(response, FAQ key it answers with) for a general question about `topic` — an FAQ answer
    or the topic's policy — or None when the message is about the customer's own order or is a
    request."""
    if speech_act != "ask" or _OWN.search(to_simplified(text or "")):
        return None
    if faq_key and faq_key in TOPIC_FAQ.get(topic or "", ()):
        return f"utter_faq/{faq_key.removeprefix('faq/')}", faq_key
    policy = TOPIC_POLICY.get(topic or "")
    return (policy, None) if policy else None

# what may surround an order number typed to pick one from the offered list
# ("就是2025061800008这个", "选第二个 2025…", "嗯 2025…吧")
_PICK_FILLER = re.compile(
    r"就是|是|这个|那个|这笔|那笔|这单|那单|这一单|订单号|订单|单号|号码|号|选|要|第|一|个|的|吧|啊|呀|哦|噢|嗯|恩|"
    r"好|对|呢|哈|麻烦|帮我|看下|看看|查下|这|那|[\s\W_]"
)
# intents a message choosing an order may be classified as without meaning a new request
PICK_INTENTS = frozenset({"affirm", "inform", "nlu_fallback", "out_of_scope", "greet", "thank"})


def is_bare_pick(text: str | None) -> bool:
    """Whether a message is only an order number (and filler words): a choice from the order
    list the bot just offered, not a new question about that order."""
    simple = _DIGIT_RUN.sub("", to_simplified(text or "").translate(_FULLWIDTH))
    return not _PICK_FILLER.sub("", simple) and order_id_candidate(text) is not None


def picks_offered_order(text: str | None, intent: str | None, topic: str | None) -> bool:
    """After the bot listed the customer's orders for `topic`, whether this message picks one
    (and so continues that topic) rather than asking something new."""
    if not topic or order_id_candidate(text) is None or intent == topic:
        return False
    return is_bare_pick(text) or intent in PICK_INTENTS


_DIGIT_RUN = re.compile(r"\d+")
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def _digits_runs(text: str) -> list[str]:
    return _DIGIT_RUN.findall((text or "").translate(_FULLWIDTH))


def order_id_candidate(text: str | None) -> str | None:
    """The digit run in `text` that is meant as an order number: a 12–20 digit run if
    there is one, else any run of 6+ digits (returned so it can be refused as malformed),
    else None (the message carries no attempt at an order number)."""
    runs = _digits_runs(text or "")
    for run in runs:
        if 12 <= len(run) <= 20:
            return run
    longish = [r for r in runs if len(r) >= 6]
    return longish[0] if longish else None


def phone_tail_candidate(text: str | None) -> str | None:
    """The last 4 digits of the phone from a reply: a lone 4-digit run, or the tail of a
    full mainland mobile number. Longer runs (order numbers) are not phone tails."""
    for run in _digits_runs(text or ""):
        if len(run) == 4:
            return run
        if len(run) == 11 and run.startswith("1"):
            return run[-4:]
    return None


MODIFY_FIELDS = {"address": "收货地址", "phone": "联系电话", "receiver_name": "收货人"}

_FIELD_WORDS = (
    ("address", ("地址", "住址", "送到", "寄到", "改到", "换到", "小区", "公司")),
    ("phone", ("电话", "手机", "号码", "联系方式")),
    ("receiver_name", ("收货人", "收件人", "名字", "姓名", "收货人姓名")),
)


def detect_modify_field(text: str | None) -> str | None:
    """Which order field a message is about (address, phone, receiver_name), if it says."""
    t = to_simplified((text or "").strip()).lower()
    if t in MODIFY_FIELDS:
        return t
    # receiver_name first: 收货人 contains no address word, but 收货人电话 is a phone
    if any(w in t for w in ("电话", "手机", "号码")):
        return "phone"
    if any(w in t for w in ("收货人", "收件人", "名字", "姓名")):
        return "receiver_name"
    if any(w in t for w in _FIELD_WORDS[0][1]):
        return "address"
    return None


def clean_new_value(field: str, raw: str | None) -> str | None:
    """The new value for an order field in canonical form, or None when not acceptable."""
    return clean_order_field(field, raw)


def mask_email(email: str) -> str:
    """a***@example.com — confirmations show enough to recognise it, not the whole address."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_value(field: str, value: str) -> str:
    """How a new order value is echoed back: phones masked, names and addresses as given
    (the customer just typed them)."""
    if field == "phone" and len(value) == 11:
        return f"{value[:3]}****{value[-4:]}"
    return value


def short_time(dt: datetime | None) -> str:
    """Beijing time as 11-23 14:05 for chat replies."""
    from bot.orders.timeutil import format_shanghai

    return format_shanghai(dt, "%m-%d %H:%M") if dt else ""


def short_date(dt: datetime | None) -> str:
    """Beijing date as 11月23日."""
    from bot.orders.timeutil import to_shanghai

    local = to_shanghai(dt)
    return f"{local.month}月{local.day}日" if local else ""


def items_line(items: list[str], limit: int = 2) -> str:
    """First items of an order for a short reply: 'A、B 等3件'."""
    if not items:
        return ""
    head = "、".join(items[:limit])
    return f"{head} 等{len(items)}件" if len(items) > limit else head
