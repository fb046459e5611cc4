"""Customer channels: how an event reaches the customer of a conversation.

The hub core never knows how a channel delivers; a channel only implements ``deliver``.
The web channel pushes to the customer's websockets; a WeChat channel would call the
customer-service message API for ``message`` events and ignore the ones it cannot show.
"""

from __future__ import annotations

from typing import Any, Protocol


class Channel(Protocol):
    name: str

    async def deliver(self, conversation: dict[str, Any], event: dict[str, Any]) -> None:
        """Send one event (``message``, ``mode``, ``queue``, ``typing`` ...) to the customer."""
        ...
