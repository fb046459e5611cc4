"""Pure routing decisions: where a customer message goes and what a bot reply means."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from handoff.state import MODES, route_for_mode

__all__ = ["MODES", "route_for_mode"]  # mode routing lives with the state machine

HANDOFF_REASONS = ("requested", "angry", "not_understood", "urgent", "verification_failed")
HUB_REASONS = ("bot_unavailable", "offline_message")
PRIORITIES = ("urgent", "high", "normal")
SKILLS = ("orders", "refunds", "payments", "account", "general")


@dataclass
class Handoff:
    """A validated handoff request from the bot (or from the hub itself)."""

    reason: str
    priority: str = "normal"
    skill: str = "general"
    summary: str = ""
    emotion: str | None = None


@dataclass
class BotTurn:
    """What one Rasa webhook answer means for the hub."""

    replies: list[dict[str, Any]] = field(default_factory=list)
    handoff: Handoff | None = None

    @property
    def failed(self) -> bool:
        """Rasa answers 200 ``[]`` when an action fails: nothing to say is a failure, not silence."""
        return not self.replies and self.handoff is None


def _clean_buttons(raw: Any) -> list[dict[str, str]]:
    buttons: list[dict[str, str]] = []
    if not isinstance(raw, list):
        return buttons
    for button in raw:
        if isinstance(button, dict) and (button.get("title") or button.get("payload")):
            title = str(button.get("title") or button.get("payload"))
            buttons.append({"title": title, "payload": str(button.get("payload") or title)})
    return buttons


def normalise_handoff(raw: dict[str, Any], emotion: Any = None) -> Handoff:
    """Accept the bot's payload; unknown values fall back to safe defaults instead of failing."""
    reason = raw.get("reason") if raw.get("reason") in HANDOFF_REASONS + HUB_REASONS else "requested"
    priority = raw.get("priority") if raw.get("priority") in PRIORITIES else "normal"
    skill = raw.get("skill") if raw.get("skill") in SKILLS else "general"
    summary = str(raw.get("summary") or "")[:1000]
    emo = raw.get("emotion", emotion)
    return Handoff(reason, priority, skill, summary, str(emo)[:32] if emo else None)


def parse_rasa_reply(payload: Any) -> BotTurn:
    """Turn Rasa's REST-channel answer (a list of messages) into replies and a handoff."""
    if not isinstance(payload, list):
        raise ValueError("Rasa's REST channel answers with a JSON list")
    turn = BotTurn()
    for item in payload:
        if not isinstance(item, dict):
            continue
        custom = item.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("handoff"), dict):
            turn.handoff = normalise_handoff(custom["handoff"], custom.get("emotion"))
        text = item.get("text")
        if not text and item.get("image"):
            text = str(item["image"])
        buttons = _clean_buttons(item.get("buttons"))
        if text or buttons:
            turn.replies.append({"text": str(text or ""), "buttons": buttons})
    return turn


def within_hours(now_local: datetime, hours: tuple[time, time]) -> bool:
    """Whether a local time lies inside working hours (an end before the start spans midnight)."""
    start, end = hours
    current = now_local.time().replace(tzinfo=None)
    if start <= end:
        return start <= current < end
    return current >= start or current < end


def offer_leave_message(agents_online: int, in_hours: bool) -> bool:
    """Nobody to answer now: offer a ticket instead of an open-ended wait."""
    return agents_online == 0 or not in_hours
