"""Tickets worked in the console (assignee, thread, contact outcome) and silent-agent alerts.

New tables only, plus nullable columns on ``hub_tickets``: existing tickets stay valid
(unassigned, not yet answered).

Revision ID: hub_0005
Revises: hub_0004

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'hub_0005'
down_revision: str | Sequence[str] | None = 'hub_0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('hub_tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('answered_at', sa.Float(), nullable=True))
        batch_op.create_index('ix_hub_tickets_assignee', ['assignee_id'], unique=False)
    op.create_table(
        'hub_ticket_events',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=True),
        sa.Column('text', sa.Text(), nullable=True),
        sa.Column('value', sa.String(length=64), nullable=True),
        sa.Column('delivery', sa.String(length=16), nullable=True),
        sa.Column('delivery_detail', sa.String(length=200), nullable=True),
        sa.Column('shown_in', sa.String(length=32), nullable=True),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['agent_id'], ['hub_agents.id']),
        sa.ForeignKeyConstraint(['ticket_id'], ['hub_tickets.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_hub_ticket_events_ticket', 'hub_ticket_events', ['ticket_id'], unique=False)
    op.create_index('ix_hub_ticket_events_delivery', 'hub_ticket_events', ['delivery'], unique=False)
    op.create_table(
        'hub_silence_alerts',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('conversation_id', sa.String(length=32), nullable=False),
        sa.Column('level', sa.String(length=12), nullable=False),
        sa.Column('since', sa.Float(), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=True),
        sa.Column('skill', sa.String(length=16), nullable=True),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('resolved_at', sa.Float(), nullable=True),
        sa.Column('resolution', sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(['conversation_id'], ['hub_conversations.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('conversation_id', 'level', 'since', name='uq_hub_silence_breach'),
    )
    op.create_index('ix_hub_silence_open', 'hub_silence_alerts', ['resolved_at'], unique=False)
    op.create_table(
        'hub_team_settings',
        sa.Column('skill', sa.String(length=16), nullable=False),
        sa.Column('silence_alerts', sa.Boolean(), nullable=False),
        sa.Column('agent_after', sa.Float(), nullable=True),
        sa.Column('supervisor_after', sa.Float(), nullable=True),
        sa.Column('updated_by', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('skill'),
    )


def downgrade() -> None:
    op.drop_table('hub_team_settings')
    op.drop_index('ix_hub_silence_open', table_name='hub_silence_alerts')
    op.drop_table('hub_silence_alerts')
    op.drop_index('ix_hub_ticket_events_delivery', table_name='hub_ticket_events')
    op.drop_index('ix_hub_ticket_events_ticket', table_name='hub_ticket_events')
    op.drop_table('hub_ticket_events')
    with op.batch_alter_table('hub_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_hub_tickets_assignee')
        batch_op.drop_column('answered_at')
        batch_op.drop_column('outcome')
        batch_op.drop_column('assignee_id')
