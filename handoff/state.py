"""The conversation state machine: the one place a conversation's mode changes.

``bot → queued → agent → bot`` (and ``closed`` when a WeChat customer unfollows). A move is
checked against ``RULES``, persisted in one conditional UPDATE (``… WHERE mode = :from`` and the
assigned agent the caller saw, so of two racing moves exactly one wins and the loser changes
nothing) and announced as one ``ModeChanged`` event. What follows a move (the customer's mode
event, the consoles' events, the queue broadcast, auto-assignment) is done by subscribers of that
event (``handoff.events``), never by the caller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from handoff.events import Events
    from handoff.router import Handoff
    from handoff.store import Store


class Mode(str, Enum):
    """Who holds a conversation. Values are what the database stores and the API sends."""

    BOT = "bot"
    QUEUED = "queued"
    AGENT = "agent"
    CLOSED = "closed"

    def __str__(self) -> str:  # so logs and f-strings read "agent", not "Mode.AGENT"
        return self.value


MODES: tuple[str, ...] = tuple(m.value for m in Mode)
HUMAN = frozenset({Mode.QUEUED, Mode.AGENT})  # customer messages go to agents, never to Rasa

ROUTE_RASA = "rasa"
ROUTE_AGENT = "agent"


def route_for_mode(mode: str) -> str:
    """``rasa`` for bot (and closed: a new message reopens with the bot), else ``agent``."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    return ROUTE_AGENT if mode in HUMAN else ROUTE_RASA


def with_bot(conversation: dict[str, Any]) -> bool:
    """Whether the bot answers this conversation's customer now."""
    return route_for_mode(conversation["mode"]) == ROUTE_RASA


def with_agents(conversation: dict[str, Any]) -> bool:
    """Queued or with an agent: the human part of the conversation."""
    return conversation.get("mode") in HUMAN


def is_waiting(conversation: dict[str, Any]) -> bool:
    return conversation.get("mode") == Mode.QUEUED


def is_served(conversation: dict[str, Any]) -> bool:
    """With an agent (claimed, routed or transferred)."""
    return conversation.get("mode") == Mode.AGENT


def is_closed(conversation: dict[str, Any]) -> bool:
    return conversation.get("mode") == Mode.CLOSED


class Cause(str, Enum):
    """Why a conversation moves; each cause has one target mode (``RULES``)."""

    HANDOFF = "handoff"  # the bot (or the hub for it) hands off: into the queue
    CLAIM = "claim"  # an agent, or auto-assignment, takes a waiting chat
    TRANSFER = "transfer"  # to a named colleague
    REQUEUE = "requeue"  # back to the queue, for a skill group
    AGENT_AWAY = "agent_away"  # its agent was set away for too long: back to the queue
    CLOSE = "close"  # an agent closes (a CSAT rating is asked when an agent served)
    RETURN = "return_to_bot"  # an agent hands back to the bot
    TICKET = "ticket"  # nobody can answer now: a ticket instead of the wait
    UNSUBSCRIBE = "unsubscribe"  # WeChat: the customer unfollowed
    TAKE_BACK = "take_back"  # a supervisor takes a chat from a silent agent: back to its place in the queue

    def __str__(self) -> str:
        return self.value


RULES: dict[Cause, tuple[frozenset[Mode], Mode]] = {
    Cause.HANDOFF: (frozenset({Mode.BOT, Mode.CLOSED}), Mode.QUEUED),
    Cause.CLAIM: (frozenset({Mode.QUEUED}), Mode.AGENT),
    Cause.TRANSFER: (HUMAN, Mode.AGENT),
    Cause.REQUEUE: (HUMAN, Mode.QUEUED),
    Cause.AGENT_AWAY: (frozenset({Mode.AGENT}), Mode.QUEUED),
    Cause.CLOSE: (HUMAN, Mode.BOT),
    Cause.RETURN: (HUMAN, Mode.BOT),
    Cause.TICKET: (HUMAN, Mode.BOT),
    Cause.UNSUBSCRIBE: (frozenset({Mode.BOT, Mode.QUEUED, Mode.AGENT}), Mode.CLOSED),
    Cause.TAKE_BACK: (frozenset({Mode.AGENT}), Mode.QUEUED),
}


def allowed(before: str, to: Mode, cause: Cause) -> bool:
    sources, target = RULES[cause]
    return to is target and before in sources


class IllegalTransition(Exception):
    """A move the rules do not allow from the mode the caller saw."""


@dataclass(frozen=True)
class Move:
    """One checked move, as the store persists it: ``values`` are set on the conversation only
    if it is still in ``before`` with ``owner`` assigned (``check_owner``)."""

    conversation_id: str
    channel: str
    before: Mode
    to: Mode
    cause: Cause
    owner: int | None
    check_owner: bool
    values: dict[str, Any]
    agent_id: int | None = None  # the agent taking the chat (its handoff record, last_assigned_at)
    open_handoff: dict[str, Any] | None = None  # a new queue entry (``hub_handoffs`` row)
    close_handoff: bool = False
    customer: tuple[str | None, str, str | None] | None = None  # one waiting place per customer
    notices: tuple[dict[str, Any], ...] = ()  # system messages stored with the move


@dataclass(frozen=True)
class ModeChanged:
    """The one event of a move. ``conversation`` is the row after it; ``notices`` the system
    messages stored with it (in the same transaction)."""

    conversation: dict[str, Any]
    before: Mode
    cause: Cause
    agent: dict[str, Any] | None = None  # the agent who took the chat (claim, transfer)
    by_agent: int | None = None  # the agent the chat was taken from (agent_away)
    notices: list[dict[str, Any]] = field(default_factory=list)
    offline: bool = False  # nobody can answer now: the customer is offered the message form

    @property
    def to(self) -> Mode:
        return Mode(self.conversation["mode"])

    @property
    def touches_queue(self) -> bool:
        return Mode.QUEUED in (self.before, self.to)

    @property
    def frees_agent(self) -> bool:
        """An agent has one chat less (or the queue one more): assignment may now succeed."""
        return self.to is Mode.QUEUED or (self.before is Mode.AGENT and self.to is not Mode.AGENT)


@dataclass(frozen=True)
class PresenceChanged:
    """An agent's presence changed (by hand, or automatically with ``auto``)."""

    agent_id: int
    presence: str
    auto: bool = False


def notice(text: str, reply_to: str | None = None, agent_id: int | None = None,
           internal: bool = False) -> dict[str, Any]:
    """A system message to store with a move."""
    item: dict[str, Any] = {"author": "system", "text": text, "reply_to": reply_to}
    if agent_id is not None:
        item["agent_id"] = agent_id
    if internal:
        item["internal"] = True
    return item


class StateMachine:
    """Checks, persists and announces moves."""

    def __init__(self, store: Store, events: Events) -> None:
        self.store = store
        self.events = events

    def plan(
        self, conversation: dict[str, Any], to: Mode, cause: Cause, *,
        agent: dict[str, Any] | None = None, handoff: Handoff | None = None, vip_level: int | None = None,
        customer: tuple[str | None, str, str | None] | None = None, skill: str | None = None,
        notices: tuple[dict[str, Any], ...] = (), now: float | None = None,
    ) -> Move:
        """The move as the store persists it; ``IllegalTransition`` when the rules forbid it."""
        before = conversation["mode"]
        if not allowed(before, to, cause):
            raise IllegalTransition(f"{cause}: {before} → {to}")
        now = time.time() if now is None else now
        values: dict[str, Any] = {"mode": to.value, "updated_at": now, "assigned_agent_id": None,
                                  "queue_position": None, "queue_eta": None}
        open_handoff = None
        if cause is Cause.HANDOFF:
            assert handoff is not None
            values.update(reason=handoff.reason, priority=handoff.priority, skill=handoff.skill,
                          summary=handoff.summary, emotion=handoff.emotion, vip_level=vip_level,
                          queued_at=now, csat_pending=False)
            open_handoff = {"reason": handoff.reason, "priority": handoff.priority, "skill": handoff.skill,
                            "queued_at": now}
        elif to is Mode.AGENT:
            assert agent is not None
            values["assigned_agent_id"] = agent["id"]
        elif to is Mode.QUEUED:
            values["skill"] = skill or conversation.get("skill") or "general"
        else:  # back to the bot, or closed: the human part ends
            values["csat_pending"] = cause is Cause.CLOSE and before == Mode.AGENT
        return Move(
            conversation_id=conversation["id"], channel=conversation["channel"], before=Mode(before), to=to,
            cause=cause, owner=conversation.get("assigned_agent_id"), check_owner=cause is not Cause.HANDOFF,
            values=values, agent_id=agent["id"] if agent is not None and to is Mode.AGENT else None,
            open_handoff=open_handoff, close_handoff=to in (Mode.BOT, Mode.CLOSED) and before in HUMAN,
            customer=customer if cause is Cause.HANDOFF else None, notices=tuple(notices),
        )

    async def transition(
        self, conversation: dict[str, Any], to: Mode, cause: Cause, *,
        agent: dict[str, Any] | None = None, by_agent: int | None = None, offline: bool = False,
        **details: Any,
    ) -> ModeChanged | None:
        """Move ``conversation`` (as the caller read it) to ``to``; the event, after its
        subscribers ran, or None when the conversation changed meanwhile (nothing is written).
        ``store.AlreadyWaiting`` when a handoff finds the customer waiting elsewhere."""
        move = self.plan(conversation, to, cause, agent=agent, **details)
        stored = await self.store.conversations.apply_move(move)
        if stored is None:
            return None
        after, notices = stored
        event = ModeChanged(after, move.before, cause, agent=agent, by_agent=by_agent,
                            notices=notices, offline=offline)
        await self.events.emit(event)
        return event
