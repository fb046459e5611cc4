"""bot.confirm: what counts as a yes to a confirmation card, when a card is still fresh,
and reading a new value out of "改成…"."""

from __future__ import annotations

import pytest

from bot.confirm import card_answer, is_fresh, make_pending, new_value_text, wants_exchange, yes_no
from bot.dialogue import (
    aside_response,
    card_aside,
    corrected_value,
    fixes_a_detail,
    general_answer,
    leaves_form_for,
    order_policy_question,
    promotion_named,
    promotion_of,
    same_for_another,
    switched_request,
    waits_within_promise,
    yes_then_other_order,
    yes_then_request,
)


@pytest.mark.parametrize(
    ("text", "intent", "op", "answer"),
    [
        ("确认", None, "refund", "yes"),
        ("確認", None, "refund", "yes"),  # Traditional
        ("是的", "affirm", "modify", "yes"),
        ("好的，确认", None, "invoice", "yes"),
        ("对，退吧", None, "refund", "yes"),
        ("嗯嗯👌", "affirm", "return", "yes"),
        ("/affirm", "affirm", "cancel", "yes"),
        ("确认取消", "cancel_order", "cancel", "yes"),
        ("ok", None, "modify", "yes"),
        ("en", None, "refund", "yes"),  # 嗯 typed in pinyin
        ("enen", None, "cancel", "yes"),
        ("算了", "deny", "refund", "no"),
        ("先不了", None, "cancel", "no"),
        ("不用了谢谢", "deny", "invoice", "no"),
        ("暂不取消", None, "cancel", "no"),
        ("不取消了", "cancel_order", "cancel", "no"),
        ("好的不用了", "affirm", "refund", "no"),  # a no anywhere wins
        ("/deny", "deny", "refund", "no"),
        ("取消", None, "refund", "no"),
        ("取消", "cancel_order", "cancel", None),  # ambiguous after "确认取消吗"
        ("退款多久到账", "faq", "refund", None),
        ("确认一下地址对吗", None, "modify", None),  # a question, not an answer
        ("我还想问一下运费", "faq", "refund", None),
        ("", None, "refund", None),
        # hesitation, a question, or another request beside the yes is not a yes to this card
        ("确认了的话钱啥时候能到", None, "refund", None),
        ("好的 我先问问我老公再说", "affirm", "cancel", "no"),
        ("应该对吧 我也不太确定", None, "modify", "no"),
        ("ok wait a sec", None, "refund", "no"),
        ("是的 我要换货", "affirm", "refund", None),
        ("好的麻烦了", "affirm", "refund", "yes"),
        ("嗯 退吧", "affirm", "refund", "yes"),
        ("可以 就这么办", "affirm", "modify", "yes"),
        ("确认开票", None, "invoice", "yes"),
        ("对 就是这个", "affirm", "cancel", "yes"),
        # a message of agreeing or refusing emoji only
        ("👌👌", "affirm", "modify", "yes"),
        ("👍🏻", None, "refund", "yes"),
        ("🙅‍♀️", None, "cancel", "no"),
        ("❌", "deny", "invoice", "no"),
        ("👌❌", None, "cancel", None),
        ("😀", "affirm", "cancel", None),
    ],
)
def test_yes_no(text, intent, op, answer):
    assert yes_no(text, intent, op) == answer


def test_a_card_is_fresh_only_for_the_very_next_message():
    card = make_pending("refund", "2025061800004", "m1")
    assert is_fresh(card, ["m0", "m1", "m2"])
    assert not is_fresh(card, ["m1", "m2", "m3"])
    assert not is_fresh(card, ["m1"])
    assert not is_fresh(None, ["m1", "m2"])
    assert not is_fresh({"op": "drop_table", "after": "m1"}, ["m1", "m2"])
    with pytest.raises(ValueError):
        make_pending("drop_table", "2025061800004", "m1")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("改成上海市浦东新区世纪大道100号", "上海市浦东新区世纪大道100号"),
        ("把地址改成上海市浦东新区世纪大道100号吧，谢谢", "上海市浦东新区世纪大道100号"),
        ("新地址：北京市朝阳区建国路88号", "北京市朝阳区建国路88号"),
        ("手机号换成13900001111", "13900001111"),
        ("北京市海淀区中关村大街1号", "北京市海淀区中关村大街1号"),
        ("收货人改为王小明", "王小明"),
        # asked as a question, in Traditional: the question particle is not part of the address
        ("2025061800002地址可以改成北京市海淀區中關村大街1號嗎", "北京市海淀區中關村大街1號"),
    ],
)
def test_new_value_text(text, value):
    assert new_value_text(text) == value


@pytest.mark.parametrize(
    ("text", "exchange"),
    [("尺码小了想换大一码", True), ("能换个颜色吗", True), ("我要換貨", True), ("我要退货", False), ("七天无理由退", False)],
)
def test_wants_exchange(text, exchange):
    assert wants_exchange(text) is exchange


@pytest.mark.parametrize(("text", "answer"), [("queren", "yes"), ("que ding", "yes"), ("buyong", "no")])
def test_a_yes_or_no_typed_in_pinyin(text, answer):
    assert yes_no(text, None, "cancel") == answer


@pytest.mark.parametrize(("text", "op", "answer"), [
    ("不是不取消 是取消", "cancel", "yes"),
    ("我没说不取消，是要取消", "cancel", "yes"),
    ("不是不要 是要", "refund", "yes"),
    ("不是不退 是退", "refund", "yes"),
    ("不是取消 是不取消", "cancel", "no"),
    ("不是不取消是修改", "cancel", None),  # corrected to something this card does not do
    ("不是 不取消", "cancel", "no"),
    ("不是的", "cancel", "no"),
])
def test_a_double_negative_is_read_by_its_corrected_clause(text, op, answer):
    assert yes_no(text, op=op) == answer


@pytest.mark.parametrize(("text", "answer"), [("确人", "yes"), ("却认", "yes"), ("确订", "yes"), ("不确订", "no")])
def test_homophone_slips_of_the_card_words(text, answer):
    assert yes_no(text, op="refund") == answer


OFFER_RETURN = make_pending("offer", "2025061800005", "m1", intent="return_exchange")
OFFER_REFUND = make_pending("offer", "2025061800005", "m1", intent="refund")


@pytest.mark.parametrize(
    ("pending", "text", "answer"),
    [
        (OFFER_RETURN, "能换个新的吗", "yes"),  # asking for the exchange takes the offer
        (OFFER_RETURN, "好的", "yes"),
        (OFFER_RETURN, "不用换了", "no"),
        (OFFER_RETURN, "能不能便宜点", None),
        (OFFER_RETURN, "好 那我退货", "yes"),  # asking for the return itself takes it too
        (OFFER_RETURN, "退了吧", "yes"),
        (OFFER_RETURN, "退货运费谁出", None),  # a question about it is not a yes
        (OFFER_RETURN, "那我不退货了", "no"),
        (OFFER_REFUND, "好 那我退货", None),
        (OFFER_REFUND, "好的谢谢", None),  # thanks after the offer: a closing, not a yes
        (OFFER_REFUND, "好的 帮我申请吧 谢谢", "yes"),
        (make_pending("refund", "2025061800002", "m1"), "好的谢谢", "yes"),  # at the card itself it is
        (OFFER_REFUND, "能换个新的吗", None),  # only the return/exchange offer has an exchange
        (make_pending("cancel", "2025061800002", "m1"), "换个新的吧", None),
    ],
)
def test_card_answer(pending, text, answer):
    assert card_answer(pending, text) == answer


@pytest.mark.parametrize(("op", "args", "text", "intent"), [
    ("refund", {}, "不要退款了 直接帮我取消订单", "cancel_order"),
    ("cancel", {}, "等等 不取消了 我改个地址就行", "modify_order"),
    ("modify", {"field": "address"}, "等下 地址不改了 改收件人叫王芳", "modify_order"),
    ("return", {}, "不退了 换一个吧", "return_exchange"),
    ("exchange", {}, "不换了 还是退货吧", "return_exchange"),
    ("refund", {}, "不退款了 改成退货", "return_exchange"),
    ("cancel", {}, "不取消了 帮我开个发票", "invoice"),
    # declining alone, or naming the same request again, asks for nothing else
    ("cancel", {}, "不取消了", None),
    ("refund", {}, "算了 不退了", None),
    ("refund", {}, "不用退款了 取消吧", None),
    ("return", {}, "不退货了 先不退", None),
    ("modify", {"field": "address"}, "地址不改了", None),
    ("modify", {"field": "address"}, "不改了 地址改成别的再说", None),
])
def test_another_request_made_while_declining_a_card(op, args, text, intent):
    assert switched_request(make_pending(op, "2025061800002", "m0", **args), text) == intent


def _selector(key: str, confidence: float) -> dict:
    return {"response_selector": {"faq": {"response": {"intent_response_key": key, "confidence": confidence}}}}


@pytest.mark.parametrize(("op", "text", "parse", "kind"), [
    ("exchange", "换个大号的", {}, "detail"),
    ("exchange", "换个颜色", {}, "detail"),
    ("exchange", "要M码", {}, "detail"),
    ("refund", "好的，但是退到哪里？", {}, "route"),
    ("refund", "嗯嗯 确认一下是退到支付宝吗", {}, "route"),
    ("cancel", "钱会退回微信吗", {}, "route"),
    ("refund", "退款要几天到", _selector("faq/refund_time", 0.9), "faq"),
    # the selector unsure, a statement, an order named, or another request: the card lapses
    ("refund", "这个要多久", _selector("faq/refund_time", 0.3), None),
    ("refund", "我再想想怎么弄", {}, None),
    ("exchange", "2025061800002换个大号的", {}, None),
    ("return", "换个颜色", {}, None),
    ("refund", "退到支付宝还是直接取消订单吧", {}, None),
    # a fault named at the no-reason return card: the card again, as a quality return
    ("return", "不是无理由 是质量问题 电饭煲内胆有划痕", {}, "quality"),
    ("return", "收到就是坏的", {}, "quality"),
    ("refund", "是质量问题", {}, None),
])
def test_a_word_aside_at_a_card(op, text, parse, kind):
    assert card_aside(make_pending(op, "2025061800005", "m0"), text, parse) == kind


@pytest.mark.parametrize(("text", "question"), [
    ("2025061800002买完降价了50块", "price_protection"),
    ("2025061800006 降价了 能保价吗", "price_protection"),
    ("这单能退差价吗", "price_protection"),
    ("如果我取消2025061800002的话优惠券还会退回来吗", "coupon_back"),
    ("2025061800007取消了 用的优惠券还回来吗", "coupon_back"),
    # the request itself, whatever its reason; a coupon that will not apply is the coupon FAQ
    ("降价了 我要退款", None),
    ("2025061800002优惠券还能用吗", None),
    ("2025061800002到哪了", None),
    ("如果退了2025061800003 定金能退吗", "deposit"),
    ("尾款呢", "deposit"),
])
def test_a_shop_rule_asked_about_one_order(text, question):
    assert order_policy_question(text) == question


@pytest.mark.parametrize("text", ["能送的话就改", "如果能退就确认", "要是今天能到就好"])
def test_a_yes_on_a_condition_is_no_answer(text):
    assert yes_no(text, "affirm", "modify") is None


@pytest.mark.parametrize(("text", "faq_key", "answer"), [
    ("发票怎么开", "faq/invoice_reissue", "utter_invoice_policy"),
    ("发票在哪里申请", "faq/invoice_reissue", "utter_invoice_policy"),
    ("发票开错了能重开吗", "faq/invoice_reissue", "utter_faq/invoice_reissue"),
    ("专票怎么开", "faq/special_invoice", "utter_faq/special_invoice"),
    ("我的发票开了吗", "faq/invoice_reissue", None),
    ("kaifapiao zenme kai", "faq/invoice_reissue", "utter_invoice_policy"),  # typed in pinyin
    ("fapiao zenme kai", "faq/invoice_reissue", "utter_invoice_policy"),
    ("发票 怎么 开", "faq/invoice_reissue", "utter_invoice_policy"),  # spaces between the words
])
def test_how_to_get_an_invoice_is_not_the_reissue_answer(text, faq_key, answer):
    got = general_answer("invoice", text, "ask", faq_key)
    assert (got[0] if got else None) == answer


@pytest.mark.parametrize(("text", "intent", "op", "answer"), [
    # an acknowledgement, a hedge or thinking aloud is no yes, whatever the classifier says
    ("哦", "affirm", "cancel", None),
    ("都行", "affirm", "modify", None),
    ("应该可以", "affirm", "modify", None),
    ("嗯嗯 好像是", "affirm", "modify", None),
    ("嗯。。。", "affirm", "modify", None),
    ("嗯 知道了", "affirm", "cancel", None),
    ("搞吧", "affirm", "refund", None),
    # a clear yes with a remark that asks for nothing else
    ("是的 麻烦尽快发货哈", "affirm", "modify", "yes"),
    ("对对对👍 就这个地址", "affirm", "modify", "yes"),
    ("确认修改 上次填错了不好意思", "modify_order", "modify", "yes"),
    ("没错就是她 我老婆", "affirm", "modify", "yes"),
    ("可以的，改完发个短信通知我一下", "affirm", "modify", "yes"),
    # ... and not with one that asks for more
    ("对 改吧 另外电话也改成13900001111", "affirm", "modify", None),
    ("好的 顺便问下优惠券会退吗", "affirm", "cancel", None),
    ("是的 我要换货", "affirm", "refund", None),
    ("确认 那开过的发票怎么办", "affirm", "refund", None),
    # "对了" opens another matter ("by the way"); a question beside a yes leaves the card open
    ("对了运费谁出", "affirm", "cancel", None),
    ("对了 改地址运费谁出", "affirm", "modify", None),
    ("哦对了 退款多久到", "affirm", "exchange", None),
    ("好的呀 几号能发货", "affirm", "modify", None),
    ("对了", "affirm", "cancel", "yes"),
    # yes as it is typed in chat
    ("嗯对", "affirm", "modify", "yes"), ("是滴", "affirm", "modify", "yes"), ("没毛病", "affirm", "modify", "yes"),
    ("嗯呢", "affirm", "modify", "yes"), ("嗯行吧", "affirm", "modify", "yes"),
])
def test_only_words_say_yes(text, intent, op, answer):
    assert yes_no(text, intent, op) == answer


@pytest.mark.parametrize(("text", "value"), [
    ("新疆乌鲁木齐市天山区解放路1号", "新疆乌鲁木齐市天山区解放路1号"),
    ("新地址：上海市浦东新区世纪大道100号", "上海市浦东新区世纪大道100号"),
    ("地址改回北京市海淀区中关村大街27号", "北京市海淀区中关村大街27号"),
])
def test_the_new_value_keeps_its_own_first_character(text, value):
    assert new_value_text(text) == value


@pytest.mark.parametrize("text", ["稍等我看下", "等一下", "我想想", "好 我看看", "让我想一下哈"])
def test_waiting_at_a_card_keeps_it(text):
    assert card_aside(make_pending("refund", "2025061800002", "m0"), text, {}) == "wait"


@pytest.mark.parametrize("text", ["哦哦", "对的吧大概"])
def test_a_drawn_yes_the_words_do_not_bear_out_asks_the_card_again(text):
    parse = {"intent": {"name": "affirm", "confidence": 0.9}}
    assert yes_no(text, "affirm", "modify") != "yes"
    assert card_aside(make_pending("modify", "2025061800002", "m0"), text, parse) == "unclear"


@pytest.mark.parametrize(("op", "text", "kind", "response"), [
    ("modify", "改地址要加运费吗？", "cost", "utter_modify_free"),
    ("modify", "要是不收费就改", "cost", "utter_modify_free"),
    ("modify", "能到的话就改", "reach", "utter_faq/remote_delivery"),
    ("refund", "退款要扣手续费吗", "cost", "utter_refund_no_fee"),
    ("exchange", "换大号的话要补差价吗", "cost", "utter_exchange_fee"),
    ("cancel", "好的👌 顺便问下优惠券会退吗", "coupon", "utter_coupon_back"),
    ("return", "快递能上门取件吗", "pickup", "utter_return_pickup"),
    ("refund", "嗯……退款会影响我的信用分吗", "credit", "utter_no_credit_impact"),
    ("refund", "不扣的话就退吧", "condition", "utter_card_condition"),
    ("refund", "确认 那开过的发票怎么办", "again", "utter_card_again"),
])
def test_a_question_about_the_change_at_its_card_is_answered_by_the_shops_rule(op, text, kind, response):
    assert card_aside(make_pending(op, "2025061800002", "m0"), text, {}) == kind
    assert aside_response(kind, op, {}) == response


ADDRESS = "江苏省南京市鼓楼区中山北路30号1201室"


@pytest.mark.parametrize(("text", "value"), [
    ("对 不过是1202不是1201", "江苏省南京市鼓楼区中山北路30号1202室"),
    ("不对 不是1201 应该是1202", "江苏省南京市鼓楼区中山北路30号1202室"),
    ("不是30号是32号", "江苏省南京市鼓楼区中山北路32号1201室"),
    ("等一下 是中山北路32号", "江苏省南京市鼓楼区中山北路32号"),
    ("不是1501是1502", None),  # the wrong part is not in the address: nothing to correct by it
    ("等一下 不是这个地址 是中山北路32号1201室", "江苏省南京市鼓楼区中山北路32号1201室"),
])
def test_a_part_named_wrong_and_right_replaces_only_that_part(text, value):
    assert corrected_value("address", ADDRESS, text) == value


@pytest.mark.parametrize(("form", "text", "intent"), [
    ("invoice_form", "发票不开了 帮我退款", "refund"),
    ("invoice_form", "不开票了 直接取消订单", "cancel_order"),
    ("modify_order_form", "地址不改了 帮我取消订单", "cancel_order"),
    ("invoice_form", "先不开了", None),
    ("invoice_form", "抬头是杭州退款科技有限公司", None),
    ("order_verification_form", "不查了 帮我退款", None),
])
def test_another_request_made_while_dropping_a_form(form, text, intent):
    assert leaves_form_for(form, text) == intent


@pytest.mark.parametrize(("text", "fixes"), [
    ("不对 税号输错了", True),
    ("邮箱写错了", True),
    ("税号写错了 是91330100MA2X", False),  # the new value is given: the form reads it
    ("算了 不对", False),
])
def test_a_detail_reported_wrong_in_a_form(text, fixes):
    assert fixes_a_detail(text) is fixes


@pytest.mark.parametrize(("op", "text", "other"), [
    ("refund", "另外一单2025061800005也要退", "2025061800005"),
    ("cancel", "2025061800007也一起取消", "2025061800007"),
    ("refund", "2025061800005的退款到哪了", None),  # a question about another order
    ("refund", "2025061800003也要退", None),  # the card's own order
    ("modify", "对 改吧 另外电话也改成13700001111", None),  # a phone number is no order
])
def test_the_same_request_for_another_order_at_a_card(op, text, other):
    assert same_for_another(make_pending(op, "2025061800003", "m0"), text) == other


def test_a_named_promotion_is_found_among_the_running_ones():
    promos = [{"title": "冬季焕新 满299减40"}, {"title": "新人专享 首单立减10元"}]
    assert promotion_named("满299减40能和店铺券一起用吗") == "满299减40"
    assert promotion_named("满 299 - 40 可以叠加吗") == "满299减40"
    assert promotion_named("订单满了200的") is None
    assert promotion_of("满299减40", promos) == promos[0]
    assert promotion_of("满300减50", promos) is None


REFUND_ANSWER = "订单2025061800008的退款正在处理中。普通订单退款72小时内原路到账，预计2026-12-03前到账。"


@pytest.mark.parametrize(("text", "bot_text", "calm"), [
    ("都两天了", REFUND_ANSWER, True),
    ("等了2天了", REFUND_ANSWER, True),
    ("都十天了", "预售订单退款15个工作日内原路到账", True),
    ("这都一个星期了", "预售订单退款15个工作日内原路到账", True),
    ("都三个星期了", "预售订单退款15个工作日内原路到账", False),
    ("已经三天了", REFUND_ANSWER, False),  # the promise has run out
    ("都两天了!!!", REFUND_ANSWER, False),
    ("都两天了 什么破店", REFUND_ANSWER, False),  # other words of anger
    ("都两天了", "订单2025061800002已发货，请留意物流", False),  # nothing was promised
])
def test_impatience_while_the_promised_time_still_runs(text, bot_text, calm):
    assert waits_within_promise(text, bot_text) is calm


@pytest.mark.parametrize(("op", "args", "text", "intent"), [
    ("modify", {"field": "address"}, "对 改吧 另外电话也改成13700001111", "modify_order"),
    ("modify", {"field": "address"}, "确认，还有收货人改成王芳", "modify_order"),
    ("refund", {}, "确认 顺便开个发票", "invoice"),
    ("modify", {"field": "address"}, "对 改吧", None),  # a plain yes
    ("modify", {"field": "address"}, "不改了 另外电话改成13700001111", None),  # a no: the switch reads it
    ("refund", {}, "好的 另外帮我取消2025061800002", None),  # another order's request: not this card's
])
def test_a_yes_then_another_request_in_one_message(op, args, text, intent):
    assert yes_then_request(make_pending(op, "2025061800003", "m0", **args), text) == intent


@pytest.mark.parametrize(("text", "other"), [
    ("确认 另外2025061800005也退一下", "2025061800005"),
    ("好的，还有2025061800005也要退", "2025061800005"),
    ("另外一单2025061800005也要退", None),  # no yes: the card lapses (same_for_another)
    ("确认 另外电话也改成13700001111", None),
])
def test_a_yes_then_the_same_request_for_another_order(text, other):
    assert yes_then_other_order(make_pending("refund", "2025061800003", "m0"), text) == other
