"""Baseline: the hub schema as `create_all` made it before migrations existed.

Written with `ensure_table` / `ensure_index` so that it also adopts a database that
`create_all` made: what exists stays as it is, with its rows; what is missing is created.

Revision ID: hub_0001
Revises: (none)

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.migrate import ensure_index, ensure_table

# revision identifiers, used by Alembic.
revision: str = 'hub_0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create what is missing; adopt what `create_all` made."""
    ensure_table('hub_agents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('skills', sa.String(length=256), nullable=False),
    sa.Column('presence', sa.String(length=8), nullable=False),
    sa.Column('max_chats', sa.Integer(), nullable=False),
    sa.Column('last_assigned_at', sa.Float(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    ensure_table('hub_bot_turns',
    sa.Column('message_id', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.Float(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('message_id')
    )
    ensure_index('ix_hub_bot_turns_lease', 'hub_bot_turns', ['lease_until'], unique=False)
    ensure_table('hub_canned',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('title', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    ensure_table('hub_login_counters',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('reset_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    ensure_table('hub_wechat_inbound',
    sa.Column('dedup_key', sa.String(length=160), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('dedup_key')
    )
    ensure_index('ix_hub_wechat_inbound_created', 'hub_wechat_inbound', ['created_at'], unique=False)
    ensure_table('hub_agent_liveness',
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('seen_at', sa.Float(), nullable=False),
    sa.Column('auto_away_from', sa.String(length=8), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['hub_agents.id'], ),
    sa.PrimaryKeyConstraint('agent_id')
    )
    ensure_table('hub_conversations',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=True),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('customer_name', sa.String(length=128), nullable=True),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('priority', sa.String(length=8), nullable=True),
    sa.Column('skill', sa.String(length=16), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('emotion', sa.String(length=32), nullable=True),
    sa.Column('vip_level', sa.Integer(), nullable=True),
    sa.Column('assigned_agent_id', sa.Integer(), nullable=True),
    sa.Column('handoff_id', sa.Integer(), nullable=True),
    sa.Column('queued_at', sa.Float(), nullable=True),
    sa.Column('csat_pending', sa.Boolean(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['assigned_agent_id'], ['hub_agents.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    ensure_index('ix_hub_conv_external', 'hub_conversations', ['channel', 'external_id'], unique=False)
    ensure_index('ix_hub_conv_mode', 'hub_conversations', ['mode'], unique=False)
    ensure_table('hub_known_logins',
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('last_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['hub_agents.id'], ),
    sa.PrimaryKeyConstraint('agent_id', 'address')
    )
    ensure_table('hub_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['hub_agents.id'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )
    ensure_table('hub_csat',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('handoff_id', sa.Integer(), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['hub_conversations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    ensure_table('hub_handoffs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('skill', sa.String(length=16), nullable=False),
    sa.Column('queued_at', sa.Float(), nullable=False),
    sa.Column('assigned_at', sa.Float(), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('first_response_at', sa.Float(), nullable=True),
    sa.Column('closed_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['hub_conversations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    ensure_index('ix_hub_handoffs_queued', 'hub_handoffs', ['queued_at'], unique=False)
    ensure_table('hub_messages',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('author', sa.String(length=8), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('buttons', sa.Text(), nullable=True),
    sa.Column('internal', sa.Boolean(), nullable=False),
    sa.Column('client_msg_id', sa.String(length=64), nullable=True),
    sa.Column('reply_to', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['hub_conversations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_id', 'client_msg_id', name='uq_hub_msg_client'),
    sa.UniqueConstraint('conversation_id', 'seq', name='uq_hub_msg_seq')
    )
    ensure_index('ix_hub_msg_reply', 'hub_messages', ['reply_to'], unique=False)
    ensure_table('hub_tickets',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=True),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('contact', sa.String(length=128), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('transcript', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('due_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['hub_conversations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    ensure_table('hub_wechat_users',
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['hub_conversations.id'], ),
    sa.PrimaryKeyConstraint('openid')
    )


def downgrade() -> None:
    """Drop every table of this database."""
    op.drop_table('hub_wechat_users')
    op.drop_table('hub_tickets')
    with op.batch_alter_table('hub_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_hub_msg_reply')

    op.drop_table('hub_messages')
    with op.batch_alter_table('hub_handoffs', schema=None) as batch_op:
        batch_op.drop_index('ix_hub_handoffs_queued')

    op.drop_table('hub_handoffs')
    op.drop_table('hub_csat')
    op.drop_table('hub_sessions')
    op.drop_table('hub_known_logins')
    with op.batch_alter_table('hub_conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_hub_conv_mode')
        batch_op.drop_index('ix_hub_conv_external')

    op.drop_table('hub_conversations')
    op.drop_table('hub_agent_liveness')
    with op.batch_alter_table('hub_wechat_inbound', schema=None) as batch_op:
        batch_op.drop_index('ix_hub_wechat_inbound_created')

    op.drop_table('hub_wechat_inbound')
    op.drop_table('hub_login_counters')
    op.drop_table('hub_canned')
    with op.batch_alter_table('hub_bot_turns', schema=None) as batch_op:
        batch_op.drop_index('ix_hub_bot_turns_lease')

    op.drop_table('hub_bot_turns')
    op.drop_table('hub_agents')
