"""A dialogue policy for what must hold whatever the classifiers and stories say.

- A human is one sentence away: anger (the parse's ``emotion``), an explicit request for a
  person (the parse's ``human_request``, or the ``human_agent`` intent), an urgent tier-1
  problem (stolen account, double charge, money taken without a paid order) and impatience
  right after the bot failed all go to ``action_handoff`` before any rule or form answers.
- Every write is confirmed: a yes or no in the very next message after a confirmation card
  goes to ``action_confirm``, which alone carries out the pending change.
- An order number typed after the bot listed the customer's orders for a topic picks that
  order for the topic, as its button would (``action_pick_order``).
- After ``action_handoff`` or ``action_confirm`` the bot listens: the handoff message is the
  bot's last word in that turn.

Below those guarantees, ``ContextPolicy`` reads follow-ups in context: an elliptical message
right after an FAQ answer or the promotions ("周末也在吗", "那现在有什么"), which the
classifiers alone misread, goes back to that answer; "那怎么办" after an answer is offered a
person; a question the intent classifier gave up on but the response selector is sure of is
that FAQ.

These are properties of the message and the slot ``pending``, not of an intent, so rules
and stories cannot express them without copying every intent; the decision is a pure
function over the tracker, tested directly.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot.confirm import CONFIRM_ACTION, card_answer, is_fresh, yes_no
from bot.dialogue import (
    ORDER_ACTIONS,
    ORDER_TOPICS,
    PROMOTIONS_ACTION,
    VERIFY_FORM,
    about_own_order,
    answer_follow_up,
    asks_current_value,
    cannot_give_tail,
    card_aside,
    corrected_change,
    corrects_order_choice,
    coupon_follow_up,
    detail_named,
    detect_modify_field,
    faq_topic,
    fixes_a_detail,
    gives_up,
    is_bare_pick,
    is_elliptical,
    is_stuck,
    leans_on_answer,
    leaves_form_for,
    means_another_order,
    names_another_order,
    order_id_candidate,
    order_policy_question,
    picks_offered_order,
    points_at_an_order,
    promotion_named,
    remarks_on_amount,
    reports_field_mistake,
    same_for_another,
    selector_key,
    states_a_change,
    waits_within_promise,
    yes_then_other_order,
    yes_then_request,
)
from bot.handoff import (
    TRANSPARENT_ACTIONS,
    action_before_latest_message,
    bot_text_before_latest_message,
    sarcastic_after_complaint,
    to_simplified,
    urgent_in_recent,
)
from bot.nlu.short_reply import short_reply_intent

HANDOFF_ACTION = "action_handoff"
OFFER_HUMAN = "utter_offer_human"
# "那怎么办" after an answer: a person is offered (not "I did not understand")
STUCK_OFFER = "utter_stuck_offer_human"
ANGRY = "angry"
HUMAN = "human"
HUMAN_INTENT = "human_agent"
VERIFY_GATE = "action_verify_gate"
# re-reads a typed choice from the offered order list as the listed topic (button-equivalent)
PICK_ACTION = "action_pick_order"
# shows the change card again with a value corrected at the card ("不对 是29号")
CORRECT_ACTION = "action_correct_change"
SWITCH_ACTION = "action_switch_request"
OTHER_ORDER_ACTION = "action_card_other_order"
INVOICE_FORM = "invoice_form"
FIX_DETAIL_ACTION = "action_fix_detail"
# a question or an exchange wish at a card, answered while the card stays open
ASIDE_ACTION = "action_card_aside"
# "不对 是另一单 收纳箱那个" after an answer about one order: the order named by its goods, or the
# customer's other orders to choose from
REPICK_ACTION = "action_repick_order"

# Bot answers that mean "I did not get it": impatience right after one of them hands off.
FAILURE_ACTIONS = frozenset({"utter_ask_rephrase", "utter_offer_human", "utter_out_of_scope"})
# After these the bot has said its last word for the turn.
FINAL_ACTIONS = frozenset({HANDOFF_ACTION, CONFIRM_ACTION, CORRECT_ACTION, REPICK_ACTION, ASIDE_ACTION,
                           SWITCH_ACTION, OTHER_ORDER_ACTION})

_IMPATIENT = re.compile(
    r"听不懂|不懂|看不懂|答非所问|什么玩意|没用|废物|说人话|人话|搞什么|笨|智障|傻|垃圾|别废话|"
    r"又来|我问的是|不是这个|不是问这个|说不清|浪费时间|你到底|到底行不行|能不能行|牛头不对马嘴|"
    r"无语|服了|醉了|晕|[?？]{2,}|(啥|什么)(也|都)不会|破机器人|没用的机器人"
)
# Insulting the bot's competence is asking to get away from it, whatever the bot said before
# ("什么破机器人 啥也不会" after it asked for an order number).
_BOT_INSULT = re.compile(r"(破|垃圾|没用的?|蠢|笨)机器人|人工智障|(啥|什么)(也|都)不会|(啥|什么)(也|都)不懂")
# "算了" alone is giving up ("哦那算了" after "we cannot check another shop's order"), not a
# demand for a person; with impatience words it still counts through those words.
# Taking back a request for a person while waiting for one ("算了 不用了", "不转了 我自己看看").
_WITHDRAW = re.compile(r"算了|不用(转|人工|了)|不转了|不要(转|人工)了?|不需要(转|人工)|取消转|自己(看|查|弄|来|处理)|没事了|解决了")


# "现在有人吗" right after the agents' hours: a person is wanted now, not the hours again
_PERSON_NOW = re.compile(r"有(人|客服|人工)(在)?(吗|嘛|么|没|不)|能转(人工)?(吗|嘛)|(现在|这会儿?)能(找|联系)到(人|客服)")
HOURS_FAQ = "faq/working_hours"


def wants_person_after_hours(tracker: DialogueStateTracker, text: str) -> bool:
    """The customer asks whether a person is there right after the bot gave the agents' hours."""
    _, answered_faq = previous_turn(tracker)
    return answered_faq and tracker.get_slot("last_faq") == HOURS_FAQ \
        and bool(_PERSON_NOW.search(to_simplified(text or "")))


def is_angry(parse_data: dict[str, Any] | None) -> bool:
    """Whether a parse result carries the anger signal set by `bot.nlu.anger`."""
    emotion = (parse_data or {}).get("emotion") or {}
    return isinstance(emotion, dict) and emotion.get("name") == ANGRY


def reread_by_bot(parse_data: dict[str, Any] | None) -> bool:
    """A message an action logged anew for another topic or order (actions.verification.reread)."""
    return any(e.get("extractor") == "reread" for e in (parse_data or {}).get("entities") or [])


def detector_heard_human(parse_data: dict[str, Any] | None) -> bool:
    """The human-request detector's own signal (its words, not the intent classifier's guess)."""
    signal = (parse_data or {}).get("human_request") or {}
    return isinstance(signal, dict) and signal.get("name") == HUMAN


def asks_for_human(parse_data: dict[str, Any] | None) -> bool:
    """An explicit request for a person: the detector's signal or the intent itself."""
    parse = parse_data or {}
    if detector_heard_human(parse):
        return True
    intent = parse.get("intent") or {}
    return isinstance(intent, dict) and intent.get("name") == HUMAN_INTENT


def is_impatient(text: str | None) -> bool:
    return bool(_IMPATIENT.search(to_simplified(text or "")))


def insults_the_bot(text: str | None) -> bool:
    return bool(_BOT_INSULT.search(to_simplified(text or "")))


def awaiting_first_response(tracker: DialogueStateTracker) -> bool:
    """True right after a user message, before the bot has run any action for it."""
    return last_action_this_turn(tracker) is None and _has_user_message(tracker)


def _has_user_message(tracker: DialogueStateTracker) -> bool:
    return any(isinstance(e, UserUttered) for e in tracker.events)


def last_action_this_turn(tracker: DialogueStateTracker) -> str | None:
    """The bot's latest action since the latest user message (None if it has not acted)."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return None
        if isinstance(event, ActionExecuted) and event.action_name not in TRANSPARENT_ACTIONS:
            return event.action_name
    return None


def previous_bot_action(tracker: DialogueStateTracker) -> str | None:
    """The bot's last action before the latest user message."""
    return action_before_latest_message(
        (isinstance(e, UserUttered), e.action_name if isinstance(e, ActionExecuted) else None)
        for e in reversed(tracker.events) if isinstance(e, (UserUttered, ActionExecuted))
    )


def hub_owns_handoffs(message: UserUttered | None) -> bool:
    """Whether the handoff hub carries the conversation: it sends a chat to people itself and
    only passes the bot messages of chats that are the bot's again (``handoff_by: hub`` in the
    message metadata). Straight to Rasa (REST, a shop's own channel) the bot keeps the wait."""
    meta = getattr(message, "metadata", None) or {}
    return isinstance(meta, dict) and meta.get("handoff_by") == "hub"


def withdraws_handoff(text: str | None) -> bool:
    """"算了 不用了", "不转了 我自己看看": the customer no longer waits for a person. Words only:
    a "no" to nothing in particular ("别让我等太久") is not taking the request back."""
    return bool(_WITHDRAW.search(to_simplified(text or "")))


def waits_for_person(tracker: DialogueStateTracker, text: str, intent: str | None) -> bool:
    """A message while the conversation waits for a person stays with the person: right after
    the handoff (nothing since but the customer writing) or after the bot offered one and the
    customer said yes to it."""
    before = previous_bot_action(tracker)
    if before == HANDOFF_ACTION:
        return not hub_owns_handoffs(tracker.latest_message) and not withdraws_handoff(text)
    return before in (OFFER_HUMAN, STUCK_OFFER) and yes_no(text, intent) == "yes"


def recent_user_texts(tracker: DialogueStateTracker, count: int = 2) -> list[str | None]:
    """The customer's last `count` messages, oldest first, read from the newest event back."""
    texts: list[str | None] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            texts.append(event.text)
            if len(texts) == count:
                break
    return texts[::-1]


def bot_said(tracker: DialogueStateTracker) -> str | None:
    """The bot's last message before the customer's latest one."""
    return bot_text_before_latest_message(
        (isinstance(e, UserUttered), e.text if isinstance(e, BotUttered) else None)
        for e in reversed(tracker.events) if isinstance(e, (UserUttered, BotUttered)))


def user_message_ids(tracker: DialogueStateTracker) -> list[str | None]:
    return [e.message_id for e in tracker.events if isinstance(e, UserUttered)]


def guard_action(tracker: DialogueStateTracker) -> str | None:
    """The action that must come next whatever else is predicted, or None to abstain."""
    if last_action_this_turn(tracker) in FINAL_ACTIONS:
        return ACTION_LISTEN_NAME
    if not awaiting_first_response(tracker):
        return None
    latest = tracker.latest_message
    parse = latest.parse_data if latest else None
    text = latest.text if latest else ""
    intent = ((parse or {}).get("intent") or {}).get("name")
    pending = tracker.get_slot("pending")
    ids = user_message_ids(tracker)
    card = pending if is_fresh(pending, ids) else None
    answer = card_answer(card, text, intent) if card else None
    # an answer to the card drawn as human_agent by the classifier alone ("确人") is the answer
    wants_human = asks_for_human(parse) and not (answer and not detector_heard_human(parse))
    recent, said = recent_user_texts(tracker), bot_said(tracker)
    # "都两天了" while the promised 72 hours still run: answered with the promise (ContextPolicy);
    # a message the bot re-read was judged on its first reading
    calm_wait = (waits_within_promise(text, said) or reread_by_bot(parse)) and not card
    if (is_angry(parse) and not calm_wait) or wants_human or urgent_in_recent(recent, said) or insults_the_bot(text) \
            or sarcastic_after_complaint(recent):
        return HANDOFF_ACTION
    if previous_bot_action(tracker) in FAILURE_ACTIONS and is_impatient(text):
        return HANDOFF_ACTION
    if wants_person_after_hours(tracker, text):
        return HANDOFF_ACTION
    if not card and waits_for_person(tracker, text, intent):
        return HANDOFF_ACTION
    if card:
        if card.get("op") == "modify" and corrected_change(card, text):
            return CORRECT_ACTION
        if card.get("op") == "invoice" and fixes_a_detail(text) and detail_named(text):
            return FIX_DETAIL_ACTION  # "等等 税号写错了": that detail asked again, the rest kept
        if yes_then_other_order(card, text):
            return CONFIRM_ACTION  # "确认 另外2025061800005也退": this card's yes, then that order's card
        if same_for_another(card, text):
            return OTHER_ORDER_ACTION
        if yes_then_request(card, text):
            return CONFIRM_ACTION  # "对 改吧 另外电话也改成…": this card's yes, then the other's card
        aside = card_aside(card, text, parse)
        if aside in ("wait", "quality"):
            return ASIDE_ACTION
        if answer is not None:
            return CONFIRM_ACTION
        if aside:
            return ASIDE_ACTION
    elif lapsed_just_now(pending, ids) and yes_no(text, intent, pending.get("op")) == "yes":
        return CONFIRM_ACTION  # a yes to a card that lapsed: it is told that nothing was done
    if previous_bot_action(tracker) in (VERIFY_GATE, REPICK_ACTION) and tracker.get_slot("verification") == "choose":
        intent = ((parse or {}).get("intent") or {}).get("name")
        if picks_offered_order(text, intent, tracker.get_slot("topic")):
            return PICK_ACTION
    return None


def lapsed_just_now(pending: Any, ids: list[str | None], within: int = 3) -> bool:
    """A card shown for one of the customer's last few messages but not the one before the
    latest: a yes now comes late (the customer may believe it still counts)."""
    return isinstance(pending, dict) and bool(pending.get("after")) and pending["after"] in ids[-1 - within:-2]


def should_hand_off(tracker: DialogueStateTracker) -> bool:
    return guard_action(tracker) == HANDOFF_ACTION


class TrackerRulePolicy(Policy):
    """A policy that is pure logic over the tracker: nothing to train or persist; it predicts
    the action `decide` names with full confidence and abstains otherwise."""

    # An active form's happy-path prediction is a "no user" prediction, which the ensemble lets
    # overrule everything else; a policy flagging its own the same way lets priority decide.
    overrides_forms = False

    def decide(self, tracker: DialogueStateTracker) -> str | None:
        raise NotImplementedError

    def overrides_form(self, tracker: DialogueStateTracker, action: str) -> bool:
        return self.overrides_forms

    def train(
        self,
        training_trackers: list[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        action = self.decide(tracker)
        if action is not None and action in domain.action_names_or_texts:
            probabilities[domain.index_for_action(action)] = 1.0
            return self._prediction(probabilities, is_no_user_prediction=self.overrides_form(tracker, action))
        return self._prediction(probabilities)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TrackerRulePolicy:
        """Nothing was persisted: the policy is pure logic over the tracker."""
        return cls(config, model_storage, resource, execution_context)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class GuardPolicy(TrackerRulePolicy):
    """Predicts the guarded action with full confidence; abstains otherwise."""

    # an angry customer inside a form is not asked for a phone tail again
    overrides_forms = True

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Above RulePolicy (4): a guarded message must not be answered by a rule.
        return {"priority": 6}

    def decide(self, tracker: DialogueStateTracker) -> str | None:
        return guard_action(tracker)


# ------------------------------------------------------------------ follow-ups in context
FAQ_ACTION = "action_answer_faq"
# re-reads "那2025061800006呢" after a policy answer as that policy's order topic, asked
APPLY_ANSWER = "action_apply_answer"
# re-reads "收货电话换成1390…" as the change request it states
READ_CHANGE = "action_read_change"
# re-reads "那我拒收可以吗" after an answer about one order as that order's topic
FOLLOW_ORDER = "action_follow_order"
# short messages that are part of the conversation's mechanics, never a follow-up question
_SOCIAL = frozenset({"affirm", "deny", "thank", "goodbye", "greet", "human_agent", "bot_challenge"})
# intents that mean "the classifiers did not really know": a follow-up may override them
_WEAK = frozenset({"faq", "nlu_fallback", "out_of_scope", "product_inquiry", "promotion"})
UNSURE = 0.5
# the response selector is trusted this far to stay on the topic it just answered
SURE = 0.5
# the response selector alone is trusted this far when the intent classifier gave up
SELECTOR_SURE = 0.8


def _intent(parse: dict[str, Any] | None) -> tuple[str | None, float]:
    intent = (parse or {}).get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def previous_turn(tracker: DialogueStateTracker) -> tuple[list[str], bool]:
    """The bot's actions in the turn before the latest user message, and whether that turn
    answered an FAQ (set ``last_faq``)."""
    actions: list[str] = []
    answered_faq = False
    seen_user = 0
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            seen_user += 1
            if seen_user == 2:
                break
        elif seen_user == 1:
            if isinstance(event, ActionExecuted) and event.action_name:
                actions.append(event.action_name)
            elif isinstance(event, SlotSet) and event.key == "last_faq" and event.value:
                answered_faq = True
    return actions, answered_faq


def _social(intent: str | None, confidence: float, text: str) -> bool:
    """A yes, no, thanks or greeting the classifier is sure of and the words bear out ("好的呢"
    is a yes; "预售的呢" drawn as a greeting is not one)."""
    if intent not in _SOCIAL or confidence < UNSURE:
        return False
    if intent in ("human_agent", "bot_challenge"):
        return True
    return short_reply_intent(re.sub(r"[呢吗呀啊哦哈嘛~～?？!！。,，\s]+$", "", text)) is not None


def context_action(tracker: DialogueStateTracker) -> str | None:
    """The action a follow-up calls for in context, or None to leave it to rules and stories."""
    latest = tracker.latest_message
    if latest is None:
        return None
    parse, text = latest.parse_data or {}, latest.text or ""
    if tracker.active_loop_name:
        # "不是这个 我另一单" at "phone tail?": the form asks for the order number again
        # ... and "我忘了手机号了" there is the form's to answer (a person can check), not the
        # account FAQ the classifier draws
        if tracker.active_loop_name == VERIFY_FORM and tracker.get_slot("requested_slot") == "phone_tail" \
                and (means_another_order(text) or cannot_give_tail(text)):
            return VERIFY_FORM
        # "发票不开了 帮我退款": the form ends, the other request shows its card
        if leaves_form_for(tracker.active_loop_name, text):
            return SWITCH_ACTION
        # "不对 税号输错了": not a no to the request; the form then asks for the detail again
        if tracker.active_loop_name == INVOICE_FORM and fixes_a_detail(text):
            return FIX_DETAIL_ACTION
        # "就最近那个" when asked for the order number: the form asks for the number again
        if tracker.active_loop_name == VERIFY_FORM and tracker.get_slot("requested_slot") == "order_id" \
                and points_at_an_order(text):
            return VERIFY_FORM
        return None
    intent, confidence = _intent(parse)
    actions, answered_faq = previous_turn(tracker)
    # "都两天了" after "72小时内到账": the same answer again, with its promise and date
    if ORDER_ACTIONS & set(actions) and tracker.get_slot("order_id") and waits_within_promise(text, bot_said(tracker)):
        return FOLLOW_ORDER
    if _social(intent, confidence, text):
        return None
    last_faq = tracker.get_slot("last_faq") if answered_faq else None
    # "哦 那不退了" after an answer: the matter is dropped, not asked about again
    if actions and gives_up(text):
        return "utter_deny"
    # "花呗付的呢" after the refund timing, "我银行卡没看到" after "已退款": that answer's detail
    follow_up = answer_follow_up(text, last_faq, actions, bot_said(tracker))
    if follow_up:
        return follow_up
    # "要多久", "加钱也不行？" right after an FAQ answer: still that answer's topic
    if last_faq and leans_on_answer(text):
        return FAQ_ACTION
    # a yes/thanks/greeting the words do not bear out is as good as no intent at all
    weak = intent in _WEAK or intent in _SOCIAL or confidence < UNSURE
    key, key_confidence = selector_key(parse)
    asks = (parse.get("speech_act") or {}).get("name", "ask") == "ask"
    if weak and intent != "modify_order" and states_a_change(text):
        return READ_CHANGE
    # "2025061800002 寄到哪个地址的" the classifiers gave up on: the order's delivery detail, asked
    if weak and detect_modify_field(text) and asks_current_value(text):
        return READ_CHANGE
    # "2025061800002 电话留错了" drawn as the order's status: the detail reported wrong is to change
    if intent in (*_WEAK, "order_status", "logistics") and reports_field_mistake(text):
        return READ_CHANGE
    # "不对 是另一单 可折叠收纳箱那个": a signed-in customer's order was not the one meant
    if ORDER_ACTIONS & set(actions) and tracker.get_slot("customer_id") and corrects_order_choice(text) \
            and not any(e.get("entity") == "order_id" for e in parse.get("entities") or []):
        return REPICK_ACTION
    if ORDER_ACTIONS & set(actions) and (weak or confidence < SURE) and names_another_order(text):
        return FOLLOW_ORDER  # "那2025061800002呢" after an answer about one order: that topic, this order
    # "满299减40能和店铺券一起用吗": that promotion's own rule
    if promotion_named(text) and order_id_candidate(text) is None:
        return PROMOTIONS_ACTION
    # "订单满了200的" after the coupon answer: the threshold, not an order to look up
    if remarks_on_amount(text, last_faq):
        return FAQ_ACTION
    if any(e.get("entity") == "order_id" for e in parse.get("entities") or []):
        # "2025061800006 降价了 能保价吗" drawn as the FAQ: that shop rule, for that order
        if intent not in ORDER_TOPICS and order_policy_question(text):
            return APPLY_ANSWER
        # "那2025061800006是不是已经过了" after the return policy: that policy, for that order;
        # so is the order number alone after the special-invoice answer, whatever intent it drew
        if last_faq and faq_topic(last_faq) and ((weak and intent not in ORDER_TOPICS) or is_bare_pick(text)):
            return APPLY_ANSWER
        return None
    if last_faq and weak and is_elliptical(text):
        return FAQ_ACTION
    if PROMOTIONS_ACTION in actions and weak and is_elliptical(text):
        return PROMOTIONS_ACTION
    # "领了放在哪里看" after the promotions list or the coupon answer: the coupons
    if weak and coupon_follow_up(text, last_faq, PROMOTIONS_ACTION in actions):
        return FAQ_ACTION
    if is_stuck(text) and actions:
        return STUCK_OFFER
    if ORDER_ACTIONS & set(actions) and weak and intent not in ORDER_TOPICS and is_elliptical(text):
        return FOLLOW_ORDER
    # "一个订单能叠两张券吗" after the coupon answer: still that topic, not an order lookup
    if last_faq and key == last_faq and key_confidence >= SURE and asks and not about_own_order(text):
        return FAQ_ACTION
    if intent == "nlu_fallback" and key and key_confidence >= SELECTOR_SURE:
        return FAQ_ACTION
    return None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class ContextPolicy(TrackerRulePolicy):
    """Predicts the follow-up's action with full confidence on the turn's first decision."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Below GuardPolicy (6), above RulePolicy (4): a rule answering the drawn intent of a
        # follow-up is the mistake this policy corrects.
        return {"priority": 5}

    def decide(self, tracker: DialogueStateTracker) -> str | None:
        return context_action(tracker) if awaiting_first_response(tracker) else None

    def overrides_form(self, tracker: DialogueStateTracker, action: str) -> bool:
        """Another action than the form, decided inside it (ending it for another request,
        asking a detail again), must beat the form's own rules, which Rasa ranks above any
        user-based prediction. The form itself is not flagged: once it rejects the message,
        a flagged prediction would leave nothing but listening."""
        return tracker.active_loop_name is not None and action != tracker.active_loop_name
