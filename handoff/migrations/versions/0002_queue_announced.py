"""The queue place last announced to each waiting customer.

A queue broadcast sends a customer their place only when it differs from the one announced
before; every hub process reads and writes it here, so they agree on what was sent.

Revision ID: hub_0002
Revises: hub_0001

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'hub_0002'
down_revision: str | Sequence[str] | None = 'hub_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Two nullable columns: existing rows (nothing announced yet) stay valid."""
    with op.batch_alter_table('hub_conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue_position', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('queue_eta', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('hub_conversations', schema=None) as batch_op:
        batch_op.drop_column('queue_eta')
        batch_op.drop_column('queue_position')
