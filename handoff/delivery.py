"""How changes reach people: the customer's channel and the agents' consoles.

``Delivery`` subscribes to the domain events (``handoff.events``): a ``ModeChanged`` tells the
customer (mode, who joined, the notices stored with the move, a rating request) and the consoles
(assignment, mode, requeue); a ``PresenceChanged`` tells the consoles. No other code sends these.
"""

from __future__ import annotations

import logging
from typing import Any

from handoff import shapes
from handoff.channels import Channel
from handoff.realtime import Bus
from handoff.state import HUMAN, Cause, Mode, ModeChanged, PresenceChanged
from handoff.state import is_served as _is_served

log = logging.getLogger("handoff.delivery")

AGENTS_TOPIC = "agents"


def conversation_topic(conversation_id: str) -> str:
    """Where a conversation's customer events go (its customer's websockets on any hub)."""
    return f"conv:{conversation_id}"


class Delivery:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.channels: dict[str, Channel] = {}

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    def channel_of(self, conv: dict[str, Any]) -> Channel | None:
        return self.channels.get(conv["channel"])

    async def to_customer(self, conv: dict[str, Any], event: dict[str, Any]) -> None:
        channel = self.channel_of(conv)
        if channel is None:
            log.error("no channel %s for conversation %s", conv["channel"], conv["id"])
            return
        await channel.deliver(conv, event)

    async def to_agents(self, event: dict[str, Any]) -> None:
        await self.bus.publish(AGENTS_TOPIC, event)

    async def publish_messages(
        self, conv: dict[str, Any], rows: list[dict[str, Any]], mode: str | None = None
    ) -> list[dict[str, Any]]:
        """Stored messages to the customer (unless internal) and to the consoles (while agents
        hold the chat, and system notices always); ``mode`` the routing mode they belong to."""
        out = [shapes.message_out(r) for r in rows]
        mode = mode or conv["mode"]
        for msg in out:
            if not msg["internal"]:
                await self.to_customer(conv, shapes.customer_message_event(msg))
            if mode != Mode.BOT or msg["author"] == shapes.Author.SYSTEM:
                await self.to_agents(shapes.console_message_event(conv, msg))
        return out

    # -- subscribers --------------------------------------------------------------------------

    async def tell_customer(self, event: Any) -> None:
        """The customer learns the new mode, who joined, the notices and a rating request. Into
        the human part the mode comes first (the widget switches, then reads who and where);
        out of it last (the closing words and the rating request belong to the agent's part)."""
        if not isinstance(event, ModeChanged):
            return
        conv = event.conversation
        if event.to in HUMAN:
            await self.to_customer(conv, shapes.mode_event(event.to))
            if event.agent is not None and _is_served(conv):
                await self.to_customer(conv, shapes.agent_joined_event(event.agent["display_name"]))
            await self.publish_messages(conv, event.notices)
            if event.offline:
                await self.to_customer(conv, shapes.offline_event())
            return
        await self.publish_messages(conv, event.notices)
        if conv["csat_pending"]:
            await self.to_customer(conv, shapes.csat_request_event())
        await self.to_customer(conv, shapes.mode_event(event.to))

    async def tell_consoles(self, event: Any) -> None:
        """Consoles learn assignments and every change of a chat that agents held or awaited
        (a chat entering the queue reaches them as the queue broadcast)."""
        if isinstance(event, PresenceChanged):
            await self.to_agents(shapes.presence_event(event.agent_id, event.presence, event.auto))
            return
        if not isinstance(event, ModeChanged):
            return
        conv = event.conversation
        if event.agent is not None and _is_served(conv):
            await self.to_agents(shapes.assigned_event(conv["id"], event.agent["id"]))
        if event.before in HUMAN:
            await self.to_agents(shapes.console_mode_event(conv))
        if event.cause in (Cause.AGENT_AWAY, Cause.TAKE_BACK):
            await self.to_agents(shapes.requeued_event(conv["id"], event.by_agent, event.cause.value))
