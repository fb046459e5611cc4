"""Baseline: the shop schema as `create_all` made it before migrations existed.

Written with `ensure_table` / `ensure_index` so that it also adopts a database that
`create_all` made: what exists stays as it is, with its rows; what is missing is created.

Revision ID: shop_0001
Revises: (none)

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.migrate import ensure_index, ensure_table

# NUMERIC(12,2), integer cents on SQLite: bot.orders.models.Money as it stores
MONEY = sa.Numeric(12, 2).with_variant(sa.Integer(), "sqlite")

# revision identifiers, used by Alembic.
revision: str = 'shop_0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create what is missing; adopt what `create_all` made."""
    ensure_table('shop_complaints',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=False),
    sa.Column('order_id', sa.String(length=20), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    ensure_index('ix_shop_complaints_conversation_id', 'shop_complaints', ['conversation_id'], unique=False)
    ensure_table('shop_customers',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('vip_level', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    ensure_table('shop_promotions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('rules', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    ensure_table('shop_orders',
    sa.Column('order_id', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('order_type', sa.String(length=8), nullable=False),
    sa.Column('total', MONEY, nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('paid_at', sa.DateTime(), nullable=True),
    sa.Column('shipped_at', sa.DateTime(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('receiver_name', sa.String(length=32), nullable=False),
    sa.Column('receiver_phone', sa.String(length=20), nullable=False),
    sa.Column('carrier', sa.String(length=16), nullable=True),
    sa.Column('tracking_no', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['shop_customers.id'], ),
    sa.PrimaryKeyConstraint('order_id')
    )
    ensure_index('ix_shop_orders_customer_created', 'shop_orders', ['customer_id', 'created_at'], unique=False)
    ensure_table('shop_invoices',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('order_id', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('tax_id', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['shop_orders.order_id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    ensure_index('ix_shop_invoices_order_id', 'shop_invoices', ['order_id'], unique=False)
    ensure_table('shop_order_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.String(length=20), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('old', sa.Text(), nullable=True),
    sa.Column('new', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['shop_orders.order_id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    ensure_index('ix_shop_order_changes_order_id', 'shop_order_changes', ['order_id'], unique=False)
    ensure_table('shop_order_items',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('sku', sa.String(length=32), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('price', MONEY, nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['shop_orders.order_id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    ensure_index('ix_shop_order_items_order_id', 'shop_order_items', ['order_id'], unique=False)
    ensure_table('shop_refunds',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('order_id', sa.String(length=20), nullable=False),
    sa.Column('amount', MONEY, nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expected_by', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['shop_orders.order_id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    ensure_index('ix_shop_refunds_order_id', 'shop_refunds', ['order_id'], unique=False)
    ensure_table('shop_tracking_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.String(length=20), nullable=False),
    sa.Column('time', sa.DateTime(), nullable=False),
    sa.Column('location', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['shop_orders.order_id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    ensure_index('ix_shop_tracking_order_time', 'shop_tracking_events', ['order_id', 'time'], unique=False)


def downgrade() -> None:
    """Drop every table of this database."""
    with op.batch_alter_table('shop_tracking_events', schema=None) as batch_op:
        batch_op.drop_index('ix_shop_tracking_order_time')

    op.drop_table('shop_tracking_events')
    with op.batch_alter_table('shop_refunds', schema=None) as batch_op:
        batch_op.drop_index('ix_shop_refunds_order_id')

    op.drop_table('shop_refunds')
    with op.batch_alter_table('shop_order_items', schema=None) as batch_op:
        batch_op.drop_index('ix_shop_order_items_order_id')

    op.drop_table('shop_order_items')
    with op.batch_alter_table('shop_order_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_shop_order_changes_order_id')

    op.drop_table('shop_order_changes')
    with op.batch_alter_table('shop_invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_shop_invoices_order_id')

    op.drop_table('shop_invoices')
    with op.batch_alter_table('shop_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_shop_orders_customer_created')

    op.drop_table('shop_orders')
    op.drop_table('shop_promotions')
    op.drop_table('shop_customers')
    with op.batch_alter_table('shop_complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_shop_complaints_conversation_id')

    op.drop_table('shop_complaints')
