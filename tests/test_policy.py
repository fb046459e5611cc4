"""GuardPolicy: what must happen next whatever the classifiers and stories say — handoff on
anger, a request for a person, an urgent problem or impatience after a failure; a yes or no
right after a confirmation card goes to action_confirm; the handoff is the turn's last word."""

from __future__ import annotations

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.confirm import make_pending
from bot.policy import (
    GuardPolicy,
    awaiting_first_response,
    context_action,
    guard_action,
    is_angry,
    lapsed_just_now,
    should_hand_off,
)

ANGRY = {"name": "angry", "confidence": 0.93}
CALM = {"name": "neutral", "confidence": 0.88}
HUMAN = {"name": "human", "confidence": 0.97}


def user(text: str, emotion: dict | None = CALM, intent: str = "refund", msg_id: str | None = None,
         human: dict | None = None, metadata: dict | None = None) -> UserUttered:
    parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text}
    if emotion is not None:
        parse["emotion"] = emotion
    if human is not None:
        parse["human_request"] = human
    return UserUttered(text, parse["intent"], [], parse_data=parse, message_id=msg_id, metadata=metadata)


HANDED_OFF = (user("转人工", intent="human_agent"), ActionExecuted("action_handoff"), ActionExecuted("action_listen"))
OFFERED = (user("呃", intent="nlu_fallback"), ActionExecuted("utter_offer_human"), ActionExecuted("action_listen"))


SLOTS = Domain.from_yaml(
    "version: '3.1'\nslots:\n  pending:\n    type: any\n    mappings: [{type: custom}]\n"
).slots


def tracker(*events, slots: dict | None = None) -> DialogueStateTracker:
    t = DialogueStateTracker.from_events("c1", [ActionExecuted("action_listen"), *events], slots=SLOTS)
    for name, value in (slots or {}).items():
        t.update(SlotSet(name, value))
    return t


@pytest.mark.parametrize(
    ("parse", "expected"),
    [
        ({"emotion": ANGRY}, True),
        ({"emotion": CALM}, False),
        ({}, False),
        (None, False),
        ({"emotion": "angry"}, False),  # malformed field: not trusted
    ],
)
def test_is_angry(parse, expected):
    assert is_angry(parse) is expected


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([user("你们是不是有病,退款拖了半个月!!", ANGRY)], True),
        ([user("退款怎么还没到", CALM)], False),
        # slot extraction between the message and the decision does not count as an answer
        ([user("气死了!!", ANGRY), SlotSet("order_id", None)], True),
        # an earlier angry message does not make a later calm one angry
        ([user("垃圾", ANGRY), ActionExecuted("action_answer_faq"), ActionExecuted("action_listen"),
          user("好的谢谢", CALM)], False),
        # written while waiting for the person: stays with the person, unless taken back ...
        ([*HANDED_OFF, user("快点帮我处理", intent="order_status")], True),
        ([*HANDED_OFF, user("好的谢谢", intent="thank")], True),
        ([*HANDED_OFF, user("算了不用了 我自己看看", intent="deny")], False),
        # ... or the hub, which routes handed-off chats to people, passed it on (handed back)
        ([*HANDED_OFF, user("好的谢谢", intent="thank", metadata={"handoff_by": "hub"})], False),
        # a yes to the person the bot offered; not a no, not another question
        ([*OFFERED, user("好的", intent="affirm")], True),
        ([*OFFERED, user("不用了", intent="deny")], False),
        ([*OFFERED, user("满多少包邮", intent="faq")], False),
        # a request for a person, whatever the intent classifier said
        ([user("客服妹子在不在", intent="greet", human=HUMAN)], True),
        ([user("转人工", intent="human_agent")], True),
        # urgent tier-1 problems, by rule
        ([user("我付了钱订单还显示待付款", intent="order_status")], True),
        ([user("账号被盗了", intent="account_issue")], True),
        ([user("同一笔扣了两次钱", intent="payment_issue")], True),
        # impatience right after the bot failed, but not out of the blue
        ([user("啊啊啊", intent="nlu_fallback"), ActionExecuted("utter_ask_rephrase"),
          ActionExecuted("action_listen"), user("你到底听不听得懂", intent="nlu_fallback")], True),
        ([user("你到底听不听得懂", intent="nlu_fallback")], False),
        # insulting the bot's competence hands off whatever the bot said before
        ([user("什么破机器人 啥也不会", intent="faq")], True),
    ],
)
def test_should_hand_off(events, expected):
    assert should_hand_off(tracker(*events)) is expected


def test_the_handoff_is_the_last_word_of_the_turn():
    t = tracker(user("气死了!!", ANGRY), ActionExecuted("action_handoff"))
    assert guard_action(t) == "action_listen"


CARD = make_pending("cancel", "2025061800002", "m1")


@pytest.mark.parametrize(
    ("answer", "intent", "history", "expected"),
    [
        ("确认取消", "cancel_order", ["m1"], "action_confirm"),
        ("好的", "affirm", ["m1"], "action_confirm"),
        ("算了", "deny", ["m1"], "action_confirm"),  # a no also goes there: it clears the card
        ("运费多少", "faq", ["m1"], None),  # anything else: the card lapses
        # a yes a message late: action_confirm only tells that nothing is waiting and nothing
        # was done (it checks freshness itself)
        ("确认", "affirm", ["m1", "m2"], "action_confirm"),
        ("确认", "affirm", ["m0"], None),  # a card of no message of this conversation: nothing
        ("运费多少", "faq", ["m1", "m2"], None),
    ],
)
def test_only_the_very_next_yes_or_no_goes_to_the_card(answer, intent, history, expected):
    earlier = [e for mid in history for e in (user("取消订单", intent="cancel_order", msg_id=mid),
                                              ActionExecuted("action_cancel_order"),
                                              ActionExecuted("action_listen"))]
    t = tracker(*earlier, user(answer, intent=intent, msg_id="latest"), slots={"pending": CARD})
    assert guard_action(t) == expected


ADDRESS_CARD = make_pending("modify", "2025061800002", "m1", field="address", value="北京市海淀区中关村大街27号")


@pytest.mark.parametrize(("answer", "expected"), [
    ("等一下 门牌号不对 是中关村大街29号", "action_correct_change"),  # "等一下" alone would be a no
    ("错了 是29号", "action_correct_change"),
    ("确认", "action_confirm"),
    ("等一下", "action_card_aside"),  # waiting: the card is kept and shown again
    ("地址不对吗", "action_confirm"),  # names no new value: not a correction
])
def test_a_value_corrected_at_the_change_card_shows_the_card_again(answer, expected):
    earlier = [user("北京市海淀区中关村大街27号", intent="inform", msg_id="m1"), ActionExecuted("action_listen")]
    t = tracker(*earlier, user(answer, intent="deny", msg_id="m2"), slots={"pending": ADDRESS_CARD})
    assert guard_action(t) == expected


def test_a_typed_yes_drawn_as_human_agent_answers_the_card():
    earlier = [user("取消订单", intent="cancel_order", msg_id="m1"), ActionExecuted("action_listen")]
    t = tracker(*earlier, user("确人", intent="human_agent", msg_id="m2"), slots={"pending": CARD})
    assert guard_action(t) == "action_confirm"
    t = tracker(*earlier, user("转人工", intent="human_agent", msg_id="m2"), slots={"pending": CARD})
    assert guard_action(t) == "action_handoff"


def test_anger_wins_over_a_pending_card():
    earlier = [user("取消订单", intent="cancel_order", msg_id="m1"), ActionExecuted("action_listen")]
    t = tracker(*earlier, user("好的个屁!!", ANGRY, intent="affirm", msg_id="m2"), slots={"pending": CARD})
    assert guard_action(t) == "action_handoff"


def test_policy_predicts_with_full_confidence_and_abstains_otherwise(tmp_path):
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    domain = Domain.from_yaml(
        "version: '3.1'\nintents: [refund]\nactions: [action_handoff, action_confirm]\n"
    )
    policy = GuardPolicy.create(
        GuardPolicy.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("guard_policy"),
        ExecutionContext(GraphSchema({}), "test"),
    )
    angry = policy.predict_action_probabilities(tracker(user("骗子!!!", ANGRY)), domain)
    calm = policy.predict_action_probabilities(tracker(user("请问退款到哪了", CALM)), domain)
    handoff = domain.index_for_action("action_handoff")
    assert angry.probabilities[handoff] == 1.0
    assert angry.max_confidence_index == handoff
    assert angry.is_no_user_prediction  # competes with an active form's loop prediction
    assert max(calm.probabilities) == 0.0
    assert policy.priority > 4  # above RulePolicy


PICK_SLOTS = Domain.from_yaml(
    "version: '3.1'\nslots:\n"
    + "".join(f"  {name}:\n    type: any\n    mappings: [{{type: custom}}]\n"
              for name in ("pending", "verification", "topic"))
).slots


@pytest.mark.parametrize(
    ("answer", "intent", "verification", "expected"),
    [
        ("就是2025061800008这个", "affirm", "choose", "action_pick_order"),
        ("2025061800001", "order_status", "choose", "action_pick_order"),  # a bare number
        ("2025061800004到哪了", "logistics", "choose", None),  # a new question about that order
        ("取消2025061800001", "cancel_order", "choose", None),  # a new request
        ("2025061800001", "refund", "choose", None),  # already the listed topic
        ("2025061800001", "order_status", "verified", None),  # no list was offered
        ("都不是", "deny", "choose", None),  # no order number
    ],
)
def test_a_typed_order_number_after_the_list_picks_it_for_the_topic(answer, intent, verification, expected):
    events = [user("我退的那笔钱怎么还没到", msg_id="m1"), ActionExecuted("action_verify_gate"),
              ActionExecuted("action_listen"), user(answer, intent=intent, msg_id="m2")]
    t = DialogueStateTracker.from_events("c1", [ActionExecuted("action_listen"), *events], slots=PICK_SLOTS)
    for name, value in {"verification": verification, "topic": "refund"}.items():
        t.update(SlotSet(name, value))
    assert guard_action(t) == expected


@pytest.mark.parametrize(("text", "expected"), [("听不懂吗？？", "action_handoff"), ("什么破机器人 啥也不会", "action_handoff"),
                                               ("哦那算了", None)])
def test_impatience_after_a_failure_hands_off_but_giving_up_does_not(text, expected):
    t = tracker(user("我在别家买的能查吗", intent="out_of_scope", msg_id="m1"), ActionExecuted("utter_out_of_scope"),
                ActionExecuted("action_listen"), user(text, intent="deny", msg_id="m2"))
    assert guard_action(t) == expected


# ------------------------------------------------------------------ follow-ups in context


def parsed(text: str, intent: str, confidence: float, faq: tuple[str, float] | None = None,
           entities: list | None = None) -> UserUttered:
    parse = {"intent": {"name": intent, "confidence": confidence}, "entities": entities or [], "text": text}
    if faq:
        parse["response_selector"] = {"faq": {"response": {"intent_response_key": faq[0], "confidence": faq[1]}}}
    return UserUttered(text, parse["intent"], parse["entities"], parse_data=parse)


FAQ_SLOTS = Domain.from_yaml(
    "version: '3.1'\nslots:\n" + "".join(
        f"  {name}:\n    type: any\n    mappings: [{{type: custom}}]\n"
        for name in ("last_faq", "order_id", "customer_id", "requested_slot"))
).slots


def after(answer: list, message: UserUttered) -> DialogueStateTracker:
    """A tracker whose previous turn ran `answer` (actions and slot events) before `message`."""
    return DialogueStateTracker.from_events(
        "c1", [ActionExecuted("action_listen"), user("前一个问题", intent="faq"), *answer,
               ActionExecuted("action_listen"), message], slots=FAQ_SLOTS,
    )


FAQ_ANSWER = [ActionExecuted("action_answer_faq"), SlotSet("last_faq", "faq/working_hours")]
PROMOTIONS = [ActionExecuted("action_promotions")]
RETURN_POLICY = [ActionExecuted("action_answer_faq"), SlotSet("last_faq", "faq/return_policy")]
ORDER = [{"entity": "order_id", "value": "2025061800006"}]
SHOWN = [ActionExecuted("action_logistics"), SlotSet("order_id", "2025061800004")]


@pytest.mark.parametrize(
    ("answer", "message", "expected"),
    [
        # an elliptical follow-up the classifiers are unsure about goes back to the answer
        (FAQ_ANSWER, parsed("周末也在吗", "faq", 0.3, ("faq/coupon", 0.11)), "action_answer_faq"),
        (FAQ_ANSWER, parsed("口红拆封了呢", "product_inquiry", 0.34), "action_answer_faq"),
        (PROMOTIONS, parsed("啊 结束了啊 那现在有什么", "goodbye", 0.39), "action_promotions"),
        (PROMOTIONS, parsed("特价的也打折吗", "faq", 0.34), "action_promotions"),
        # ... but not a confident new topic, a message with an order number, or a plain yes
        (FAQ_ANSWER, parsed("那退货呢", "return_exchange", 0.92), None),
        (FAQ_ANSWER, parsed("那2025061800002呢", "order_status", 0.4,
                            entities=[{"entity": "order_id", "value": "2025061800002"}]), None),
        (FAQ_ANSWER, parsed("好的呢", "affirm", 0.95), None),
        (FAQ_ANSWER, parsed("预售的呢🤔", "greet", 0.93), "action_answer_faq"),
        # the topic just answered, asked further without ellipsis
        ([ActionExecuted("action_answer_faq"), SlotSet("last_faq", "faq/coupon")],
         parsed("一个订单能叠两张券吗", "order_status", 0.7, ("faq/coupon", 0.9)), "action_answer_faq"),
        ([ActionExecuted("action_answer_faq"), SlotSet("last_faq", "faq/refund_time")],
         parsed("我的退款怎么还没到", "refund", 0.9, ("faq/refund_time", 0.9)), None),
        # nor an elliptical message out of the blue
        ([ActionExecuted("utter_greet")], parsed("周末也在吗", "faq", 0.3), None),
        # a policy answer applied to an order: that order's data, asked
        (RETURN_POLICY, parsed("那2025061800006是不是已经过了", "nlu_fallback", 0.5, entities=ORDER),
         "action_apply_answer"),
        (RETURN_POLICY, parsed("2025061800006 帮我退货", "return_exchange", 0.9, entities=ORDER), None),
        ([ActionExecuted("action_verify_gate"), SlotSet("last_faq", "faq/special_invoice")],
         parsed("2025061800006", "order_status", 0.65, entities=ORDER), "action_apply_answer"),
        (RETURN_POLICY, parsed("那把2025061800006退了吧", "refund", 0.45, entities=ORDER), None),
        # stuck after an answer: a person is offered
        ([ActionExecuted("action_modify_order")], parsed("那怎么办啊", "out_of_scope", 0.57), "utter_stuck_offer_human"),
        # a follow-up about the answer just given: its detail, or that answer again
        ([ActionExecuted("action_answer_faq"), SlotSet("last_faq", "faq/refund_time")],
         parsed("花呗付的呢", "faq", 0.9, ("faq/payment_methods", 0.9)), "utter_refund_route"),
        ([ActionExecuted("action_refund"), BotUttered("订单2025061800009已退款，229.00元已原路退回")],
         parsed("我银行卡没看到钱", "refund", 0.9), "utter_refund_not_arrived"),
        ([ActionExecuted("action_refund"), BotUttered("订单2025061800008的退款正在处理中")],
         parsed("我银行卡没看到钱", "refund", 0.9), None),
        ([ActionExecuted("action_answer_faq"), SlotSet("last_faq", "faq/warranty")],
         parsed("过了保修期了还可以修吗", "faq", 0.9, ("faq/warranty", 0.9)), "utter_repair_paid"),
        ([ActionExecuted("action_answer_faq"), SlotSet("last_faq", "faq/invoice_reissue")],
         parsed("要多久", "faq", 0.9, ("faq/refund_time", 0.9)), "action_answer_faq"),
        ([ActionExecuted("action_answer_faq"), SlotSet("last_faq", "faq/delivery_time")],
         parsed("加钱也不行？", "goodbye", 0.6), "action_answer_faq"),
        # the same words with no such answer before them are left to the classifiers
        ([ActionExecuted("utter_greet")], parsed("花呗付的呢", "faq", 0.9, ("faq/payment_methods", 0.9)), None),
        # a follow-up on the order just answered about; a change stated in full
        ([ActionExecuted("action_cancel_order")], parsed("那我拒收可以吗", "nlu_fallback", 0.5), "utter_refuse_parcel"),
        ([ActionExecuted("action_cancel_order")], parsed("那我今天能收到吗", "nlu_fallback", 0.5), "action_follow_order"),
        ([ActionExecuted("utter_greet")], parsed("2025061800002收货电话换成13900001111", "nlu_fallback", 0.5),
         "action_read_change"),
        # a detail reported wrong, drawn as the order's status: its change, not the status
        ([ActionExecuted("utter_greet")], parsed("2025061800002 电话留错了", "logistics", 0.9,
                                                 entities=[{"entity": "order_id", "value": "2025061800002"}]),
         "action_read_change"),
        ([ActionExecuted("utter_greet")], parsed("地址填错了还能改吗", "order_status", 0.9), None),
        # another order named right after an answer about one: that topic, this order
        ([ActionExecuted("action_order_status")], parsed("那2025061800002呢", "affirm", 0.29, entities=ORDER),
         "action_follow_order"),
        ([ActionExecuted("action_order_status")], parsed("2025061800002", "order_status", 0.9, entities=ORDER), None),
        # a delivery question right after one order's answer goes through the rules (the gate
        # keeps it on that order)
        (SHOWN, parsed("哪家快递公司送的", "logistics", 0.63), None),
        # the signed-in customer's order just answered about was not the one meant
        ([*SHOWN, SlotSet("customer_id", "C0002")], parsed("不对 是另一单 可折叠收纳箱那个", "deny", 0.9),
         "action_repick_order"),
        (SHOWN, parsed("不对 是另一单 可折叠收纳箱那个", "deny", 0.9), None),
        ([*SHOWN, SlotSet("customer_id", "C0002")], parsed("不对劲啊 怎么还没到", "logistics", 0.9), None),
        # where the order goes, which the classifiers gave up on: asked as the order's detail
        ([ActionExecuted("utter_greet")], parsed("2025061800002 寄到哪个地址的", "nlu_fallback", 0.5, entities=ORDER),
         "action_read_change"),
        # the selector is sure of an FAQ the intent classifier gave up on
        ([ActionExecuted("utter_greet")], parsed("一个订单能叠两张券吗", "nlu_fallback", 0.5, ("faq/coupon", 0.9)),
         "action_answer_faq"),
        ([ActionExecuted("utter_greet")], parsed("啊啊啊", "nlu_fallback", 0.5, ("faq/coupon", 0.3)), None),
    ],
)
def test_follow_ups_are_read_in_context(answer, message, expected):
    assert context_action(after(answer, message)) == expected


def test_context_policy_abstains_once_the_bot_has_answered():
    t = after(FAQ_ANSWER, parsed("周末也在吗", "faq", 0.3))
    t.update(ActionExecuted("action_answer_faq"))
    assert not awaiting_first_response(t)


@pytest.mark.parametrize(("text", "expected"), [
    ("哦 那不退了", "utter_deny"),
    ("哦对 那就不用改了", "utter_deny"),
    ("那算了吧", "utter_deny"),
    # the order itself no longer wanted is a cancel wish, not letting the matter drop
    ("不要了", None),
    ("那不退了 怎么办", "utter_stuck_offer_human"),
    ("退款 咋弄", None),  # how to get a refund: no dead end
])
def test_letting_the_matter_drop_after_an_answer(text, expected):
    t = after([ActionExecuted("action_return_exchange")], parsed(text, "faq", 0.4))
    assert context_action(t) == expected


@pytest.mark.parametrize(("answer", "text", "expected"), [
    ([ActionExecuted("action_order_status"), BotUttered("订单2025061800002于12月1日付款，还在支付后7天的价保期内")],
     "怎么申请", "utter_price_protection_how"),
    ([ActionExecuted("action_cancel_order"), BotUttered("订单取消或全额退款后，这笔订单用的优惠券会退回您的账户")],
     "那券过期了还能补发不", "utter_faq/coupon"),
    ([ActionExecuted("action_order_status")], "没有吗", "action_follow_order"),
    ([ActionExecuted("action_return_exchange"), BotUttered("已超过7天无理由退换期。如果是质量问题，仍可申请售后，建议转人工为您处理。")],
     "是质量问题 线头全开了", "action_handoff"),
    ([ActionExecuted("action_answer_faq"), SlotSet("last_faq", "faq/missing_item")],
     "那是退款还是补发啊", "action_answer_faq"),
    ([ActionExecuted("action_answer_faq"), SlotSet("last_faq", "faq/special_invoice")],
     "我们公司没有开户行信息怎么办", "utter_special_invoice_bank"),
    ([ActionExecuted("action_answer_faq"), SlotSet("last_faq", "faq/membership")], "那生日券呢", "utter_birthday_coupon"),
    ([ActionExecuted("action_cancel_order"), BotUttered("订单取消或全额退款后，这笔订单用的优惠券会退回您的账户")],
     "那运费呢", "utter_shipping_fee_back"),
    ([ActionExecuted("action_answer_faq"), SlotSet("last_faq", "faq/invoice_reissue"),
      BotUttered("亲,发票开具后30天内可以申请换开或重开")], "开了两个月了", "utter_invoice_reissue_expired"),
    ([ActionExecuted("action_answer_faq"), SlotSet("last_faq", "faq/invoice_reissue"),
      BotUttered("亲,发票开具后30天内可以申请换开或重开")], "开了十天", None),
    ([ActionExecuted("action_cancel_order"), BotUttered("普通订单退款72小时内原路到账")], "预售的也一样吗",
     "utter_faq/refund_time"),
    ([ActionExecuted("action_refund"), BotUttered("预售订单退款15个工作日内原路到账，预计2026-12-22前到账")],
     "要15个工作日？那是到哪天", "action_follow_order"),
    ([ActionExecuted("action_answer_faq"), SlotSet("last_faq", "faq/refund_time"),
      BotUttered("预售订单15个工作日内到账")], "那是到哪天", "action_answer_faq"),  # no order: the rule again
])
def test_follow_ups_on_an_order_answer(answer, text, expected):
    assert context_action(after(answer, parsed(text, "faq", 0.4))) == expected


@pytest.mark.parametrize(("requested", "text", "expected"), [
    ("order_id", "就最近那个", "order_verification_form"),
    ("phone_tail", "我忘了手机号了", "order_verification_form"),
    ("order_id", "好的", None),
])
def test_the_verification_form_keeps_what_it_asked_for(requested, text, expected):
    t = DialogueStateTracker.from_events("c1", [
        ActionExecuted("action_listen"), parsed("帮我看看我的订单", "order_status", 0.9),
        ActionExecuted("order_verification_form"), ActiveLoop("order_verification_form"),
        SlotSet("requested_slot", requested), ActionExecuted("action_listen"), parsed(text, "affirm", 0.9),
    ], slots=FAQ_SLOTS)
    assert context_action(t) == expected


@pytest.mark.parametrize(("ids", "lapsed"), [
    (["m1", "m2", "latest"], True),
    (["m1", "m2", "m3", "m4", "latest"], False),  # long ago: a yes now is about something else
    (["m1", "latest"], False),  # fresh, not lapsed
])
def test_a_card_lapsed_just_now(ids, lapsed):
    assert lapsed_just_now(CARD, ids) is lapsed
