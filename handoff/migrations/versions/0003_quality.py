"""Quality figures: how each handoff ended, the NPS answer, recent complaints, targets, and an
index on when conversations started (the figures read ranges of days).

Revision ID: hub_0003
Revises: hub_0005

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'hub_0003'
down_revision: str | Sequence[str] | None = 'hub_0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nullable columns and a new table: existing rows stay valid (old handoffs have no
    end cause; the figures read an assigned, closed one as ended by its agent)."""
    with op.batch_alter_table('hub_handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('end_cause', sa.String(length=16), nullable=True))
    with op.batch_alter_table('hub_csat', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nps', sa.Integer(), nullable=True))
    with op.batch_alter_table('hub_conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recent_complaint_at', sa.Float(), nullable=True))
    op.create_index('ix_hub_conv_created', 'hub_conversations', ['created_at'], unique=False)
    op.create_table('hub_quality_targets',
                    sa.Column('key', sa.String(length=40), nullable=False),
                    sa.Column('value', sa.Float(), nullable=True),
                    sa.Column('updated_by', sa.Integer(), nullable=True),
                    sa.Column('updated_at', sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint('key'))


def downgrade() -> None:
    op.drop_table('hub_quality_targets')
    op.drop_index('ix_hub_conv_created', table_name='hub_conversations')
    with op.batch_alter_table('hub_conversations', schema=None) as batch_op:
        batch_op.drop_column('recent_complaint_at')
    with op.batch_alter_table('hub_csat', schema=None) as batch_op:
        batch_op.drop_column('nps')
    with op.batch_alter_table('hub_handoffs', schema=None) as batch_op:
        batch_op.drop_column('end_cause')
