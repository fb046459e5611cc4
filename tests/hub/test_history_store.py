"""The history search in the store, on SQLite and PostgreSQL: its queries read indexes (the
query plans say so), and a search past its time budget is stopped by the database and reported,
so one broad search cannot hold a database connection for long."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handoff.records.history import Filters, SearchTimeout, search_query
from handoff.store import Store
from tests.conftest import BACKENDS

NOW = time.time()


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite:///{tmp_path / 'hub.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database_url")
    s = Store.from_url(url)
    await s.create_schema()
    yield s
    await s.close()


def _plan(store: Store, f: Filters) -> str:
    engine = store.engine
    sql = str(search_query(f).compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # tiny tables would be scanned whatever the indexes: ask whether an index can serve
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            return "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))
        return "\n".join(r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))


async def test_search_plans_read_the_indexes(store: Store) -> None:
    refs_key = "hub_conversation_refs_pkey" if store.engine.dialect.name == "postgresql" \
        else "sqlite_autoindex_hub_conversation_refs_1"
    assert refs_key in _plan(store, Filters(since=0, until=NOW, order="2025061800004"))
    assert refs_key in _plan(store, Filters(since=0, until=NOW, phone_tail="1234"))
    by_agent = _plan(store, Filters(since=0, until=NOW, agent_id=3))
    assert refs_key in by_agent and "ix_hub_handoffs_agent" in by_agent
    text = _plan(store, Filters(since=NOW - 86400, until=NOW, text="退款"))
    # a range of either date index of the conversations (the planner picks one)
    assert "ix_hub_conv_updated" in text or "ix_hub_conv_created" in text
    assert "uq_hub_msg_seq" in text or "sqlite_autoindex_hub_messages" in text
    assert "ix_hub_handoffs_conv" in _plan(store, Filters(since=NOW - 86400, until=NOW, reason="angry"))
    assert "ix_hub_csat_conv" in _plan(store, Filters(since=NOW - 86400, until=NOW, rating=1))


async def test_a_search_past_its_budget_is_stopped(store: Store) -> None:
    from handoff import models as m

    conversations = [{"id": f"{i:032x}", "token_hash": "h", "channel": "web", "mode": "bot", "csat_pending": False,
                      "last_seq": 40, "created_at": NOW - 3600, "updated_at": NOW - i} for i in range(2500)]
    messages = [{"id": f"{i:016x}{j:016x}", "conversation_id": f"{i:032x}", "seq": j + 1, "author": "customer",
                 "channel": "web", "text": f"第{j}条 我的快递到哪了 订单查询 " * 3, "internal": False,
                 "created_at": NOW - 3600} for i in range(2500) for j in range(40)]
    with store.engine.begin() as conn:
        conn.execute(m.conversations.insert(), conversations)
        for start in range(0, len(messages), 10000):
            conn.execute(m.messages.insert(), messages[start:start + 10000])
    rare = Filters(since=NOW - 86400, until=NOW + 60, text="没有这句话", limit=20)
    with pytest.raises(SearchTimeout):
        await store.history.search(rare, 0.001)
    rows, cursor = await store.history.search(rare, 60)  # the connection is usable again, the budget gone
    assert rows == [] and cursor is None
    rows, cursor = await store.history.search(Filters(since=NOW - 86400, until=NOW + 60, text="第39条", limit=5), 60)
    assert [r["id"] for r in rows] == [f"{i:032x}" for i in range(5)] and cursor is not None
