"""The review page's records: messages the bot did not understand and proposed FAQ answers.

Revision ID: hub_0006
Revises: hub_0003

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'hub_0006'
down_revision: str | Sequence[str] | None = 'hub_0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Two new tables; nothing existing changes."""
    op.create_table(
        'hub_review_items',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('message_id', sa.String(length=32), nullable=False),
        sa.Column('conversation_id', sa.String(length=32), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('intent', sa.String(length=64), nullable=True),
        sa.Column('confidence', sa.Float(), nullable=True),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('label', sa.String(length=80), nullable=True),
        sa.Column('labelled_by', sa.Integer(), nullable=True),
        sa.Column('labelled_at', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('message_id'),
    )
    op.create_index('ix_hub_review_open', 'hub_review_items', ['label', 'created_at'], unique=False)
    op.create_table(
        'hub_review_answers',
        sa.Column('faq_key', sa.String(length=64), nullable=False),
        sa.Column('answer', sa.Text(), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('faq_key'),
    )


def downgrade() -> None:
    op.drop_table('hub_review_answers')
    op.drop_index('ix_hub_review_open', table_name='hub_review_items')
    op.drop_table('hub_review_items')
