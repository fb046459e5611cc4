"""Customer channels: how an event reaches the customer of a conversation.

The hub core never knows how a channel delivers; a channel implements ``deliver`` and says
what it can do (``leave_message_form``, ``ticket_contact``), so the engine asks the protocol
instead of probing the object. The web channel pushes to the customer's websockets; the WeChat
channel sends what WeChat can show (texts) by passive reply or the customer-service API.
"""

from __future__ import annotations

from typing import Any, Protocol


class Channel(Protocol):
    name: str
    # The customer can fill in a message form when nobody can answer (the widget); without one
    # (WeChat) a handoff nobody can take becomes a ticket by itself.
    leave_message_form: bool

    async def deliver(self, conversation: dict[str, Any], event: dict[str, Any]) -> None:
        """Send one event (``message``, ``mode``, ``queue``, ``typing`` ...) to the customer."""
        ...

    def ticket_contact(self, conversation: dict[str, Any]) -> str | None:
        """Who a ticket filed for this conversation answers, when the channel knows (else None)."""
        ...
