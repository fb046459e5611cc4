"""Pure helpers for the dialogue: reading order numbers and phone tails out of free text,
checking the values a customer gives in forms, and wording order facts.

Kept apart from the rasa-sdk actions so the rules are tested without a tracker.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.confirm import CONDITION, new_value_text, stated_new_value, wants_exchange, yes_no
from bot.handoff import to_simplified as _script_simplified
from bot.nlu.pinyin import join_hanzi, pinyin_to_hanzi, typed_in_pinyin
from bot.orders.values import (  # noqa: F401 - the forms' checks are the service's
    clean_email,
    clean_invoice_title,
    clean_order_field,
    clean_tax_id,
    is_personal_title,
)

# the actions that answer about one order
ORDER_ACTIONS = frozenset({
    "action_order_status", "action_logistics", "action_cancel_order", "action_modify_order",
    "action_refund", "action_return_exchange", "action_invoice",
})
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
# the order topic whose answer an FAQ generalises: "那2025061800006呢" after the return policy
# asks about that order's return window
_FAQ_TOPIC = {
    "faq/return_policy": "return_exchange", "faq/return_shipping": "return_exchange",
    "faq/change_size": "return_exchange", "faq/warranty": "return_exchange",
    "faq/missing_item": "return_exchange", "faq/refund_time": "refund",
    "faq/price_protection": "refund", "faq/invoice_reissue": "invoice",
    "faq/special_invoice": "invoice", "faq/delivery_time": "logistics",
    "faq/remote_delivery": "logistics", "faq/shipping_fee": "order_status",
}

def to_simplified(text: str) -> str:
    """The rules' view of a message: Simplified characters, and a message typed in pinyin as
    one Chinese sentence ("kaifapiao zenme kai" reads "开发票怎么开")."""
    return _script_simplified(join_hanzi(pinyin_to_hanzi(text.lower())) if typed_in_pinyin(text) else text)


def faq_topic(faq_key: str | None) -> str | None:
    return _FAQ_TOPIC.get(faq_key or "")


# words that tie a question to one of the customer's own orders or refunds
_OWN = re.compile(
    r"我的|我那|我这|我刚|我昨天|我前|我上|我买的|我退的|我申请的|我下的|我家|这单|这笔|这个订单|那个订单|那单|那笔|"
    r"订单号|单号|\d{6,}|到哪|进度|还没|怎么还|为什么还|咋还|啥时候能|什么时候能|到账了吗|退了吗|开了吗|发了吗|"
    # a lookup asked for ("帮我查下物流呗") or a state asked after ("钱退了没啊") is about their order
    r"(帮我|给我)?(查|看|瞅)(一下|下|查|看)?(我的|物流|快递|包裹|订单|单子|退款进度|到哪)|了没|好了吗|到了吗|"
    r"啥情况|什么情况|发我|发给我|\d{4}[-－—\s]\d{4}|"
    # a mistake in their own order's delivery details reported ("收货地址填错了")
    r"(地址|电话|手机|收货人|收件人|名字).{0,4}(填|写|留|弄|搞)错"
)


def about_own_order(text: str | None) -> bool:
    """"我的退款怎么还没到" is about their own order; "退款一般几天到" is a general question."""
    return bool(_OWN.search(to_simplified(text or "")))


_WITHDRAW = re.compile(r"撤回|撤销|撤掉|不想退了|不退了|不要退了|取消退款|退款取消|别退了")


_MONEY = re.compile(r"钱|退款|到账|退了(吗|没)|款项|扣款")


def asks_about_money(text: str | None) -> bool:
    """"取消了钱退了吗": the money of an order, not the order itself."""
    return bool(_MONEY.search(to_simplified(text or "")))


def wants_withdrawal(text: str | None) -> bool:
    """A customer calling back their own running refund ("这个退款我不想退了 能撤回吗")."""
    return bool(_WITHDRAW.search(to_simplified(text or "")))


# the shop's rule for topics no FAQ answers ("没付款的订单会自动取消吗")
TOPIC_POLICY = {"cancel_order": "utter_cancel_policy", "modify_order": "utter_modify_policy",
                "invoice": "utter_invoice_policy"}
# "发票怎么开": how to get one at all, not how to re-issue one or a special VAT invoice
_INVOICE_HOW = re.compile(r"(怎么|如何|怎样|在哪里?|哪里|去哪)(开|申请|要|弄|拿|获取)|能开(发票|票)?吗|可以开(发票|票)?吗|开不开|给开吗")
_INVOICE_OTHER = re.compile(r"重开|换开|补开|重新开|作废|专票|专用|开错|写错|填错|过期|多久|几天")


def asks_how_to_get_invoice(text: str | None) -> bool:
    t = re.sub(r"\s+", "", to_simplified(text or ""))  # "发票 怎么 开"
    return bool(_INVOICE_HOW.search(t)) and not _INVOICE_OTHER.search(t)


def general_answer(
    topic: str | None, text: str | None, speech_act: str | None, faq_key: str | None
) -> tuple[str, str | None] | None:
    """(response, FAQ key it answers with) for a general question about `topic` — an FAQ answer
    or the topic's policy — or None when the message is about the customer's own order or is a
    request."""
    if speech_act != "ask" or about_own_order(text):
        return None
    if topic == "invoice" and asks_how_to_get_invoice(text):
        return "utter_invoice_policy", None
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
PICK_INTENTS = frozenset({"affirm", "nlu_fallback", "out_of_scope", "greet", "thank"})


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


# a follow-up that leans on the previous answer ("那预售的呢", "周末也在吗", "那现在有什么")
# ... or names its subject by what the answer just described ("新的几天能开好" after the
# answer about re-issuing an invoice)
_ELLIPTICAL = re.compile(
    r"^(那|那么|那如果|那要是|如果是|要是|那像|新的|新开的|重开的|重新开的|换开的|补开的|换好的|补发的)|"
    r"(呢|也一样吗?|也是吗|也[^，,。吗]{1,4}吗|一样吗|也算吗)[?？]*$|"
    # "没有吗" (so it wasn't?) right after an answer
    r"^(没有|不是|还没有?|没)(吗|嘛|啊|么)[?？]*$|"
    # "会怎样" after "取消的话…": what follows from the answer just given
    r"^(那)?(然后|之后|接下来)?(会|又会)(怎样|怎么样|咋样|如何)(呢|啊|呀)?[?？]*$"
)
_CLAUSES = re.compile(r"[\s,，。.!！;；~～…]+")
_STUCK = re.compile(r"^(那|那我|那这|那现在)?(该)?(怎么办|咋办|怎么弄|咋弄|咋整|怎么处理|如何是好)(呢|啊|呀|哇|嘛)?[?？!！]*$")


def last_clause(text: str | None) -> str:
    parts = [p for p in _CLAUSES.split(to_simplified((text or "").strip())) if p]
    return parts[-1] if parts else ""


_EMOJI = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF\ufe0f]+")


def is_elliptical(text: str | None) -> bool:
    """A short message (or a short last clause after "啊 结束了啊") that leans on what was said."""
    t = _EMOJI.sub("", to_simplified((text or "").strip())).strip()
    if not 0 < len(t) <= 16 or re.search(r"\d{6,}", t):
        return False
    return bool(_ELLIPTICAL.search(t) or _ELLIPTICAL.search(last_clause(t)))


_ANOTHER_ORDER_FILLER = re.compile(r"^(那|那么|还有|再|看看|查查?|下|一下|这|这个|这单|订单|单号|的|呢|了|吗|怎么样|咋样|呀|啊|[?？!！,，.。~～\s])*$")


def names_another_order(text: str | None) -> bool:
    """"那2025061800002呢": an order number and nothing but "and this one?" around it."""
    t = to_simplified((text or "").strip())
    numbers = re.findall(r"\d{13}", t)
    rest = re.sub(r"\d{13}", "", t)
    return len(numbers) == 1 and bool(re.search(r"那|呢|还有|再", rest)) and bool(_ANOTHER_ORDER_FILLER.match(rest))


_OTHER_ORDER = re.compile(r"另(一|外|个)|别的|其他|其它|还有一|上一|上个|之前|以前|那个")


def same_order_meant(text: str | None) -> bool:
    """A question that names no other order than the one just answered ("哪家快递送的"), not
    "我另一单到哪了"."""
    t = to_simplified(text or "")
    return not re.search(r"\d{6,}", t) and not _OTHER_ORDER.search(t)


# "不对 是另一单", "不是这个", "选错了": the order just answered about is not the one meant
_CORRECTS_CHOICE = re.compile(r"^(不对(?!劲)|错了)|另一(单|个|笔)|不是(这|那)(个|单|笔|一单)|选错|(搞|弄)错(了)?(单|订单)")
_ITEM_NAME = re.compile(r"[\u4e00-\u9fa5]+")


def corrects_order_choice(text: str | None) -> bool:
    """Whether the customer says the order just answered about is the wrong one."""
    return bool(_CORRECTS_CHOICE.search(to_simplified((text or "").strip())))


# At "phone tail?": "不是这个 我另一单", "单号填错了" — the order number given was not the one meant
_OTHER_ORDER_MEANT = re.compile(
    r"另(一|外|外一)(个|单|笔)|不是(这|那)(个|一?单|一?笔)|(订单|单号|订单号)(搞|弄|输|填|打|写)错|"
    r"(搞|弄|输|填|打|写)错(了)?(单|订单|单号|订单号)|换(一|个)(单|订单)"
)
VERIFY_FORM = "order_verification_form"


_POINTS_AT_ORDER = re.compile(r"^(就|就是|是)?(最近|最新|上一|上个|刚(刚)?买|刚下|前几天|昨天|今天|那个|这个|那|这)(的|个|一个|一单|那个|那单|那笔|的那个|买的那个)?(订单|单子|单)?(吧|啊|呀)?$")


def points_at_an_order(text: str | None) -> bool:
    """"就最近那个": an order pointed at without its number."""
    return bool(_POINTS_AT_ORDER.match(re.sub(r"[\s,，。.!！~～…?？]+", "", to_simplified(text or ""))))


def means_another_order(text: str | None) -> bool:
    """Whether a reply at the phone-tail question takes back the order number, with no new
    order number or phone tail in it: the form asks for the order number again."""
    t = to_simplified((text or "").strip())
    return bool(_OTHER_ORDER_MEANT.search(t)) and not re.search(r"\d{4,}", t.translate(_FULLWIDTH))


def orders_by_goods(text: str | None, orders: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """The orders whose goods ``text`` names ("可折叠收纳箱那个", "羽绒服那单"): three characters
    of an item's name in a row are enough."""
    t = to_simplified(text or "")
    hits = []
    for order_id, items in orders:
        names = [m.group(0) for item in items for m in _ITEM_NAME.finditer(to_simplified(item))]
        if any(name[i:i + 3] in t for name in names if len(name) >= 3 for i in range(len(name) - 2)):
            hits.append(order_id)
    return hits


def order_by_goods(text: str | None, orders: Sequence[tuple[str, Sequence[str]]]) -> str | None:
    """The one order whose goods ``text`` names; None when no order or several match."""
    hits = orders_by_goods(text, orders)
    return hits[0] if len(hits) == 1 else None


_PRESALE_NAMED = re.compile(r"预售|定金|尾款")


def orders_of_kind_named(text: str | None, orders: Sequence[tuple[str, str]]) -> list[str]:
    """"那个预售的": of (order id, order type) pairs, the ids of the kind the text names, or
    all of them when it names none or none of the orders is of that kind."""
    if _PRESALE_NAMED.search(to_simplified(text or "")):
        presale = [order_id for order_id, kind in orders if kind == "presale"]
        if presale:
            return presale
    return [order_id for order_id, _ in orders]


def selector_key(parse: dict[str, Any] | None) -> tuple[str | None, float]:
    """The response selector's FAQ key and confidence."""
    response = (((parse or {}).get("response_selector") or {}).get("faq") or {}).get("response") or {}
    return response.get("intent_response_key"), float(response.get("confidence") or 0.0)


# what a "how" clause may follow and still ask how to do it: "退款 咋弄", "开发票 怎么弄"
_BARE_TOPIC = re.compile(r"^(申请|要|想)?(退款|退钱|退货|换货|退换货|售后|发票|开发票|开票|专票|价保|取消订单|改地址|修改地址)$")


def is_stuck(text: str | None) -> bool:
    """"那怎么办啊", "那不退了 怎么办": the customer does not know how to go on after the answer
    ("退款 咋弄" asks how to get a refund)."""
    parts = [p for p in _CLAUSES.split(to_simplified((text or "").strip())) if p]
    if not parts or not _STUCK.match(parts[-1]):
        return False
    return not (len(parts) == 2 and _BARE_TOPIC.match(parts[0]))


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


# "满了200", "200块", "凑到199": a sum of money in a remark (3–5 digits at most: never an order number)
_AMOUNT = re.compile(r"满了?\s*\d{2,5}(?!\d)|(?<!\d)\d{2,5}\s*(元|块|rmb)|凑(到|够|满)?\s*\d{2,5}(?!\d)", re.I)
# FAQ answers about sums of money (thresholds, postage, price differences)
MONEY_FAQS = frozenset({"faq/coupon", "faq/shipping_fee", "faq/price_protection"})


def remarks_on_amount(text: str | None, last_faq: str | None) -> bool:
    """"订单满了200的" right after the coupon answer: a sum for that answer, not an order to look up."""
    return last_faq in MONEY_FAQS and bool(_AMOUNT.search(text or "")) and order_id_candidate(text) is None


COUPON_FAQ = "faq/coupon"
PROMOTIONS_ACTION = "action_promotions"
_PROMOTION_RULE = re.compile(r"满\s*(\d{2,5})\s*(?:元|块)?\s*[减-]\s*(\d{1,4})")


def promotion_named(text: str | None) -> str | None:
    """"满299减40能和店铺券一起用吗": the promotion the message names ("满299减40"), or None."""
    found = _PROMOTION_RULE.search(to_simplified(_nfkc(text)))
    return f"满{found.group(1)}减{found.group(2)}" if found else None


def promotion_of(name: str, promos: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The running promotion whose title names the same rule."""
    return next((p for p in promos if name in re.sub(r"\s+", "", p.get("title") or "")), None)


# Words that go on about coupons without naming them ("领了放在哪里看", "过期了还能补吗")
_COUPON_FOLLOW = re.compile(r"领(?!导)|过期|补发|能补|抵扣|门槛|叠加|哪(里|儿)?(看|找|查)")


def coupon_follow_up(text: str | None, last_faq: str | None, after_promotions: bool) -> bool:
    """A message right after the coupon answer or the promotions list that goes on about the
    coupons without naming them: the coupon answer covers it."""
    return (last_faq == COUPON_FAQ or after_promotions) and bool(_COUPON_FOLLOW.search(to_simplified(text or "")))


# "包裹里少了一个收纳箱", "发错货了", "杯子碎了": goods missing, wrong or broken in a delivered parcel
_MISSING_GOODS = re.compile(
    r"少(了|发|寄|件|一)|漏(发|寄)|缺(了|件|少)|发错|寄错|错发|破损|破了|摔坏|压坏|碎了|"
    r"(盒子|箱子|包裹|里面)里?(根本|竟然)?(没有|没看到|只有)"
)


def reports_missing_goods(text: str | None) -> bool:
    """Whether the customer reports goods missing, wrong or broken (not a parcel still on its way)."""
    return bool(_MISSING_GOODS.search(to_simplified(text or "")))


_QUESTION = re.compile(
    r"[吗么嘛呢?？][\s!！~～。]*$|能不能|可不可以|可以不|来得及|是否|还能|行不行|能否|哪|什么|啥|怎么|如何|谁(出|付|承担|掏|负责)"
)


def is_question(text: str | None) -> bool:
    """"地址还来得及改吗" and "寄到哪个地址的" ask; "收货地址改成…" and "地址写错了" ask for the change."""
    return bool(_QUESTION.search(to_simplified((text or "").strip())))


_ASKS_CURRENT = re.compile(
    r"(寄|送|发|邮)(到|去|往)(哪|什么地方)|哪个(地址|电话|号码|手机)|什么(地址|电话|号码)|"
    r"(地址|电话|号码|手机号?|收货人|收件人)(是|写的是|填的是|留的是)(什么|多少|哪|谁)|收(货|件)人是谁|留的(哪|什么)"
)


def asks_current_value(text: str | None) -> bool:
    """"寄到哪个地址的", "收货电话留的哪个": asks what the order's delivery details are, not
    whether they can change."""
    return bool(_ASKS_CURRENT.search(to_simplified(text or "")))


_CANT_GIVE_TAIL = re.compile(
    r"不知道|不记得|忘了|记不清|想不起|没有(她|他|我老婆|我老公)?的?手机|不是我的?手机|换了?手机|手机(号)?(丢|停|没)|截图|"
    r"(她|他)的(手机|号)"
)


def keeps_topic(intent: str | None, topic: str | None, text: str | None, confidence: float = 1.0) -> bool:
    """A remark drawn as the generic ``order_status``, or as any topic by a draw under 0.5 ("这是我
    老婆的单子" came back cancel_order at 0.22), with no question and no order number, leaves the
    order topic under way as it is."""
    return (
        (intent == "order_status" or confidence < 0.5) and topic in ORDER_TOPICS and topic != intent
        and not is_question(text) and order_id_candidate(text) is None
    )


def cannot_give_tail(text: str | None) -> bool:
    """"我是她老公 手机尾号不知道", "那我把订单截图发你行不行": the tail asked for will not come."""
    t = to_simplified(text or "")
    return not re.search(r"\d{4}", t) and bool(_CANT_GIVE_TAIL.search(t))


_MISTAKE = re.compile(r"(留|填|写|打|输|弄|搞)错|错了|不对")


def states_a_change(text: str | None) -> bool:
    """"收货电话换成13900001111": an order field, a change verb and an acceptable new value."""
    field = detect_modify_field(text)
    stated = stated_new_value(text) if field else None
    return bool(field and stated and clean_new_value(field, stated))


def reports_field_mistake(text: str | None) -> bool:
    """"2025061800002 电话留错了": a delivery detail reported wrong, which asks for its change
    (a question about it, "地址填错了还能改吗", is not a report)."""
    t = to_simplified(text or "")
    return bool(detect_modify_field(t) and _MISTAKE.search(t)) and not is_question(t)


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


_REMARK_SPLIT = re.compile(r"[\s,，、。;；(（]+")
_CJK = re.compile(r"[\u4e00-\u9fa5]")


def name_before_remark(raw: str | None) -> str | None:
    """The receiver's name when a remark follows it ("王芳 我老婆收" → 王芳, "李雷，我同事"):
    a Chinese name is one word, so what follows a space or comma is not part of it. Latin
    names ("Anna Lee") are left whole."""
    parts = _REMARK_SPLIT.split((raw or "").strip(), maxsplit=1)
    if len(parts) == 2 and parts[1] and _CJK.search(parts[0]) and _CJK.search(parts[1]) and 2 <= len(parts[0]) <= 6:
        return parts[0]
    return raw


_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def mobile_in(text: str | None) -> str | None:
    """The one mainland mobile number in a message ("改电话 13900001111"), or None."""
    found = _MOBILE.findall(_nfkc(text))
    return found[0] if len(set(found)) == 1 else None


def clean_new_value(field: str, raw: str | None) -> str | None:
    """The new value for an order field in canonical form, or None when not acceptable."""
    if field == "receiver_name":
        raw = name_before_remark(raw)
    return clean_order_field(field, raw)



# a correction typed at the change card: "等一下 门牌号不对 是中关村大街29号", "号码错了 应该是139…"
_CORRECTION_CUE = re.compile(r"不对|错了|写错|打错|输错|填错|搞错|弄错|等一下|等下|等等|不是|应该是|改一下|重新|再改")
_CORRECTED_PART = re.compile(r"(?:应该是|改成|改为|换成|而是|是|为)[:：]?\s*(.+)$")


# "是1202不是1201", "不是1201 是1202": the right part and the wrong one it replaces
_SWAPS = (
    re.compile(r"(?:应该是|是)\s*(?P<right>[^\s,，。不]+?)\s*[,，]?\s*(?:而)?不是\s*(?P<wrong>[^\s,，。]+)"),
    re.compile(r"不是\s*(?P<wrong>[^\s,，。]+?)\s*[,，]?\s*(?:而|应该)?是\s*(?P<right>[^\s,，。]+)"),
)


def _swap_parts(raw: str) -> tuple[str, str] | None:
    """(wrong, right) when the message names both ("是1202不是1201"), else None."""
    for pattern in _SWAPS:
        found = pattern.search(raw)
        if found:
            return found.group("wrong"), found.group("right")
    return None


def corrected_value(field: str, old: str | None, text: str | None) -> str | None:
    """The whole new value when a message at the card for changing `field` to `old` corrects
    it, else None. A part named wrong and right ("是1202不是1201") is replaced in place; a
    corrected address may be a fragment of the old one ("中关村大街29号"): it replaces the old
    address from the first place they share on."""
    raw = to_simplified(text or "").strip()
    if not old or not _CORRECTION_CUE.search(raw):
        return None
    swap = _swap_parts(raw)
    if swap and swap[0] in old and swap[1] not in old:
        value = clean_new_value(field, old.replace(swap[0], swap[1], 1))
        return value if value and value != old else None
    if swap and re.search(r"\d", swap[0]):
        return None  # "不是1501是1502" where the address has no 1501: no correction it can make
    match = None if swap else _CORRECTED_PART.search(raw)
    part = new_value_text(swap[1] if swap else match.group(1) if match else "")
    if not part:
        return None
    if field != "address":
        value = clean_new_value(field, part)
        return value if value and value != old else None
    value = _splice_address(old, part)
    return value if value and value != old else None


def corrected_change(pending: dict[str, Any], text: str | None) -> str | None:
    """The corrected value for the pending order-field change, or None."""
    args = pending.get("args") or {}
    return corrected_value(str(args.get("field") or ""), args.get("value"), text)


def _splice_address(old: str, part: str) -> str | None:
    """`part` as a whole address: itself when it starts with a region the old one lacks or
    is long, else the old address up to where `part`'s first words occur, then `part`; a bare
    house number ("29号") replaces the old one."""
    number = re.fullmatch(r"(\d+号)(.*)", part)
    olds = list(re.finditer(r"\d+号", old))
    if number and olds:
        last = olds[-1]
        return clean_new_value("address", old[:last.start()] + number.group(1) + (number.group(2) or old[last.end():]))
    for size in range(min(len(part), 8), 1, -1):
        at = old.find(part[:size])
        if at > 0:
            return clean_new_value("address", old[:at] + part)
        if at == 0:
            break
    return clean_new_value("address", part) if len(part) >= 8 else None

# ------------------------------------------------------------------ invoice details


def _nfkc(text: str | None) -> str:
    """Full-width letters, digits and @ as ASCII (ｚｈａｎｇ＠163．com)."""
    return unicodedata.normalize("NFKC", text or "")


_EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}")
_CODE_RUN = re.compile(r"[0-9A-Za-z]+")
_TAX_LABEL = re.compile(r"(?:税号|纳税人识别号|识别号|信用代码)(?:是|为)?[:：]?\s*([0-9A-Za-z]+)")
_PERSONAL_TITLE = re.compile(
    r"抬头(?:就|写|填|开|是|为|用)*[:：]?\s*(?:个人|本人)|(?:个人|本人)(?:抬头|发票|的就行|就行|就可以|即可)"
)
_TITLE_LABEL = re.compile(
    r"抬头(?:就|写|填|开|是|为|用)*[:：]?\s*([^\s,，。;；!！?？]+?)"
    r"(?=税号|纳税人|识别号|信用代码|邮箱|发到|发送到|[\s,，。;；!！?？]|$)"
)
_TITLE_TAIL = re.compile(r"(就行|就好|就可以|即可|吧|哈|啊|呀|谢谢)+$")
_NOT_A_TITLE = re.compile(r"错|改成|换成|怎么|什么|吗|呢|能不能|可不可以|要不要|个人")
# an organisation's name, never a way of dropping the request
_ORGANISATION = re.compile(r"公司|集团|有限|厂|中心|大学|学院|学校|医院|研究|事务所|协会|委员会|银行|商行|工作室")


def find_email(text: str | None) -> str | None:
    """The e-mail address written anywhere in a message ("邮箱 zhangwei88@163.com")."""
    match = _EMAIL_IN_TEXT.search(_nfkc(text))
    return clean_email(match.group(0)) if match else None


def find_tax_id(text: str | None, labelled_only: bool = False) -> str | None:
    """A taxpayer id in a message: after 税号/纳税人识别号, or (answering the question for
    it) any whole run of letters and digits the service accepts."""
    plain = _nfkc(text)
    labelled = _TAX_LABEL.search(plain)
    if labelled:
        return clean_tax_id(labelled.group(1))
    if labelled_only:
        return None
    for run in _CODE_RUN.findall(_EMAIL_IN_TEXT.sub(" ", plain)):
        value = clean_tax_id(run)
        if value is not None and re.search(r"\d", value):
            return value
    return None


def find_invoice_title(text: str | None) -> str | None:
    """A title named in a request ("抬头个人就行", "抬头杭州云帆科技有限公司 税号…")."""
    plain = to_simplified(_nfkc(text))
    if _PERSONAL_TITLE.search(plain):
        return "个人"
    match = _TITLE_LABEL.search(plain)
    if not match:
        return None
    title = _TITLE_TAIL.sub("", match.group(1))
    if len(title) < 4 or _NOT_A_TITLE.search(title):
        return None
    return clean_invoice_title(title)


_SPECIAL_INVOICE = re.compile(r"专票|专用发票|增值税专|增票|special\s*(vat\s*)?invoice", re.I)


def wants_special_invoice(text: str | None) -> bool:
    """A request for a 增值税专用发票, which the chat's e-invoice form does not issue."""
    return bool(_SPECIAL_INVOICE.search(to_simplified(_nfkc(text))))


def invoice_details(text: str | None) -> dict[str, str]:
    """The invoice form's slots a message already answers: title, tax id (labelled) and
    e-mail, by slot name."""
    found = {
        "invoice_title": find_invoice_title(text),
        "invoice_tax_id": find_tax_id(text, labelled_only=True),
        "invoice_email": find_email(text),
    }
    return {slot: value for slot, value in found.items() if value}


def without_details(text: str | None) -> str:
    """What a message says besides an e-mail address and a taxpayer id and their labels."""
    plain = _EMAIL_IN_TEXT.sub(" ", _nfkc(text))
    plain = _TAX_LABEL.sub(" ", plain)
    plain = re.sub(r"(电子)?邮箱(地址)?(是|为)?[:：]?|发到|发送到|发给|抬头(是|为)?[:：]?", " ", plain)
    return re.sub(r"\s+", " ", plain).strip(" ,，。;；")


_DROP = re.compile(
    r"先不(开|要|用|弄|办|申请)?了?|不(开|要|用|弄|办|需要|申请)了|算了|回头再说|以后再说|改天再|下次再|晚点再|"
    r"再说吧|不开票|不开发票|^(不用|不要|不了|不开|先这样吧?)$"
)


# the change each form collects the details of, as a card's operation
FORM_OPS = {"invoice_form": "invoice", "modify_order_form": "modify"}


def leaves_form_for(form: str | None, text: str | None) -> str | None:
    """The other request made while dropping a form's ("发票不开了 帮我退款" in the invoice
    form): its intent, or None."""
    op, plain = FORM_OPS.get(form or ""), to_simplified(text or "")
    if op is None or not (_DROP.search(plain) or _DECLINED.search(plain)):
        return None
    return switched_request({"op": op}, text)


# the detail a "…输错了" names, as the invoice form's slot
_DETAIL_SLOTS = (("invoice_tax_id", re.compile(r"税号|识别号|信用代码")), ("invoice_email", re.compile(r"邮箱|邮件|email", re.I)),
                 ("invoice_title", re.compile(r"抬头|公司名|名称|单位")))


def detail_named(text: str | None) -> str | None:
    """The invoice detail a message names ("税号输错了" → invoice_tax_id), or None."""
    plain = to_simplified(text or "")
    return next((slot for slot, words in _DETAIL_SLOTS if words.search(plain)), None)


def fixes_a_detail(text: str | None) -> bool:
    """"不对 税号输错了": a detail just given was wrong, and no new one is given yet."""
    plain = to_simplified(_nfkc(text)).strip()
    return len(plain) <= 20 and bool(_MISTAKE.search(plain)) and not _DROP.search(plain) \
        and not find_email(plain) and not re.search(r"[0-9A-Za-z]{6,}", plain)


def drops_the_request(text: str | None) -> bool:
    """A reply inside a form that stops the request ("啊先不开了 回头再说", "算了不用了"):
    short, no details, not an organisation's name."""
    plain = to_simplified(_nfkc(text)).strip()
    if not plain or len(plain) > 20 or _ORGANISATION.search(plain):
        return False
    if find_email(plain) or re.search(r"\d{6,}", plain):
        return False
    return bool(_DROP.search(plain))


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


_NEAR = ("江苏", "浙江", "上海")
_REMOTE = ("新疆", "西藏", "青海", "内蒙古")


def delivery_days(address: str | None) -> int:
    """The most days delivery takes after shipping to the address's region (the delivery FAQ)."""
    a = to_simplified(address or "")
    if any(a.startswith(p) for p in _REMOTE):
        return 10
    return 2 if any(a.startswith(p) for p in _NEAR) else 4


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


# ------------------------------------------------------------------ another request at a card
# the card's own action declined in the same message ("不取消了", "地址不改了", "不要退款了")
_DECLINED = re.compile(
    r"(?:(?:地址|电话|手机号?|号码|收货人|收件人|名字|姓名)(?:就|先|也)?)?"
    r"(?:不|别|不要|不用|不想|先不|暂时不)(?:再|帮我|给我)?(?:申请)?"
    r"(?:取消订单|取消|撤销|退款|退货|退钱|退|换货|换|修改|改|开票|开发票|开)了?"
)
_OP_REQUEST = (
    # "取消吧" alone at another card declines it; a cancel asked for names the order or the wish
    ("cancel_order", re.compile(r"(帮我|直接|还是|改成|改为|那就|我要|我想|给我)取消|取消(订单|这单|这个订单|这笔|掉)|撤单|撤销订单")),
    ("refund", re.compile(r"退款|退钱|把钱退")),
    ("invoice", re.compile(r"发票|开票")),
    ("return_exchange", re.compile(r"退货|退回|寄回|换货|换(一|个|件|双|条|只)|换(个|成|大|小)?(尺码|码|号|颜色|色|款)|换大|换小")),
    ("modify_order", re.compile(r"(改|修改|更改|换)(一下|个|下)?(收货|收件)?(地址|电话|手机号?|号码|收货人|收件人|名字|姓名)|"
                                r"(地址|电话|手机号?|号码|收货人|收件人|名字|姓名).{0,3}(改|换)(成|为|到|叫)")),
)
# the card's operation -> the intent that asks for it
OP_INTENT = {"cancel": "cancel_order", "refund": "refund", "return": "return_exchange",
             "exchange": "return_exchange", "modify": "modify_order", "invoice": "invoice"}


def without_declined(text: str | None) -> str:
    """The message without the clause declining a card ("电话别改了 收货人改成王芳" → the
    receiver change), so the request after it is read on its own."""
    return _DECLINED.sub(" ", to_simplified(text or "")).strip()


def switched_request(pending: dict[str, Any] | None, text: str | None) -> str | None:
    """The other request a customer makes while declining a card ("不要退款了 直接帮我取消订单"
    at the refund card, "地址不改了 改收件人叫王芳" at the address card): its intent, or None
    when the message asks for nothing else. A return and an exchange are one intent but two
    cards; another delivery detail is another change."""
    if not isinstance(pending, dict):
        return None
    op = pending.get("op")
    rest = _DECLINED.sub(" ", to_simplified(text or ""))
    for intent, words in _OP_REQUEST:
        if not words.search(rest):
            continue
        if intent == "return_exchange" and op in ("return", "exchange"):
            return intent if (op == "exchange") != wants_exchange(rest) else None
        if intent == "modify_order" and op == "modify":
            field = detect_modify_field(rest)
            return intent if field and field != (pending.get("args") or {}).get("field") else None
        return intent if OP_INTENT.get(op or "") != intent else None
    return None


# "另外一单…也要退": the card's own request, for another order
_SAME_AGAIN = re.compile(r"也(要|想|得|需要|帮我|给我|一起|都|一块)?(申请)?(退|取消|撤|换|改|开)|一起(退|取消|换|开|改)|"
                         r"同样|一样(的)?(处理|办|操作|申请)")


def same_for_another(pending: dict[str, Any] | None, text: str | None) -> str | None:
    """The other order named for the same request at a card ("另外一单2025061800005也要退"),
    or None."""
    if not isinstance(pending, dict) or pending.get("op") not in OP_INTENT:
        return None
    other = _other_order(pending, text)
    return other if other and _SAME_AGAIN.search(to_simplified(text or "")) else None


def _other_order(pending: dict[str, Any], text: str | None) -> str | None:
    """A well-formed order number in `text` other than the card's ("电话也改成13700001111":
    a phone number is no order)."""
    other = order_id_candidate(text)
    return other if other and 12 <= len(other) <= 20 and other != pending.get("order_id") else None


# "对 改吧 另外电话也改成…": a yes to the card, then another request after a joining word
_AND_ALSO = re.compile(r"[,，。;；\s]*(?:另外|还有|顺便|然后|再帮我|再把|再)")


def _after_yes(pending: dict[str, Any] | None, text: str | None) -> str | None:
    """What follows a clear yes to the card after a joining word ("对 改吧 另外…"), or None."""
    if not isinstance(pending, dict) or pending.get("op") not in OP_INTENT:
        return None
    parts = _AND_ALSO.split(to_simplified(text or ""), maxsplit=1)
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        return None
    return parts[1] if yes_no(parts[0], None, pending.get("op")) == "yes" else None


def yes_then_request(pending: dict[str, Any] | None, text: str | None) -> str | None:
    """The other request made after a clear yes to the card in the same message (its intent),
    or None: the yes counts and the other request shows its own card next. A request about
    another order is not this card's order to act on."""
    rest = _after_yes(pending, text)
    if rest is None or _other_order(pending, rest):
        return None
    return switched_request(pending, rest)


def yes_then_other_order(pending: dict[str, Any] | None, text: str | None) -> str | None:
    """"确认 另外2025061800005也退一下": the other order named for the same request after a
    clear yes to the card (the yes counts, then that order's card follows), or None."""
    rest = _after_yes(pending, text)
    return same_for_another(pending, rest) if rest is not None else None


# ------------------------------------------------------------------ a word aside at a card
# what to exchange for ("换个颜色", "换个大号的", "要M码"): a detail of the exchange card
_EXCHANGE_DETAIL = re.compile(r"[大小中]一?[号码]|[SMLX]{1,3}码?\b|颜色|[红黑白蓝灰粉绿黄紫]色|尺码|码数|尺寸|款式|型号|同款|新的", re.I)
# where the money goes, asked at a card that sends money back
_MONEY_ROUTE = re.compile(r"退(到|回|去)?(哪|什么地方)|到哪|原路|支付宝|微信|银行卡|花呗|信用卡|余额|零钱|到账|退给谁|钱.{0,3}(去|回)哪")
# the response selector is trusted this far for a question asked at a card
ASIDE_SURE = 0.6


def card_aside(pending: dict[str, Any] | None, text: str | None, parse: dict[str, Any] | None) -> str | None:
    """What a message at a fresh card says beside the card, which is then shown again: "wait"
    ("稍等我看下"), "detail" (what to exchange for), "email" (the invoice's address corrected), a question about the card's change (its
    topic: "route", "cost", "coupon", "credit", "pickup", "reach"; "faq" when the response
    selector is sure of an FAQ the change raises; "again" for a yes with a question no rule
    answers), or None: the message says something else, and the card lapses. A message naming
    an order is about that order, not this card."""
    if not isinstance(pending, dict) or pending.get("op") not in _CARD_OPS:
        return None
    op, plain = pending.get("op"), to_simplified(text or "")
    if _WAIT.fullmatch(re.sub(r"[\s,，。.!！~～…]+", "", plain)):
        return "wait"
    if order_id_candidate(plain):
        return None
    intent = ((parse or {}).get("intent") or {}).get("name")
    if intent == "affirm" and len(plain) <= 8 and not (_ASKS.search(plain) or CONDITION.search(plain)):
        return "unclear"  # drawn as a yes the words did not bear out: the card is asked again
    if op == "invoice" and find_email(plain) and find_email(plain) != (pending.get("args") or {}).get("email"):
        return "email"  # "邮箱写错了 是zw2@test.com": the card again with the new address
    if op == "return" and quality_reason(plain) and not quality_reason((pending.get("args") or {}).get("reason")):
        return "quality"  # "不是无理由 是质量问题 内胆有划痕": the card again as a quality return
    if not (_ASKS.search(plain) or CONDITION.search(plain)):
        detail = op == "exchange" and _EXCHANGE_DETAIL.search(plain) and not switched_request(pending, plain)
        return "detail" if detail else None
    for topic, ops, words in _CARD_TOPICS:
        if op in ops and words.search(plain):
            return topic
    if CONDITION.search(plain) and not _ASKS.search(plain):
        return "condition"  # "不扣的话就退吧": the card says what holds; it is asked again
    key, confidence = selector_key(parse)
    if key in CARD_FAQ.get(op, ()) and confidence >= ASIDE_SURE:
        return "faq"
    # "确认 那开过的发票怎么办": a yes with a question no rule answers; the card is asked again
    return "again" if _STRONG_YES_LEAD.match(plain) else None


_STRONG_YES_LEAD = re.compile(r"^\W*(确认|确定|是的|对的|好的|好|行|可以|嗯+|没问题)")
_ALL_OPS = frozenset({"cancel", "refund", "return", "exchange", "modify", "invoice"})
# (topic, the cards it is asked at, its words), first match wins
_CARD_TOPICS: tuple[tuple[str, frozenset[str], re.Pattern[str]], ...] = (
    ("coupon", frozenset({"cancel", "refund", "return"}), re.compile(r"券")),
    ("credit", _ALL_OPS, re.compile(r"信用|征信|芝麻|信誉|黑名单")),
    ("pickup", frozenset({"return", "exchange"}), re.compile(r"上门|取件|来取|怎么寄|寄回.{0,4}(怎么|哪)")),
    ("cost", _ALL_OPS, re.compile(r"(要|收|加|扣|补|交|付)(钱|费|运费|手续费|差价)|收费|免费|手续费|费用|多少钱|差价")),
    ("reach", frozenset({"modify"}), re.compile(r"能(送)?到|送得到|能送|到得了|偏远|多久到")),
    ("route", frozenset({"cancel", "refund", "return"}), _MONEY_ROUTE),
)
# the response answering each topic at each card
_ASIDE_RESPONSES = {
    "wait": "utter_card_wait", "route": "utter_refund_route", "coupon": "utter_coupon_back",
    "credit": "utter_no_credit_impact", "pickup": "utter_return_pickup", "reach": "utter_faq/remote_delivery",
    "again": "utter_card_again", "condition": "utter_card_condition", "unclear": "utter_card_unclear",
}
_COST_RESPONSES = {"modify": "utter_modify_free", "exchange": "utter_exchange_fee", "invoice": "utter_invoice_free"}


def aside_response(kind: str, op: str, parse: dict[str, Any] | None) -> str | None:
    """The response answering an aside at a card (None: the card is shown again alone)."""
    if kind == "faq":
        key, _ = selector_key(parse)
        return f"utter_faq/{key.split('/', 1)[1]}" if key else None
    if kind == "cost":
        return _COST_RESPONSES.get(op, "utter_refund_no_fee")
    return _ASIDE_RESPONSES.get(kind)


_MONEY_BACK_FAQ = frozenset({"faq/refund_time", "faq/return_shipping", "faq/return_policy",
                             "faq/payment_methods", "faq/price_protection"})
# the FAQs a card's own change raises; another topic asked at a card leaves it (the card lapses)
CARD_FAQ: dict[str, frozenset[str]] = {
    "cancel": _MONEY_BACK_FAQ, "refund": _MONEY_BACK_FAQ, "return": _MONEY_BACK_FAQ,
    "exchange": frozenset({"faq/change_size", "faq/return_shipping", "faq/return_policy"}),
    "modify": frozenset({"faq/delivery_time", "faq/remote_delivery", "faq/shipping_fee"}),
    "invoice": frozenset({"faq/invoice_reissue", "faq/special_invoice"}),
}
_CARD_OPS = frozenset(OP_INTENT)
# "稍等我看下", "我想想": the card is kept for the answer that follows
_WAIT = re.compile(r"(好的?|嗯+|ok)?((我|让我|我先|你)?(稍等|等等|等一下|等下|等会儿?|先?看下|看一下|看看|想想|想一下|考虑(一)?下|确认一下|核对一下|查一下)"
                   r"(哈|啊|呀|吧|哦|我|让我|我先|先|一下)*)+")
_ASKS = re.compile(f"{_QUESTION.pattern}|几|多久|多少|多长")


# ------------------------------------------------------------------ policy questions about one order
PRICE_PROTECTION_DAYS = 7
_PRICE_DROP = re.compile(r"价保|保价|差价|降价|降了\d*|便宜了|跌价|掉价")
_DEPOSIT = re.compile(r"定金|订金|尾款")
_COUPON_BACK = re.compile(r"券.{0,6}(退回|退还|返还|返回|还回|退给|回来|会退|能退|退吗)|券.{0,3}(去哪|没了)")
# a request for the money or goods back is that request, whatever it gives as its reason
_OTHER_REQUEST = re.compile(r"退款|退货|退钱|换货|取消订单|(我要|我想|帮我)(退|取消)")


def order_policy_question(text: str | None) -> str | None:
    """A question about one order that a shop rule answers from the order's data:
    "price_protection" ("2025061800002买完降价了50块"), "coupon_back" (whether the coupon
    comes back when the order is cancelled), "deposit" (a pre-sale's deposit and balance on a
    refund), or None."""
    plain = to_simplified(text or "")
    if _COUPON_BACK.search(plain):
        return "coupon_back"
    if _DEPOSIT.search(plain):
        return "deposit"
    if _PRICE_DROP.search(plain) and not _OTHER_REQUEST.search(plain.replace("退差价", "")):
        return "price_protection"
    return None


def price_protection_until(paid_at: datetime | None) -> datetime | None:
    """The end of the price-protection window: 7 days after payment (None: not paid)."""
    return paid_at + timedelta(days=PRICE_PROTECTION_DAYS) if paid_at else None


# ------------------------------------------------------------------ follow-ups an answer explains
# "要多久", "加钱也不行？", "要钱吗" right after an FAQ answer: about what was just answered
_LEANS_ON_ANSWER = re.compile(
    r"^(那)?(大概|一般|大约)?(还)?(要|得|需要)?(多久|多长时间|几天)(呢|啊|呀)?$|"
    # "会过期吗" after the points answer: whether what was just answered lapses or adds up
    r"^(那|这|它)?(会|能|可以|还能)(过期|失效|作废|清零|叠加|累计|转让)(吗|嘛|么|不|呢)$|"
    r"(也|都)(不行|不可以|不能|没办法|没用)(吗|嘛|么|啊)?$|"
    r"^(那)?(要|会|需要)?(钱|收费|付费|花钱|免费)(吗|嘛|么|不)$|^(那)?(要钱|收费)(吗|嘛|么|不)$|"
    # "需要什么资料": what the answer said to bring
    r"^(那)?(都)?(需要|要|得)(我)?(提供|准备|填|交|带)?(什么|哪些|啥)(资料|材料|信息|东西|证件)(呢|啊|吗|呀)?$|"
    # "那是退款还是补发啊": a choice between what the answer offered
    r"^(那)?(是|能|可以)?.{1,4}还是.{1,4}(啊|呢|吗|呀)?$"
)


_GIVES_UP = re.compile(
    r"^(哦+|噢+|嗯+|好吧?|那|那就|那我|对|哦对|行吧?)*(就|还是)?(不|不用|不要|不想|先不|暂时不|暂不)"
    r"(退|退货|退款|换|换货|改|修改|取消|开|开票|用)(了|吧|啦|呢)*$|^(那|哦|好吧?)*算了(吧|吧算了)?$"
)


def gives_up(text: str | None) -> bool:
    """"哦 那不退了", "那就不用改了", "算了": the customer lets the matter drop."""
    return bool(_GIVES_UP.match(re.sub(r"[\s,，。.!！~～…]+", "", to_simplified(text or ""))))


def leans_on_answer(text: str | None) -> bool:
    """A follow-up with no subject of its own: it asks about the answer just given."""
    t = re.sub(r"[?？!！。.~～\s]+", "", to_simplified(text or ""))
    return 0 < len(t) <= 10 and bool(_LEANS_ON_ANSWER.search(t))


# where refund money goes or why it is not there yet, asked after a refund answer
_ROUTE_WORDS = re.compile(r"花呗|信用卡|银行卡|储蓄卡|借记卡|支付宝|微信|零钱|余额|原路")
_NOT_ARRIVED = re.compile(r"没(看到|收到|到账|到|有到|见到|查到)|查不到|找不到|没有(钱|到账|收到|看到)")
_REPAIR = re.compile(r"过了?保修?期|过保|保修期外|出了保|(还|能|可以)(维)?修|维修费|(要|收)(钱|费)|多少钱")
# stopping a parcel on its way ("还没收到能拦截吗", "那我拒收可以吗")
_REFUSE_PARCEL = re.compile(r"拦截|拦下|拦回|截回|追回包裹|拒收|拒签|不签收")
# "开了两个月了": longer ago than the 30 days an invoice can be re-issued in
_PAST_30_DAYS = re.compile(r"([两三四五六七八九十几2-9]|1[0-2])个?多?月|半年|一年|去年|[3-9]\d天|\d{3}天")
_PRESALE_TOO = re.compile(r"^(那)?预售(的|订单|单)?(也|呢|是不是|一样|同样|也一样|也是)")
_FEE_BACK = re.compile(r"运费.{0,3}(呢|退|还|回)")
_QUALITY = re.compile(r"质量|坏了|破了|开线|线头|瑕疵|掉色|起球|漏|裂|故障|不能用|有问题")
# a fault named as the reason for a return (a question "有问题吗" is not one)
_QUALITY_REASON = re.compile(
    r"质量|坏(了|的|掉)|破了|破损|开线|开胶|脱胶|瑕疵|掉色|褪色|掉漆|起泡|起球|生锈|漏(水|气|电|油)|裂|断了|故障|"
    r"不能用|用不了|没反应|不工作|不加热|不制冷|不亮|划痕|划伤|发霉|变形|异味|次品")


def quality_reason(text: str | None) -> bool:
    """The return is for a fault of the goods: the shop pays the postage back."""
    return bool(_QUALITY_REASON.search(to_simplified(text or "")))
_WHICH_DAY = re.compile(r"哪天|哪一天|几号|几月几|什么时候|啥时候|具体(日期|时间|哪天|几号)|什么日子|截止到?哪")
_HOW_TO_APPLY = re.compile(r"(怎么|如何|怎样|在哪里?|哪里|去哪)(申请|弄|办|操作|提交)|帮我申请")
REFUND_CONTEXT = frozenset({"action_refund", "action_cancel_order", "action_order_status", "action_confirm",
                            "utter_refund_route", "utter_refund_not_arrived"})


def answer_follow_up(text: str | None, last_faq: str | None, actions: Sequence[str],
                     bot_text: str | None = None) -> str | None:
    """The response a short follow-up about the last answer gets: where refund money goes
    ("花呗付的呢" after the refund timing), refund money not arrived ("我银行卡没看到" after
    the bot said it was refunded: `bot_text`), paid repair after the warranty answer, refusing
    or intercepting a parcel after an answer about an order; None when no such follow-up."""
    t = to_simplified(text or "")
    if len(t) > 16 or order_id_candidate(t):
        return None
    after_refund = last_faq == "faq/refund_time" or bool(REFUND_CONTEXT & set(actions))
    refunded = bool(re.search(r"已原路退回|已退款", bot_text or ""))
    if refunded and _NOT_ARRIVED.search(t) and re.search(r"钱|退款|卡|账|款", t):
        return "utter_refund_not_arrived"
    if after_refund and _ROUTE_WORDS.search(t) and not _NOT_ARRIVED.search(t):
        return "utter_refund_route"
    if after_refund and _PRESALE_TOO.search(t):
        return "utter_faq/refund_time"  # "预售的也一样吗": the refund times, pre-sale's included
    if after_refund and _FEE_BACK.search(t):
        return "utter_shipping_fee_back"  # "那运费呢" after the coupon or refund of a cancel
    if (last_faq == "faq/warranty" or "utter_repair_paid" in actions) and _REPAIR.search(t):
        return "utter_repair_paid"
    if ORDER_ACTIONS & set(actions) and _REFUSE_PARCEL.search(t):
        return "utter_refuse_parcel"
    said = bot_text or ""
    if ORDER_ACTIONS & set(actions) and "预计" in said and _WHICH_DAY.search(t):
        return "action_follow_order"  # "那是到哪天" after "…15个工作日内原路到账，预计…前": that answer's date
    if "如果是质量问题" in said and _QUALITY.search(t):
        return "action_handoff"  # "是质量问题 线头全开了" after the window closed: after-sales is a person
    if last_faq == "faq/special_invoice" and re.search(r"开户|银行|账号", t):
        return "utter_special_invoice_bank"
    if (last_faq == "faq/membership" or "生日券" in said) and re.search(r"生日券|怎么领|在哪领|哪里领|领取", t):
        return "utter_birthday_coupon"
    if (last_faq == "faq/invoice_reissue" or "30天内" in said) and "发票" in said + t and _PAST_30_DAYS.search(t):
        return "utter_invoice_reissue_expired"
    if "价保" in said and _HOW_TO_APPLY.search(t):
        return "utter_price_protection_how"
    if "优惠券" in said and "券" in t and re.search(r"过期|补发|补|怎么用|在哪", t):
        return "utter_faq/coupon"
    return None


# ------------------------------------------------------------------ impatience inside a promise
_PROMISED = re.compile(r"(\d+)\s*(小时|个工作日|天)内")
_WAITED = re.compile(
    r"^(我)?(都|已经|这都|都已经|已)?(等了)?(?P<n>[一二两三四五六七八九十半\d]+)(?P<unit>个?小时|天|个工作日|周|个?星期|个?礼拜)(了)?(了|啊|呀|呢|哦|诶)?$"
)
_NUMERALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "半": 0.5}


def _hours(number: str, unit: str) -> float | None:
    value = float(number) if number.isdigit() else _NUMERALS.get(number)
    if value is None:
        return None
    return value if "小时" in unit else value * 24 * (7 if unit[-1] in "周期拜" else 1)


def waits_within_promise(text: str | None, bot_text: str | None) -> bool:
    """"都两天了" right after the bot said the money comes within 72 hours: impatience while
    the promised time still runs, to be answered with that promise rather than handed off.
    Only a bare remark on the time waited counts; any other word of anger does not."""
    if re.search(r"[!！?？]{2,}", text or ""):
        return False
    plain = re.sub(r"[\s。.!！?？~～…]+", "", to_simplified(text or ""))
    waited = _WAITED.match(plain)
    promised = _PROMISED.search(bot_text or "")
    if not waited or not promised:
        return False
    hours = _hours(waited.group("n"), waited.group("unit"))
    limit = _hours(promised.group(1), promised.group(2))
    return hours is not None and limit is not None and hours < limit
