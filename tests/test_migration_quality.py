"""Hub revision hub_0003 (quality figures) on a database at hub_0002 with rows, on SQLite and
PostgreSQL: every row stays, the new columns start empty, the figures read the old handoffs,
and a downgrade gives hub_0002 back with the rows."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import command

from bot.migrate import HUB, config, current, upgrade
from handoff.quality import ended_by_agent
from tests.test_migrations import make_engine  # noqa: F401 - the fixture, on both backends

ROWS_0002 = [
    "INSERT INTO hub_agents (username, display_name, password_hash, role, skills, presence, max_chats, "
    "last_assigned_at, created_at) VALUES ('agent1', '小李', 'x', 'agent', 'orders', 'online', 5, 0, 1.5)",
    "INSERT INTO hub_conversations (id, token_hash, channel, customer_id, mode, reason, skill, csat_pending, "
    "last_seq, created_at, updated_at, queue_position) VALUES ('c1', 'h', 'web', 'C0001', 'bot', 'angry', "
    "'refunds', false, 1, 1.0, 2.0, NULL)",
    "INSERT INTO hub_handoffs (id, conversation_id, reason, priority, skill, queued_at, assigned_at, agent_id, "
    "first_response_at, closed_at) VALUES (1, 'c1', 'angry', 'high', 'refunds', 10.0, 20.0, 1, 25.0, 100.0)",
    "INSERT INTO hub_csat (id, conversation_id, handoff_id, agent_id, score, comment, created_at) "
    "VALUES (1, 'c1', 1, 1, 4, '还行', 101.0)",
]
TABLES = ("hub_agents", "hub_conversations", "hub_handoffs", "hub_csat")


def _contents(engine: sa.engine.Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1"))] for t in TABLES}


def test_hub_0003_keeps_the_rows_of_0002(make_engine: Any) -> None:  # noqa: F811
    engine = make_engine()
    upgrade(engine, HUB, "hub_0002")
    with engine.begin() as conn:
        for statement in ROWS_0002:
            conn.exec_driver_sql(statement)
    before = _contents(engine)

    upgrade(engine, HUB, "hub_0003")
    assert current(engine, HUB) == "hub_0003"
    after = _contents(engine)
    assert {t: [r[:len(before[t][0])] for r in rows] for t, rows in after.items()} == before
    with engine.connect() as conn:
        handoff = dict(conn.execute(sa.text("SELECT * FROM hub_handoffs")).one()._mapping)
        assert handoff["end_cause"] is None and ended_by_agent(handoff)  # an old close counts as the agent's
        assert conn.execute(sa.text("SELECT nps FROM hub_csat")).scalar_one() is None
        assert conn.execute(sa.text("SELECT recent_complaint_at FROM hub_conversations")).scalar_one() is None
        assert conn.execute(sa.text("SELECT count(*) FROM hub_quality_targets")).scalar_one() == 0

    with engine.begin() as conn:
        command.downgrade(config(HUB, conn), "hub_0002")
    assert current(engine, HUB) == "hub_0002"
    assert "hub_quality_targets" not in sa.inspect(engine).get_table_names()
    assert _contents(engine) == before
