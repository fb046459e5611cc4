"""``action_answer_faq``: the shop's answer to a policy question, read in context.

The response selector answers most questions on their own. An elliptical follow-up right
after an answer ("那预售的呢", "预售商品也是一样吗", "新的几天能开好") names too little for it: when the selector is
unsure, the follow-up is about the topic just answered, whose answer covers the variants.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import latest_text
from bot.handoff import to_simplified

# a follow-up that leans on the previous answer
# ... or that names its subject by what the answer just described ("新的几天能开好" after the
# answer about re-issuing an invoice)
_ELLIPTICAL = re.compile(
    r"^(那|那么|那如果|那要是|如果是|要是|那像|新的|新开的|重开的|重新开的|换开的|补开的|换好的|补发的)|"
    r"(呢|也一样吗?|也是吗|也可以吗|也行吗|一样吗|也算吗)[?？]*$"
)
SURE = 0.6


def is_elliptical(text: str | None) -> bool:
    t = to_simplified((text or "").strip())
    return 0 < len(t) <= 16 and not re.search(r"\d{6,}", t) and bool(_ELLIPTICAL.search(t))


def selected_faq(parse: dict[str, Any]) -> tuple[str | None, float]:
    """The response selector's key and confidence for a parse result."""
    response = (((parse or {}).get("response_selector") or {}).get("faq") or {}).get("response") or {}
    return response.get("intent_response_key"), float(response.get("confidence") or 0.0)


def faq_in_context(key: str | None, confidence: float, previous: str | None, text: str | None) -> str | None:
    """The FAQ key to answer with: the selector's, unless an elliptical follow-up it is unsure
    about comes right after another answer."""
    if previous and is_elliptical(text) and (key is None or confidence < SURE):
        return previous
    return key


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        key, confidence = selected_faq(tracker.latest_message or {})
        previous = tracker.get_slot("last_faq")
        chosen = faq_in_context(key, confidence, previous, latest_text(tracker))
        if not chosen or not chosen.startswith("faq/"):
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        dispatcher.utter_message(response=f"utter_faq/{chosen.split('/', 1)[1]}")
        return [SlotSet("last_faq", chosen)]
