"""Leave-a-message tickets (工单): rules for status and due time, and the transcript copy."""

from __future__ import annotations

import json
import time
from typing import Any

from handoff.errors import ApiError
from handoff.shapes import TICKET_STATUSES


def validate_status(status: Any) -> str:
    if status not in TICKET_STATUSES:
        raise ApiError(400, "invalid_status", "status must be open, pending or solved. 状态无效。")
    return str(status)


def due_at(created_at: float, due_hours: int = 24) -> float:
    return created_at + due_hours * 3600


def transcript_json(messages: list[dict[str, Any]]) -> str:
    """What the agent needs to answer without opening the conversation: author, time, text."""
    return json.dumps(
        [
            {"author": msg["author"], "text": msg["text"], "created_at": msg["created_at"]}
            for msg in messages
            if not msg.get("internal")
        ],
        ensure_ascii=False,
    )


def new_ticket_row(
    conversation: dict[str, Any], text: str, contact: str | None,
    messages: list[dict[str, Any]], due_hours: int = 24, now: float | None = None,
) -> dict[str, Any]:
    now = time.time() if now is None else now
    return {
        "conversation_id": conversation["id"],
        "customer_id": conversation.get("customer_id"),
        "contact": contact,
        "text": text,
        "transcript": transcript_json(messages),
        "status": "open",
        "created_at": now,
        "updated_at": now,
        "due_at": due_at(now, due_hours),
    }
