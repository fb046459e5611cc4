"""``action_handoff``: tell the customer a person takes over and give the hub the
routing payload (reason, priority, skill, summary) as the message's ``custom`` field.

Triggered by: the customer asking for a person, anger (the HandoffPolicy), a second
misunderstanding in a row, urgent payment/account problems and failed verification.
The payload logic is pure (bot.handoff); this action only reads the tracker.
"""

from __future__ import annotations

import asyncio
import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    bot_said,
    current_order_id,
    latest_emotion,
    latest_text,
    previous_bot_action,
    service,
    user_intents,
    user_texts,
    vip_level_of,
)
from bot.handoff import build_payload

log = logging.getLogger(__name__)


class ActionHandoff(Action):
    NAME = "action_handoff"

    def name(self) -> str:
        return self.NAME

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        return await asyncio.to_thread(self._handoff, dispatcher, tracker)

    @staticmethod
    def _waiting_on(tracker: Tracker) -> dict | None:
        """The handoff this conversation already waits on, when the customer wrote again right
        after it (straight to Rasa; the hub itself routes a handed-off chat to people)."""
        before = previous_bot_action(tracker)
        slot = tracker.get_slot("handoff")
        return slot if before == ActionHandoff.NAME and isinstance(slot, dict) else None

    def _handoff(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list:
        try:
            vip = vip_level_of(tracker, service())
        except Exception:  # the handoff must never fail because the order DB is down
            log.warning("vip level unknown for handoff (order database unavailable)")
            vip = 0
        waiting = self._waiting_on(tracker)
        intents = user_intents(tracker)
        topic = tracker.get_slot("topic")
        if topic and topic not in intents[-3:]:
            intents = [topic, *intents[-3:]]
        payload = build_payload(
            explicit_reason=tracker.get_slot("handoff_reason"),
            intents=intents,
            emotion=latest_emotion(tracker),
            text=latest_text(tracker),
            messages=user_texts(tracker),
            order_id=current_order_id(tracker),
            vip_level=vip,
            previous=waiting,
            bot_said=bot_said(tracker),
        )
        info = payload["handoff"]
        log.info("handoff reason=%s priority=%s skill=%s", info["reason"], info["priority"], info["skill"])
        dispatcher.utter_message(response="utter_handoff_waiting" if waiting else f"utter_handoff_{info['reason']}")
        dispatcher.utter_message(json_message=payload)
        events = [SlotSet("handoff_reason", None), SlotSet("next_step", None), SlotSet("pending", None),
                  SlotSet("handoff", {"reason": info["reason"], "skill": info["skill"]})]
        if tracker.active_loop.get("name"):
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        return events
