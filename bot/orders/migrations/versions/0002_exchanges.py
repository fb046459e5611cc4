"""Exchange requests (换货) get their own table, shop_exchanges.

Before this revision an exchange request was only an audit row in shop_order_changes
(field "exchange_request", the reason in `new`). Those rows stay as they are, and each
order's latest one becomes an exchange in status 待处理: nobody could record progress on
them, so whether they were carried out is for the after-sales team to say. The partial
unique index keeps at most one open (待处理/处理中) exchange per order.

Revision ID: shop_0002
Revises: shop_0001

"""
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'shop_0002'
down_revision: str | Sequence[str] | None = 'shop_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.column('status').in_(('待处理', '处理中'))
SHANGHAI_OFFSET = timedelta(hours=8)  # no daylight saving: the ids' date is the Shanghai day

changes = sa.table(
    'shop_order_changes',
    sa.column('id', sa.Integer()), sa.column('order_id', sa.String()), sa.column('field', sa.String()),
    sa.column('new', sa.Text()), sa.column('at', sa.DateTime()),
)


def upgrade() -> None:
    """Create shop_exchanges and fill it from the audit trail; no existing table changes."""
    exchanges = op.create_table('shop_exchanges',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('order_id', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('size', sa.String(length=16), nullable=True),
    sa.Column('notes', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['shop_orders.order_id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_shop_exchanges_order_id', 'shop_exchanges', ['order_id'], unique=False)
    op.create_index('uq_shop_exchanges_open_order', 'shop_exchanges', ['order_id'], unique=True,
                    sqlite_where=OPEN, postgresql_where=OPEN)
    _adopt_audited_requests(exchanges)


def _adopt_audited_requests(exchanges: sa.Table) -> None:
    """Each order's latest exchange request from the audit trail, as an exchange 待处理
    (id: HH + Shanghai date + the audit row's id, so a rerun would give the same ids)."""
    rows = op.get_bind().execute(
        sa.select(changes.c.id, changes.c.order_id, changes.c.new, changes.c.at)
        .where(changes.c.field == 'exchange_request')
        .order_by(changes.c.id)
    ).all()
    latest = {row.order_id: row for row in rows}
    if not latest:
        return
    op.bulk_insert(exchanges, [
        {
            'id': f"HH{(row.at + SHANGHAI_OFFSET):%Y%m%d}{row.id:08d}",
            'order_id': row.order_id,
            'status': '待处理',
            'reason': (row.new or '换货')[:500],
            'size': None,
            'notes': None,
            'created_at': row.at,
            'updated_at': row.at,
        }
        for row in latest.values()
    ])


def downgrade() -> None:
    """Drop shop_exchanges (its rows with it; the audit rows of the requests stay)."""
    op.drop_index('uq_shop_exchanges_open_order', table_name='shop_exchanges')
    op.drop_index('ix_shop_exchanges_order_id', table_name='shop_exchanges')
    op.drop_table('shop_exchanges')
