"""Migrations of the hub and shop databases, on SQLite and PostgreSQL.

The baseline makes exactly what `create_all` made, the models and the migrations agree
(autogenerate finds nothing to write), a database the previous release made with
`create_all` (tests/fixtures/schema/*_v0.*.sql) is adopted with its rows, and a shop
database at an earlier revision keeps its rows through the later ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from bot.migrate import HUB, SHOP, Database, config, current, differences, head, upgrade
from bot.orders.service import OrderService
from bot.orders.timeutil import UTC
from tests.conftest import BACKENDS

FIXTURES = Path(__file__).parent / "fixtures" / "schema"
DATABASES = [pytest.param(HUB, id="hub"), pytest.param(SHOP, id="shop")]

# rows as the previous release wrote them (all NOT NULL columns filled)
OLD_ROWS = {
    "hub": [
        "INSERT INTO hub_agents (username, display_name, password_hash, role, skills, presence, max_chats, "
        "last_assigned_at, created_at) VALUES ('agent1', '小李', 'x', 'agent', 'orders', 'online', 5, 0, 1.5)",
        "INSERT INTO hub_conversations (id, token_hash, channel, mode, csat_pending, last_seq, created_at, "
        "updated_at) VALUES ('c1', 'h', 'web', 'queued', false, 1, 1.0, 2.0)",
        "INSERT INTO hub_messages (id, conversation_id, seq, author, channel, text, internal, created_at) "
        "VALUES ('m1', 'c1', 1, 'customer', 'web', '我的快递到哪了', false, 1.0)",
        "INSERT INTO hub_wechat_users (openid, conversation_id, updated_at) VALUES ('o1', 'c1', 1.0)",
        "INSERT INTO hub_agent_liveness (agent_id, seen_at) VALUES (1, 3.0)",
    ],
    "shop": [
        "INSERT INTO shop_customers (id, name, phone, vip_level, created_at) "
        "VALUES ('C0001', '张伟', '13800001234', 2, '2025-06-18 08:00:00')",
        "INSERT INTO shop_orders (order_id, customer_id, status, order_type, total, created_at, address, "
        "receiver_name, receiver_phone) VALUES ('2025061800001', 'C0001', 'paid', 'normal', 19900, "
        "'2025-06-18 08:00:00', '上海', '张伟', '13800001234')",
    ],
}
COUNTED = {"hub": ("hub_agents", "hub_conversations", "hub_messages", "hub_wechat_users", "hub_agent_liveness"),
           "shop": ("shop_customers", "shop_orders")}


@pytest.fixture(params=BACKENDS)
def make_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Engines on fresh, empty databases of one backend (several per test)."""
    engines: list[Engine] = []

    def new() -> Engine:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / f'db{len(engines)}.db'}"
        else:
            url = request.getfixturevalue("pg_database_url") if not engines else _another_pg(request)
        engines.append(sa.create_engine(url))
        return engines[-1]

    yield new
    for engine in engines:
        engine.dispose()


def _another_pg(request: pytest.FixtureRequest) -> str:
    from tests.conftest import _pg_url

    dbs = request.getfixturevalue("pg_databases")
    name = dbs.create()
    request.addfinalizer(lambda: dbs.drop(name))
    return _pg_url(name)


def _schema(engine: Engine, db: Database) -> dict[str, Any]:
    """Tables, columns, keys, indexes and unique constraints as the database reports them."""
    inspector = sa.inspect(engine)
    out: dict[str, Any] = {}
    for table in sorted(set(inspector.get_table_names()) - {db.version_table}):
        out[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted((tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
                          for fk in inspector.get_foreign_keys(table)),
            "indexes": sorted((ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                              for ix in inspector.get_indexes(table)),
            "uniques": sorted(tuple(uq["column_names"]) for uq in inspector.get_unique_constraints(table)),
        }
    return out


def _load_fixture(engine: Engine, db: Database) -> None:
    """The previous release's schema, as its create_all emitted it on this backend, with rows."""
    sql = (FIXTURES / f"{db.name}_v0.{engine.dialect.name}.sql").read_text(encoding="utf-8")
    sql = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    statements = [s.strip() for s in sql.split(";\n") if s.strip()]
    with engine.begin() as conn:
        for statement in statements + OLD_ROWS[db.name]:
            conn.exec_driver_sql(statement.rstrip(";"))


def _counts(engine: Engine, db: Database) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in COUNTED[db.name]}


@pytest.mark.parametrize("db", DATABASES)
def test_baseline_makes_what_create_all_made(make_engine: Any, db: Database) -> None:
    migrated, created = make_engine(), make_engine()
    upgrade(migrated, db)
    db.metadata().create_all(created)
    assert _schema(migrated, db) == _schema(created, db)
    assert set(_schema(migrated, db)) == set(db.metadata().tables)


@pytest.mark.parametrize("db", DATABASES)
def test_models_and_migrations_agree(make_engine: Any, db: Database) -> None:
    engine = make_engine()
    upgrade(engine, db)
    assert current(engine, db) == head(db)
    assert differences(engine, db) == []


@pytest.mark.parametrize("db", DATABASES)
def test_a_database_of_the_previous_release_is_adopted_with_its_rows(make_engine: Any, db: Database) -> None:
    engine = make_engine()
    _load_fixture(engine, db)
    before = _counts(engine, db)
    assert current(engine, db) is None  # tables, but no version table
    upgrade(engine, db)
    assert current(engine, db) == head(db)
    assert _counts(engine, db) == before and all(before.values())
    assert differences(engine, db) == []
    upgrade(engine, db)  # a second start changes nothing
    assert _counts(engine, db) == before


def test_the_hub_adopts_an_old_database_when_it_starts(tmp_path: Path) -> None:
    """The hub's own start path (``Store.create_schema``) on a file the previous release made."""
    import asyncio

    from handoff.store import Store

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = sa.create_engine(url)
    _load_fixture(engine, HUB)

    async def start() -> list[dict[str, Any]]:
        store = Store.from_url(url)
        try:
            await store.create_schema()
            return await store.messages.read("c1")
        finally:
            await store.close()

    assert [m["text"] for m in asyncio.run(start())] == ["我的快递到哪了"]
    assert current(engine, HUB) == head(HUB)
    engine.dispose()


def test_adoption_creates_what_an_older_create_all_lacked(tmp_path: Path) -> None:
    """A table, a nullable column and an index added after the database was made are added;
    a NOT NULL column that existing rows cannot fill stops the upgrade and says which."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    _load_fixture(engine, HUB)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE hub_wechat_inbound")
        conn.exec_driver_sql("DROP INDEX ix_hub_msg_reply")
        conn.exec_driver_sql("ALTER TABLE hub_messages DROP COLUMN reply_to")
    upgrade(engine, HUB)
    assert differences(engine, HUB) == []
    assert _counts(engine, HUB)["hub_messages"] == 1

    broken = sa.create_engine(f"sqlite:///{tmp_path / 'broken.db'}")
    _load_fixture(broken, HUB)
    with broken.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE hub_messages DROP COLUMN author")
    with pytest.raises(RuntimeError, match="hub_messages.*author"):
        upgrade(broken, HUB)
    assert current(broken, HUB) is None  # not marked as migrated: the next start tries again
    engine.dispose()
    broken.dispose()


# -- shop 0002: exchanges ------------------------------------------------------------------

SHOP_0001_ROWS = [
    *OLD_ROWS["shop"],
    "INSERT INTO shop_orders (order_id, customer_id, status, order_type, total, created_at, delivered_at, "
    "address, receiver_name, receiver_phone) VALUES ('2025061800005', 'C0001', '已签收', 'normal', 35900, "
    "'2025-06-18 09:00:00', '2025-06-20 10:00:00', '杭州', '张伟', '13800001234')",
    "INSERT INTO shop_refunds (id, order_id, amount, reason, status, created_at, expected_by) VALUES "
    "('R2025061900000001', '2025061800001', 19900, '不想要了', '退款中', '2025-06-19 08:00:00', "
    "'2025-06-22 08:00:00')",
    # exchange requests as 0001's service recorded them: an audit row with the reason
    "INSERT INTO shop_order_changes (id, order_id, field, old, new, at) VALUES "
    "(1, '2025061800005', 'exchange_request', NULL, '尺码小了', '2025-06-20 12:00:00')",
    "INSERT INTO shop_order_changes (id, order_id, field, old, new, at) VALUES "
    "(2, '2025061800001', 'status', 'paid', '退款中', '2025-06-20 13:00:00')",
    "INSERT INTO shop_order_changes (id, order_id, field, old, new, at) VALUES "
    "(3, '2025061800005', 'exchange_request', NULL, '尺码小了，换XL', '2025-06-20 17:30:00')",
]
SHOP_0001_TABLES = ("shop_customers", "shop_orders", "shop_order_items", "shop_tracking_events", "shop_refunds",
                    "shop_invoices", "shop_promotions", "shop_complaints", "shop_order_changes")


def _contents(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1"))] for t in SHOP_0001_TABLES}


def test_the_exchanges_revision_keeps_the_rows_of_0001(make_engine: Any) -> None:
    """A shop database at 0001 with rows is upgraded to shop_exchanges: every row stays as it
    was, each order's latest audited exchange request becomes an exchange 待处理, the models
    agree with the result, and a downgrade gives 0001 back with the rows."""
    engine = make_engine()
    upgrade(engine, SHOP, "shop_0001")
    with engine.begin() as conn:
        for statement in SHOP_0001_ROWS:
            conn.exec_driver_sql(statement)
    assert current(engine, SHOP) == "shop_0001"
    assert "shop_exchanges" not in sa.inspect(engine).get_table_names()
    before = _contents(engine)

    upgrade(engine, SHOP)
    assert current(engine, SHOP) == head(SHOP) == "shop_0002"
    assert _contents(engine) == before
    assert differences(engine, SHOP) == []
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT id, order_id, status, reason, size, notes, created_at, updated_at FROM shop_exchanges"
        )).all()
    # one exchange for the order (the latest request); its id carries the Shanghai date
    assert [tuple(r)[:6] for r in rows] == [
        ("HH2025062100000003", "2025061800005", "待处理", "尺码小了，换XL", None, None)
    ]
    assert str(rows[0].created_at).startswith("2025-06-20 17:30:00") and rows[0].updated_at == rows[0].created_at

    # the upgraded database serves the exchange rules
    svc = OrderService(engine, now=lambda: datetime(2025, 6, 21, tzinfo=UTC))
    assert svc.request_exchange("2025061800005").code == "exchange_exists"
    assert svc.exchange_of("2025061800005")["exchange_id"] == "HH2025062100000003"
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO shop_exchanges (id, order_id, status, reason, created_at, updated_at) VALUES "
            "('HH2', '2025061800005', '处理中', '', '2025-06-21 00:00:00', '2025-06-21 00:00:00')"
        )

    with engine.begin() as conn:
        command.downgrade(config(SHOP, conn), "shop_0001")
    assert current(engine, SHOP) == "shop_0001"
    assert "shop_exchanges" not in sa.inspect(engine).get_table_names()
    assert _contents(engine) == before
    upgrade(engine, SHOP)  # and up again: the requests are adopted once more, with the same ids
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id FROM shop_exchanges")).scalars().all() == ["HH2025062100000003"]
