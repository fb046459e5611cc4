"""Talking to the bot as the hub does (Rasa's REST channel) and reading the shop it changes.

One definition of a customer's chat, the checks on its replies and the shop's state, shared
by the end-to-end suites."""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

FULL_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


class Chat:
    """One customer's conversation with the bot over the REST channel."""

    def __init__(self, rasa_url: str, metadata: dict[str, Any] | None = None) -> None:
        self.url = f"{rasa_url}/webhooks/rest/webhook"
        self.sender = f"e2e-{uuid.uuid4().hex[:10]}"
        self.metadata = metadata or {}

    def say(self, text: str) -> list[dict[str, Any]]:
        replies = post(self.url, {"sender": self.sender, "message": text, "metadata": self.metadata})
        for reply in replies:
            assert not FULL_PHONE.search(reply.get("text") or ""), reply
        return replies


def texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def shown(replies: list[dict[str, Any]]) -> str:
    """What the customer sees: reply texts and button titles."""
    parts = []
    for reply in replies:
        parts.append(reply.get("text") or "")
        parts.extend(b.get("title") or "" for b in reply.get("buttons") or [])
    return "\n".join(parts)


def handoff_of(replies: list[dict[str, Any]]) -> dict[str, Any] | None:
    for reply in replies:
        custom = reply.get("custom") or {}
        if "handoff" in custom:
            return custom["handoff"]
    return None


def sqlite_path(db_url: str) -> Path:
    return Path(make_url(db_url).database or "")


# What a customer's chat may change: orders (status, delivery details) and the after-sales
# records. Complaints are records of the contact, not changes to the shop.
FINGERPRINT_QUERIES = (
    "SELECT order_id, status, address, receiver_phone, receiver_name FROM shop_orders ORDER BY order_id",
    "SELECT COUNT(*) FROM shop_refunds",
    "SELECT COUNT(*) FROM shop_invoices",
    "SELECT COUNT(*) FROM shop_order_changes",
)


def shop_fingerprint(db_url: str) -> tuple:
    with sqlite3.connect(sqlite_path(db_url)) as conn:
        return tuple(tuple(conn.execute(q).fetchall()) for q in FINGERPRINT_QUERIES)


class ShopSnapshot:
    """A copy of the freshly seeded shop, put back before each conversation."""

    def __init__(self, db_url: str, folder: Path) -> None:
        self.db_url = db_url
        self.copy = folder / "seeded-shop.db"
        with sqlite3.connect(sqlite_path(db_url)) as src, sqlite3.connect(self.copy) as dst:
            src.backup(dst)

    def restore(self) -> None:
        """Rows back to the seeded state in one transaction, under the running servers."""
        conn = sqlite3.connect(sqlite_path(self.db_url), timeout=30, isolation_level=None)
        try:
            conn.execute("ATTACH DATABASE ? AS seeded", (str(self.copy),))
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM seeded.sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )]
            conn.execute("BEGIN IMMEDIATE")
            for table in tables:
                conn.execute(f'DELETE FROM main."{table}"')
                conn.execute(f'INSERT INTO main."{table}" SELECT * FROM seeded."{table}"')
            conn.execute("COMMIT")
            conn.execute("DETACH DATABASE seeded")
        finally:
            conn.close()


__all__ = ["Chat", "ShopSnapshot", "handoff_of", "post", "shop_fingerprint", "shown", "texts"]
