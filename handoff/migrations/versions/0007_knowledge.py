"""Knowledge base: versioned edits of the bot's answers, the retrains that publish them, and
the lease that keeps one retrain at a time across hub processes.

Revision ID: hub_0007
Revises: hub_0006

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'hub_0007'
down_revision: str | Sequence[str] | None = 'hub_0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Three new tables; nothing existing changes."""
    op.create_table('hub_kb_versions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=False),
    sa.Column('before_text', sa.Text(), nullable=False),
    sa.Column('after_text', sa.Text(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('rollback_of', sa.Integer(), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['hub_agents.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', 'parent_id', name='uq_hub_kb_versions_parent')
    )
    op.create_index('ix_hub_kb_versions_key', 'hub_kb_versions', ['key', 'id'], unique=False)
    op.create_table('hub_kb_trainings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('stage', sa.String(length=12), nullable=False),
    sa.Column('up_to_version', sa.Integer(), nullable=False),
    sa.Column('keys', sa.Text(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('holder', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('finished_at', sa.Float(), nullable=True),
    sa.Column('train_seconds', sa.Float(), nullable=True),
    sa.Column('gate_seconds', sa.Float(), nullable=True),
    sa.Column('model', sa.String(length=256), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('gate', sa.Text(), nullable=True),
    sa.Column('log_tail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_hub_kb_trainings_state', 'hub_kb_trainings', ['state'], unique=False)
    op.create_table('hub_kb_lock',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=True),
    sa.Column('lease_until', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('hub_kb_lock')
    op.drop_index('ix_hub_kb_trainings_state', table_name='hub_kb_trainings')
    op.drop_table('hub_kb_trainings')
    op.drop_index('ix_hub_kb_versions_key', table_name='hub_kb_versions')
    op.drop_table('hub_kb_versions')
