"""Who may see and act on which conversation: one pure rule for the console API and its websocket.

- An agent sees the queue of their skill groups (``general`` is everyone's: unclassified chats and
  chats the bot failed on land there), the chats assigned to them (claimed, routed or transferred
  to them), and read-only the chats they served before.
- An agent replies to, transfers and closes their own chats; notes go on chats they may work on
  (their own, or waiting in their groups); queued chats of their groups they may claim, transfer
  to another group or close.
- A transfer to a colleague needs the colleague online and below their chat limit.
- Supervisors see every chat and may act on any; their transfers may exceed the colleague's limit,
  but never go to someone who is not online (nobody would answer).

Refusals are ``ApiError`` 403 (or 409 for a state that does not allow the action at all).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from handoff.errors import ApiError
from handoff.state import is_served, is_waiting

SHARED_GROUPS = frozenset({"general"})
CONTENT_EVENTS = frozenset({"message", "typing"})  # events that carry what was said


def is_supervisor(agent: dict[str, Any]) -> bool:
    return agent.get("role") == "supervisor"


def groups(agent: dict[str, Any]) -> frozenset[str]:
    raw = agent.get("skills") or ""
    parts = raw.split(",") if isinstance(raw, str) else raw
    return frozenset(p.strip() for p in parts if p and p.strip()) | SHARED_GROUPS


def in_groups(agent: dict[str, Any], skill: str | None) -> bool:
    return is_supervisor(agent) or (skill or "general") in groups(agent)


def _own(agent: dict[str, Any], conv: dict[str, Any]) -> bool:
    return conv.get("assigned_agent_id") == agent["id"]


def _waiting_in_groups(agent: dict[str, Any], conv: dict[str, Any]) -> bool:
    return is_waiting(conv) and conv.get("assigned_agent_id") is None and in_groups(agent, conv.get("skill"))


def can_view(agent: dict[str, Any], conv: dict[str, Any], served: bool = False) -> bool:
    """Transcript and notes: supervisors, the assigned agent, agents of a waiting chat's group,
    and (``served``) agents who handled the chat before."""
    return is_supervisor(agent) or _own(agent, conv) or _waiting_in_groups(agent, conv) or served


def _refuse(code: str, message: str) -> ApiError:
    return ApiError(403, code, message)


NOT_IN_SCOPE = ("not_in_scope", "This conversation is neither yours nor waiting in your skill groups. "
                "该会话不属于您，也不在您的技能组队列中。")


def check_view(agent: dict[str, Any], conv: dict[str, Any], served: bool = False) -> None:
    if not can_view(agent, conv, served):
        raise _refuse(*NOT_IN_SCOPE)


def check_note(agent: dict[str, Any], conv: dict[str, Any]) -> None:
    """Internal notes: on chats the agent works on, not on colleagues' chats."""
    if not (is_supervisor(agent) or _own(agent, conv) or _waiting_in_groups(agent, conv)):
        raise _refuse(*NOT_IN_SCOPE)


def check_reply(agent: dict[str, Any], conv: dict[str, Any]) -> None:
    """Customer-visible replies: the assigned agent (or a supervisor), once claimed."""
    if not is_served(conv):
        raise ApiError(409, "not_claimed", "Claim the conversation first. 请先接入该会话。")
    if not (_own(agent, conv) or is_supervisor(agent)):
        raise _refuse("not_your_conversation", "This conversation belongs to another agent. 该会话由其他客服处理。")


def check_claim(agent: dict[str, Any], conv: dict[str, Any], load: int) -> None:
    """Queued chats of the agent's groups, within the agent's chat limit (supervisors: any)."""
    if is_waiting(conv) and not in_groups(agent, conv.get("skill")):
        raise _refuse("not_your_group", f"This chat waits for the {conv.get('skill')} group. 该会话不在您的技能组。")
    if not is_supervisor(agent) and load >= agent["max_chats"]:
        raise ApiError(409, "at_capacity",
                       f"You already have {load} open chats (max {agent['max_chats']}). 已达最大接待量。")


def check_handle(agent: dict[str, Any], conv: dict[str, Any]) -> None:
    """Close, return to the bot, or transfer: one's own chat, or a waiting chat of one's groups;
    supervisors any."""
    if is_served(conv):
        check_reply(agent, conv)
    elif is_waiting(conv):
        if not in_groups(agent, conv.get("skill")):
            raise _refuse("not_your_group", "This chat waits for another skill group. 该会话不在您的技能组。")
    else:
        raise ApiError(409, "not_with_agents", "The conversation is not with an agent. 会话不在人工服务中。")


def check_transfer_target(agent: dict[str, Any], target: dict[str, Any], target_load: int) -> None:
    """A colleague takes a transferred chat only when online and below their chat limit."""
    if target.get("presence") != "online":
        raise _refuse("agent_not_online", f"{target.get('display_name')} is not online. 对方不在线，无法转接。")
    if not is_supervisor(agent) and target_load >= target["max_chats"]:
        raise _refuse("agent_at_capacity",
                      f"{target.get('display_name')} already has {target_load} chats (max {target['max_chats']}). "
                      "对方已达最大接待量。")


def check_list_scope(agent: dict[str, Any], scope: str) -> None:
    if scope == "all" and not is_supervisor(agent):
        raise _refuse("supervisor_only", "Only supervisors list every conversation. 仅主管可查看全部会话。")


def queue_items(agent: dict[str, Any], items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The waiting chats this agent sees: those of their groups (supervisors: all)."""
    return [i for i in items if in_groups(agent, i.get("skill"))]


def event_visible(agent: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether a console event reaches this agent. Messages and typing follow ``can_view`` on the
    conversation fields the event carries; state changes (mode, assigned) carry only ids and reach
    everyone they concern."""
    if is_supervisor(agent) or "conversation_id" not in event:
        return True
    if event.get("type") in CONTENT_EVENTS:
        return can_view(agent, {"assigned_agent_id": event.get("assigned_agent_id"), "skill": event.get("skill"),
                                "mode": event.get("conversation_mode")})
    return event.get("assigned_agent_id", None) in (None, agent["id"])


def console_event(agent: dict[str, Any], event: dict[str, Any]) -> dict[str, Any] | None:
    """The event as this agent's console gets it (queue items narrowed to their groups), or None."""
    if event.get("type") == "queue" and "items" in event and not is_supervisor(agent):
        return {**event, "items": queue_items(agent, event["items"])}
    return event if event_visible(agent, event) else None
