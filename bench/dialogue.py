"""Whole conversations with the bot, as the hub has them (Rasa's REST channel), checked turn
by turn against the shop they may change.

One definition of a customer's chat, of the conversation file format (tests/conversations/
README.md) and of its checks, used by the end-to-end suites and by the benchmark:

    .venv/bin/python -m bench.dialogue [--out bench/results/conversations.json]

trains the model if the data changed, starts the action and Rasa servers on a freshly seeded
shop and reports the pass rate per file, and every failing conversation with its transcript.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
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
    "SELECT id, order_id, status FROM shop_exchanges ORDER BY id",
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


# ------------------------------------------------------------------ conversation files

REPO = Path(__file__).resolve().parent.parent
CONVERSATION_FILES = sorted((REPO / "tests" / "conversations").glob("*.yml"))
SHARED_SAMPLE = REPO.parent / "shared" / "dialogue_sample.yml"
TURN_KEYS = {"say", "handoff", "any", "all", "none", "db"}


def load_conversations(paths: Sequence[Path] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(file stem: name, conversation) for every conversation; the shared sample too when present."""
    if paths is None:
        paths = [*CONVERSATION_FILES, *([SHARED_SAMPLE] if SHARED_SAMPLE.exists() else [])]
    out = []
    for path in paths:
        for conv in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            out.append((f"{path.stem}: {conv['name']}", conv))
    return out


# a date the seeded shop decides, named in a fact: {delivered:ORDER} or {deadline:ORDER}
# (its 7-day return window's last day), as the bot writes dates ("12月6日")
_DATE_FACT = re.compile(r"\{(delivered|deadline):(\d{13})\}")


def shop_dates(db_url: str, fact: str) -> str:
    """The fact with its date placeholders filled from the shop (seeded relative to today)."""
    from bot.dialogue import short_date
    from bot.orders.service import return_deadline

    def date_of(found: re.Match[str]) -> str:
        with sqlite3.connect(sqlite_path(db_url)) as conn:
            row = conn.execute("SELECT delivered_at FROM shop_orders WHERE order_id = ?", (found.group(2),)).fetchone()
        if not row or not row[0]:
            raise ValueError(f"{found.group(0)}: the order was not delivered")
        delivered = datetime.fromisoformat(str(row[0]))
        return short_date(delivered if found.group(1) == "delivered" else return_deadline(delivered))

    return _DATE_FACT.sub(date_of, fact)


def check_turn(turn: dict[str, Any], replies: list[dict[str, Any]], changed: bool,
               db_url: str | None = None) -> list[str]:
    """What is wrong with the bot's answer to one turn (empty: nothing)."""
    if db_url:
        turn = {k: [shop_dates(db_url, str(v)) for v in turn[k]] if k in ("any", "all", "none") and turn[k] else turn[k]
                for k in turn}
    problems = []
    seen = shown(replies)
    if "handoff" in turn and (handoff_of(replies) is not None) != turn["handoff"]:
        problems.append(f"handoff expected {turn['handoff']}")
    if turn.get("any") and not any(str(s) in seen for s in turn["any"]):
        problems.append(f"none of {turn['any']} in the reply")
    missing = [s for s in turn.get("all") or [] if str(s) not in seen]
    if missing:
        problems.append(f"{missing} not in the reply")
    hits = [s for s in turn.get("none") or [] if str(s) in seen]
    if hits:
        problems.append(f"{hits} in the reply")
    if "db" in turn and changed != (turn["db"] == "changed"):
        problems.append(f"shop data expected {turn['db']}")
    return problems


def run_conversation(conv: dict[str, Any], rasa_url: str, db_url: str) -> tuple[list[str], list[str]]:
    """Plays one conversation from the shop's current state: (transcript, problems of the
    first failing turn)."""
    start = shop_fingerprint(db_url)
    chat = Chat(rasa_url, metadata={"customer_id": conv["customer"]} if conv.get("customer") else {})
    transcript: list[str] = []
    for turn in conv["turns"]:
        replies = chat.say(turn["say"])
        changed = shop_fingerprint(db_url) != start
        mark = " [handoff]" if handoff_of(replies) else ""
        transcript.append(f"customer: {turn['say']}\nbot: {shown(replies)}{mark}")
        problems = check_turn(turn, replies, changed, db_url)
        if problems:
            return transcript, problems
    return transcript, []


def main(argv: Sequence[str] | None = None) -> int:
    from bot.runtime import ensure_model
    from bot.stack import start_stack

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model to serve (default: train if the data changed)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "conversations.json")
    parser.add_argument("--only", default="", help="run only conversations whose name contains this")
    args = parser.parse_args(argv)
    model = args.model or ensure_model()
    tmp = Path(tempfile.mkdtemp(prefix="kefu-conversations-"))
    db_url = f"sqlite:///{tmp / 'shop.db'}"
    subprocess.run([sys.executable, "-m", "bot.orders.seed"], cwd=REPO,
                   env={**os.environ, "DATABASE_URL": db_url}, check=True)
    snapshot = ShopSnapshot(db_url, tmp)
    stack = start_stack(model, env={"DATABASE_URL": db_url}, log_dir=tmp / "logs", tracker_db=tmp / "trackers.db")
    passed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    failures = []
    try:
        for name, conv in load_conversations():
            if args.only not in name:
                continue
            snapshot.restore()
            transcript, problems = run_conversation(conv, stack.rasa_url, db_url)
            group = name.split(":", 1)[0]
            total[group] += 1
            if problems:
                failures.append({"name": name, "transcript": transcript, "problems": problems,
                                 "known_gap": conv.get("known_gap")})
                print(f"FAIL {name}\n" + "\n".join(transcript) + "\n=> " + "; ".join(problems) + "\n", flush=True)
            else:
                passed[group] += 1
    finally:
        stack.stop()
    report = {
        "model": model.name,
        "passed": sum(passed.values()),
        "total": sum(total.values()),
        "known_gaps": sum(1 for f in failures if f["known_gap"]),
        "by_file": {g: {"passed": passed[g], "total": total[g]} for g in sorted(total)},
        "failures": failures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    for group in sorted(total):
        print(f"{group:28s} {passed[group]:4d} / {total[group]}")
    rate = report["passed"] / max(report["total"], 1)
    print(f"conversations passed: {report['passed']} / {report['total']} ({rate:.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
