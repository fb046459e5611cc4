"""The history revision (hub_0004) on SQLite and PostgreSQL: a hub database at hub_0002 with
messages keeps them, and its conversations become findable by the order numbers, phone tails and
agents in those messages; down again, the new tables go and the rows stay."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import command

from bot.migrate import HUB, config, current, upgrade
from tests.test_migrations import make_engine  # noqa: F401  (the fixture: fresh databases per backend)

ROWS = [
    "INSERT INTO hub_agents (id, username, display_name, password_hash, role, skills, presence, max_chats, "
    "last_assigned_at, created_at) VALUES (7, 'agent1', '小李', 'x', 'agent', 'orders', 'online', 5, 0, 1.5)",
    "INSERT INTO hub_conversations (id, token_hash, channel, mode, csat_pending, last_seq, created_at, updated_at) "
    "VALUES ('c1', 'h', 'web', 'bot', false, 4, 1.0, 2.0)",
    "INSERT INTO hub_messages (id, conversation_id, seq, author, channel, text, internal, created_at) "
    "VALUES ('m1', 'c1', 1, 'customer', 'web', '订单２０２５０６１８００００４没到，电话13812345678', false, 1.0)",
    "INSERT INTO hub_messages (id, conversation_id, seq, author, channel, text, internal, created_at) "
    "VALUES ('m2', 'c1', 2, 'customer', 'web', '尾号是 4321', false, 1.1)",
    "INSERT INTO hub_messages (id, conversation_id, seq, author, agent_id, channel, text, internal, created_at) "
    "VALUES ('m3', 'c1', 3, 'agent', 7, 'web', '您好', false, 1.2)",
    "INSERT INTO hub_messages (id, conversation_id, seq, author, channel, text, internal, created_at) "
    "VALUES ('m4', 'c1', 4, 'bot', 'web', '2025 年的活动', false, 1.3)",
]


def _count(engine: sa.engine.Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_history_revision_indexes_the_messages_already_stored(make_engine: Any) -> None:  # noqa: F811
    engine = make_engine()
    upgrade(engine, HUB, "hub_0002")
    with engine.begin() as conn:
        for statement in ROWS:
            conn.exec_driver_sql(statement)
    upgrade(engine, HUB, "hub_0004")
    assert current(engine, HUB) == "hub_0004"
    with engine.connect() as conn:
        refs = sorted(tuple(r) for r in conn.execute(sa.text(
            "SELECT kind, value, conversation_id FROM hub_conversation_refs")))
    # a bot's "2025" is no phone tail: only a customer's own answer is
    assert refs == [("agent", "7", "c1"), ("order", "2025061800004", "c1"),
                    ("phone_tail", "4321", "c1"), ("phone_tail", "5678", "c1")]
    assert _count(engine, "hub_messages") == 4
    with engine.begin() as conn:
        command.downgrade(config(HUB, conn), "hub_0002")
    tables = sa.inspect(engine).get_table_names()
    assert "hub_conversation_refs" not in tables and "hub_qa_scores" not in tables
    assert _count(engine, "hub_messages") == 4 and _count(engine, "hub_conversations") == 1
    upgrade(engine, HUB)
    assert _count(engine, "hub_conversation_refs") == 4
