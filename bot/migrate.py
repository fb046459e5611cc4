"""Alembic migrations for the two databases this project owns: the hub's and the shop's.

    python -m bot.migrate upgrade hub|shop [--url URL]       # what the hub and the seed run at start
    python -m bot.migrate current hub|shop [--url URL]
    python -m bot.migrate revision hub|shop -m "add x"       # autogenerate from the models
    python -m bot.migrate check hub|shop [--url URL]         # exit 1 if models and migrations differ

No alembic.ini: each database is described by a `Database` below (its migrations folder and
its own version table, so both can share one PostgreSQL database with each other and with
Rasa's tracker tables without seeing each other's tables).

A database made by `create_all` before migrations existed has the tables but no version
table. The baseline revision adopts it: `ensure_table` / `ensure_index` create what is
missing and leave what exists, with its rows, as it is; then the version table says
"baseline" and later revisions run as usual.
"""

from __future__ import annotations

import argparse
import logging
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Database:
    """One migrated database: where its revisions live and which tables are its own."""

    name: str
    script_location: Path
    version_table: str
    metadata: Callable[[], sa.MetaData]  # imported lazily: the hub must not import the shop models
    default_url: Callable[[], str]

    @property
    def lock_key(self) -> int:
        """PostgreSQL advisory-lock key, so hubs starting together upgrade one at a time."""
        return zlib.crc32(self.version_table.encode())


def _hub_metadata() -> sa.MetaData:
    from handoff.models import metadata

    return metadata


def _hub_url() -> str:
    from handoff.db import sync_url
    from handoff.settings import Settings

    return sync_url(Settings.from_env().database_url)


def _shop_metadata() -> sa.MetaData:
    from bot.orders.models import Base

    return Base.metadata


def _shop_url() -> str:
    from bot.orders.db import database_url

    return database_url()


HUB = Database("hub", ROOT / "handoff" / "migrations", "alembic_version_hub", _hub_metadata, _hub_url)
SHOP = Database("shop", ROOT / "bot" / "orders" / "migrations", "alembic_version_shop", _shop_metadata,
                _shop_url)
DATABASES = {db.name: db for db in (HUB, SHOP)}


def config(db: Database, connection: Connection | None = None) -> Any:
    """An alembic Config built in code; `connection` is the one env.py migrates."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(db.script_location))
    cfg.attributes["database"] = db
    cfg.attributes["connection"] = connection
    return cfg


def _own_tables(db: Database) -> Callable[..., bool]:
    """Autogenerate looks only at this database's tables (not the other's, not Rasa's)."""
    names = set(db.metadata().tables)

    def include_name(name: str | None, type_: str, _parent: dict[str, Any]) -> bool:
        return name in names if type_ == "table" else True

    return include_name


def configure_context(context: Any, db: Database, connection: Connection) -> None:
    """The one `context.configure` both env.py files use."""
    context.configure(
        connection=connection,
        target_metadata=db.metadata(),
        version_table=db.version_table,
        include_name=_own_tables(db),
        compare_type=True,
        render_as_batch=True,  # SQLite alters tables by copying them
    )


def run_env(db: Database) -> None:
    """Body of a migrations folder's env.py: migrate the connection `upgrade` handed over,
    or (alembic commands run by hand) a connection to the database's default URL."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is not None:
        configure_context(context, db, connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(db.default_url())
    try:
        with engine.connect() as conn:
            configure_context(context, db, conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


@contextmanager
def _locked(engine: Engine, db: Database) -> Iterator[Connection]:
    """One transaction; on PostgreSQL also the database's advisory lock, held until commit."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": db.lock_key})
        yield conn


def upgrade(engine: Engine, db: Database, revision: str = "head") -> None:
    """Bring `engine`'s database to `revision`; adopts a database made by `create_all`."""
    from alembic import command

    with _locked(engine, db) as conn:
        command.upgrade(config(db, conn), revision)


def forget(engine: Engine, db: Database) -> None:
    """Drop the version table, after its tables were dropped, so the next upgrade starts over."""
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {db.version_table}"))


def current(engine: Engine, db: Database) -> str | None:
    """The revision the database is at; None before the first upgrade."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": db.version_table}).get_current_revision()


def head(db: Database) -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config(db)).get_current_head()


def differences(engine: Engine, db: Database) -> list[Any]:
    """What autogenerate would put in a new revision: empty when models and database agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "version_table": db.version_table, "include_name": _own_tables(db), "compare_type": True,
            "target_metadata": db.metadata(),
        })
        return compare_metadata(ctx, db.metadata())


# -- helpers for revisions ----------------------------------------------------------------


def ensure_table(name: str, *elements: Any, **kwargs: Any) -> None:
    """`op.create_table`, unless the table exists (a database made by `create_all`): then only
    its missing nullable columns are added. A missing NOT NULL column cannot be filled in for
    existing rows, so that stops the upgrade with the table and column named."""
    from alembic import op

    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table(name):
        op.create_table(name, *elements, **kwargs)
        return
    have = {col["name"] for col in inspector.get_columns(name)}
    for column in elements:
        if not isinstance(column, sa.Column) or column.name in have:
            continue
        if not column.nullable:
            raise RuntimeError(f"cannot adopt table {name}: its rows have no value for the new "
                               f"NOT NULL column {column.name}")
        log.warning("adopting %s: adding the missing column %s", name, column.name)
        op.add_column(name, column)


def ensure_index(name: str, table: str, columns: list[str], unique: bool = False) -> None:
    """`op.create_index`, unless the table already has an index of that name."""
    from alembic import op

    if name not in {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes(table)}:
        op.create_index(name, table, columns, unique=unique)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.migrate", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("upgrade", "current", "revision", "check"))
    parser.add_argument("database", choices=sorted(DATABASES))
    parser.add_argument("--url", help="database URL (default: the one the hub or the shop uses)")
    parser.add_argument("-m", "--message", default="change", help="revision: its message")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    db = DATABASES[args.database]
    engine = sa.create_engine(args.url or db.default_url())
    try:
        if args.command == "upgrade":
            upgrade(engine, db)
            print(f"{db.name}: at {current(engine, db)}")
        elif args.command == "current":
            print(f"{db.name}: at {current(engine, db)} (head {head(db)})")
        elif args.command == "check":
            diff = differences(engine, db)
            for item in diff:
                print(item)
            return 1 if diff else 0
        else:
            from alembic import command

            with engine.connect() as conn:
                command.revision(config(db, conn), message=args.message, autogenerate=True)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
