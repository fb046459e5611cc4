"""``action_answer_faq``: the shop's answer to a policy question, read in context.

The response selector answers most questions on their own. An elliptical follow-up right
after an answer ("那预售的呢", "预售商品也是一样吗", "新的几天能开好") names too little for it: when the selector is
unsure, the follow-up is about the topic just answered, whose answer covers the variants.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import latest_text, previous_bot_action
from bot.dialogue import (
    COUPON_FAQ,
    PROMOTIONS_ACTION,
    coupon_follow_up,
    is_elliptical,
    leans_on_answer,
    remarks_on_amount,
    selector_key,
)

SURE = 0.6


def faq_in_context(key: str | None, confidence: float, previous: str | None, text: str | None,
                   after_promotions: bool = False) -> str | None:
    """The FAQ key to answer with: the selector's, unless an elliptical follow-up it is unsure
    about, or a remark on a sum of money after a money answer, comes right after another answer;
    coupon words right after the coupon answer or the promotions list are about the coupons."""
    if coupon_follow_up(text, previous, after_promotions):
        return COUPON_FAQ
    if previous and leans_on_answer(text):
        return previous
    if previous and is_elliptical(text) and (key is None or confidence < SURE):
        return previous
    if remarks_on_amount(text, previous) and key != previous:
        return previous
    return key


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        key, confidence = selector_key(tracker.latest_message or {})
        previous = tracker.get_slot("last_faq")
        chosen = faq_in_context(key, confidence, previous, latest_text(tracker),
                                after_promotions=previous_bot_action(tracker) == PROMOTIONS_ACTION)
        if not chosen or not chosen.startswith("faq/"):
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        dispatcher.utter_message(response=f"utter_faq/{chosen.split('/', 1)[1]}")
        return [SlotSet("last_faq", chosen)]
