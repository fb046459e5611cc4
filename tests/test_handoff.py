"""The handoff payload rules (bot/handoff.py) and the dialogue helpers (bot/dialogue.py)."""

from __future__ import annotations

import pytest

from bot.dialogue import (
    clean_email,
    clean_invoice_title,
    clean_new_value,
    clean_tax_id,
    detect_modify_field,
    mask_email,
    order_id_candidate,
    phone_tail_candidate,
)
from bot.handoff import (
    PRIORITIES,
    REASONS,
    SKILLS,
    build_payload,
    build_summary,
    decide_priority,
    decide_reason,
    decide_skill,
    mask_phones,
    sarcastic_after_complaint,
    urgent_in_recent,
    urgent_kind,
)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("我的账号被盗了，有人在用我的账号买东西", "stolen_account"),
        ("帳號被盜了怎麼辦", "stolen_account"),  # Traditional script
        ("有人异地登录了我的账号", "stolen_account"),
        ("这单不是我下的单", "stolen_account"),
        ("一笔订单扣了两次钱", "double_charge"),
        ("重复扣款了，快退给我", "double_charge"),
        ("付款的时候被扣了2次", "double_charge"),
        ("支付失败了但是钱被扣了", "paid_but_failed"),
        ("显示未支付，可银行卡已扣款", "paid_but_failed"),
        ("收到短信说我的帳號在外地登入 不是我本人", "stolen_account"),
        ("有个自称你们客服的人让我开通借款转账给他退款", "scam_report"),
        ("我已经付了款 为啥还是待付欵", "paid_but_failed"),  # typos
        ("支付宝扣了我钱 但是订单里啥也没有", "paid_but_failed"),
        ("我支付宝扣了500 但是找不到订单", "paid_but_failed"),
        ("我没买东西 怎么银行卡被你们扣了199", "paid_but_failed"),  # no purchase told first
        ("没下过单 钱被扣了", "paid_but_failed"),
        ("客服说可以退款到银行卡吗", None),
        ("付款失败怎么办", None),  # no money taken: ordinary
        ("忘记密码了怎么找回", None),
        ("绑定的邮箱换了怎么登录", None),
        ("付款时显示银行卡余额不足但卡里有钱", None),
        ("", None),
        (None, None),
    ],
)
def test_urgent_kind(text, kind):
    assert urgent_kind(text) == kind


@pytest.mark.parametrize(
    ("explicit", "intent", "emotion", "urgent", "reason"),
    [
        (None, "human_agent", "neutral", None, "requested"),
        (None, "human_agent", None, None, "requested"),
        (None, "refund", "angry", None, "angry"),
        (None, "human_agent", "angry", None, "angry"),
        (None, "nlu_fallback", "neutral", None, "not_understood"),
        (None, "nlu_fallback", "angry", None, "angry"),
        (None, "payment_issue", "neutral", "double_charge", "urgent"),
        (None, "payment_issue", "angry", "double_charge", "urgent"),
        ("urgent", "account_issue", None, None, "urgent"),
        ("verification_failed", "order_status", "angry", None, "verification_failed"),
        ("bogus", "human_agent", None, None, "requested"),  # unknown explicit value ignored
    ],
)
def test_decide_reason(explicit, intent, emotion, urgent, reason):
    assert decide_reason(explicit, intent, emotion, urgent) == reason
    assert reason in REASONS


@pytest.mark.parametrize(
    ("reason", "vip", "priority"),
    [
        ("requested", 0, "normal"),
        ("not_understood", 2, "normal"),
        ("verification_failed", None, "normal"),
        ("angry", 0, "high"),
        ("urgent", 0, "urgent"),
        ("requested", 3, "high"),  # VIP one step up
        ("not_understood", 5, "high"),
        ("angry", 3, "urgent"),
        ("urgent", 5, "urgent"),  # capped
    ],
)
def test_decide_priority(reason, vip, priority):
    assert decide_priority(reason, vip) == priority
    assert priority in PRIORITIES


@pytest.mark.parametrize(
    ("intents", "urgent", "skill"),
    [
        (["order_status", "human_agent"], None, "orders"),
        (["logistics"], None, "orders"),
        (["invoice", "nlu_fallback", "nlu_fallback"], None, "orders"),
        (["refund"], None, "refunds"),
        (["order_status", "return_exchange", "human_agent"], None, "refunds"),
        (["payment_issue"], None, "payments"),
        (["account_issue"], None, "account"),
        (["greet", "human_agent"], None, "general"),
        ([], None, "general"),
        (["refund", "human_agent"], "stolen_account", "account"),
        (["greet"], "double_charge", "payments"),
    ],
)
def test_decide_skill(intents, urgent, skill):
    assert decide_skill(intents, urgent) == skill
    assert skill in SKILLS


@pytest.mark.parametrize(
    ("intents", "texts", "skill"),
    [
        (["complaint"], ["你们这是什么垃圾服务！气死我了，钱到现在都没退，我要投诉！"], "refunds"),
        (["complaint"], ["快递员态度太差了 我要投诉"], "orders"),
        (["human_agent"], ["付款失败了钱却扣了 找人工"], "payments"),
        (["complaint"], ["我的賬號登錄不上去"], "account"),  # Traditional characters
        (["complaint"], ["我要投诉"], "general"),
        (["greet", "human_agent"], ["转人工"], "general"),
        # a topical intent wins over words
        (["logistics", "complaint"], ["退款也慢 物流也慢"], "orders"),
        # the newest message that names a topic decides
        (["complaint"], ["退款一直没到", "现在快递也丢了"], "orders"),
    ],
)
def test_decide_skill_from_the_customers_words(intents, texts, skill):
    assert decide_skill(intents, None, texts) == skill


def test_summary_is_one_short_line_without_full_phones():
    summary = build_summary(
        "refund",
        "2025111200123",
        ["你好", "我要退款", "我手机13812345678\n收不到验证码，这个问题已经拖了很久了真的很烦人啊啊啊", "转人工"],
    )
    assert "\n" not in summary
    assert summary.startswith("意图:退款 | 订单:2025111200123 | 客户:")
    assert "你好" not in summary  # only the last 3 messages
    assert "13812345678" not in summary and "138****5678" in summary
    assert "…" in summary


def test_summary_without_order_or_messages():
    assert build_summary("human_agent", None, []) == "意图:要求人工"
    assert build_summary(None, None, ["  "]) == "意图:未知"


def test_mask_phones_leaves_order_numbers_alone():
    assert mask_phones("订单2025111200123 电话 15912345678") == "订单2025111200123 电话 159****5678"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"explicit_reason": None, "intents": ["order_status", "human_agent"], "emotion": "neutral",
             "text": "转人工", "vip_level": 0},
            {"reason": "requested", "priority": "normal", "skill": "orders"},
        ),
        (
            {"explicit_reason": None, "intents": ["payment_issue"], "emotion": None,
             "text": "同一笔订单扣了两次钱", "vip_level": 4},
            {"reason": "urgent", "priority": "urgent", "skill": "payments"},
        ),
        (
            {"explicit_reason": None, "intents": ["refund"], "emotion": "angry",
             "text": "退款拖了半个月!!", "vip_level": 3},
            {"reason": "angry", "priority": "urgent", "skill": "refunds"},
        ),
        (
            {"explicit_reason": "verification_failed", "intents": ["logistics", "affirm"],
             "emotion": None, "text": "1111", "vip_level": 0},
            {"reason": "verification_failed", "priority": "normal", "skill": "orders"},
        ),
        (
            {"explicit_reason": None, "intents": ["nlu_fallback", "nlu_fallback"], "emotion": None,
             "text": "啊吧啊吧", "vip_level": 3},
            {"reason": "not_understood", "priority": "high", "skill": "general"},
        ),
    ],
)
def test_build_payload(kwargs, expected):
    payload = build_payload(messages=["一", kwargs["text"]], order_id=None, **kwargs)
    assert set(payload) == {"handoff"}
    info = payload["handoff"]
    assert set(info) == {"reason", "priority", "skill", "summary"}
    assert {k: info[k] for k in expected} == expected
    assert info["summary"].startswith("意图:")


# ------------------------------------------------------------------ dialogue helpers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("订单号2025111200123", "2025111200123"),
        ("２０２５１１１２００１２３", "2025111200123"),  # full-width digits
        ("我的单 123456 查一下", "123456"),  # kept so it can be refused as malformed
        ("尾号1234", None),
        ("没有数字", None),
        (None, None),
    ],
)
def test_order_id_candidate(text, expected):
    assert order_id_candidate(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234", "1234"),
        ("尾号是 5678 ", "5678"),
        ("手机13812345678", "5678"),
        ("2025111200123", None),
        ("12345", None),
        ("", None),
    ],
)
def test_phone_tail_candidate(text, expected):
    assert phone_tail_candidate(text) == expected


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("收货地址能换成公司的吗", "address"),
        ("收货地址", "address"),
        ("我想改一下收货人电话", "phone"),
        ("联系电话", "phone"),
        ("收货人写错了", "receiver_name"),
        ("address", "address"),
        ("我要改订单", None),
    ],
)
def test_detect_modify_field(text, field):
    assert detect_modify_field(text) == field


@pytest.mark.parametrize(
    ("field", "raw", "clean"),
    [
        ("phone", "139 1234 5678", "13912345678"),
        ("phone", "+8613912345678", "13912345678"),
        ("phone", "12345", None),
        ("receiver_name", "张三", "张三"),
        ("receiver_name", "张三<script>", None),
        ("receiver_name", "1", None),
        ("address", "浙江省杭州市西湖区文三路100号", "浙江省杭州市西湖区文三路100号"),
        ("address", "杭州", None),
        ("address", "'; DROP TABLE orders; --", None),
        ("unknown", "x", None),
    ],
)
def test_clean_new_value(field, raw, clean):
    assert clean_new_value(field, raw) == clean


def test_invoice_values():
    assert clean_invoice_title("个人") == "个人"
    assert clean_invoice_title("杭州某某科技有限公司") == "杭州某某科技有限公司"
    assert clean_invoice_title("<b>") is None
    assert clean_tax_id("91330100 mA2abcde1x") == "91330100MA2ABCDE1X"
    assert clean_tax_id("123") is None
    assert clean_email("a.b@example.com") == "a.b@example.com"
    assert clean_email("not-an-email") is None
    assert mask_email("alice@example.com") == "a***@example.com"


@pytest.mark.parametrize(
    "text", ["我账户里多了几个不是我下的订单", "wo de zhanghao bei dao le", "订单列表冒出两单不是我买的"]
)
def test_strange_orders_and_pinyin_are_the_stolen_account_tier(text):
    assert urgent_kind(text) == "stolen_account"


@pytest.mark.parametrize(
    ("texts", "kind"),
    [
        (["支付宝扣了我399", "可是我订单里找不到这一单"], "paid_but_failed"),  # told in two pieces
        (["余额怎么没了", "我没买东西啊"], "paid_but_failed"),
        (["有人盗刷我的银行卡在你们店买了东西"], "stolen_account"),
        # handed off on the first message already: the next one is not that problem again
        (["支付宝扣了我399 订单里没有", "满多少包邮"], None),
        (["满多少包邮", "谢谢"], None),
        ([], None),
    ],
)
def test_urgent_in_recent(texts, kind):
    assert urgent_in_recent(texts) == kind


UNPAID = "订单2025061800001（保湿面霜 50g ×1）当前状态：待付款。订单还未付款，请在订单页完成支付。"


@pytest.mark.parametrize(
    ("text", "bot_said", "kind"),
    [
        ("我早上就付了", UNPAID, "paid_but_failed"),
        ("这个我付过钱的啊 支付宝有记录", UNPAID, "paid_but_failed"),
        ("付完款再开是吧", "订单2025061800001还未付款，付款后才能开具发票。", None),  # a plan, not a claim
        ("付了款再开吗", UNPAID, None),
        ("我早上就付了", "订单2025061800002已发货", None),  # shown paid: nothing contradicts it
    ],
)
def test_a_payment_claimed_right_after_the_order_was_shown_unpaid(text, bot_said, kind):
    assert urgent_in_recent([text], bot_said) == kind


def test_summary_lists_a_re_read_message_once():
    summary = build_summary("refund", "2025061800010", ["2026112878348退款到哪了", "那2025061800010呢",
                                                        "那2025061800010呢", "怎么这么慢"])
    assert summary.endswith("客户:2026112878348退款到哪了 / 那2025061800010呢 / 怎么这么慢")


@pytest.mark.parametrize(("texts", "sarcastic"), [
    (["2025061800004 物流三天没动了", "真是谢谢你们了啊"], True),
    (["怎么还没发货", "呵呵 谢谢啊"], True),
    # thanks after an answer, or without a complaint before it, is thanks
    (["2025061800004到哪了", "真是谢谢你们了啊"], False),
    (["物流三天没动了", "好的谢谢"], False),
    (["真是谢谢你们了啊"], False),
])
def test_sarcastic_thanks_after_a_complaint(texts, sarcastic):
    assert sarcastic_after_complaint(texts) is sarcastic
