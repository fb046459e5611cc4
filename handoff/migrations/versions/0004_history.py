"""History and quality inspection: what past conversations are found by, 质检 scores, and the
indexes the history search reads.

``hub_conversation_refs`` is filled from the messages already stored (order numbers, phone
tails, agents), in pages, so conversations from before this revision are found too.

Revision ID: hub_0004
Revises: hub_0002

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'hub_0004'
down_revision: str | Sequence[str] | None = 'hub_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ('ix_hub_conv_updated', 'hub_conversations', ['updated_at']),
    ('ix_hub_conv_customer', 'hub_conversations', ['customer_id']),
    ('ix_hub_conv_external_id', 'hub_conversations', ['external_id']),
    ('ix_hub_handoffs_conv', 'hub_handoffs', ['conversation_id']),
    ('ix_hub_handoffs_agent', 'hub_handoffs', ['agent_id']),
    ('ix_hub_csat_conv', 'hub_csat', ['conversation_id']),
    ('ix_hub_tickets_conv', 'hub_tickets', ['conversation_id']),
    ('ix_hub_tickets_customer', 'hub_tickets', ['customer_id']),
)
PAGE = 2000


def upgrade() -> None:
    op.create_table('hub_conversation_refs',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['hub_conversations.id'], ),
    sa.PrimaryKeyConstraint('kind', 'value', 'conversation_id')
    )
    op.create_table('hub_qa_scores',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('supervisor_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('handoff_id', sa.Integer(), nullable=True),
    sa.Column('served_at', sa.Float(), nullable=False),
    sa.Column('greeting', sa.Integer(), nullable=False),
    sa.Column('correct', sa.Integer(), nullable=False),
    sa.Column('resolved', sa.Integer(), nullable=False),
    sa.Column('attitude', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['hub_agents.id'], ),
    sa.ForeignKeyConstraint(['conversation_id'], ['hub_conversations.id'], ),
    sa.ForeignKeyConstraint(['supervisor_id'], ['hub_agents.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('conversation_id', 'supervisor_id', name='uq_hub_qa_conv_supervisor')
    )
    op.create_index('ix_hub_qa_agent_served', 'hub_qa_scores', ['agent_id', 'served_at'], unique=False)
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    _fill_refs()


def _fill_refs() -> None:
    """Refs of the messages stored before this revision, a page at a time (keyset on id)."""
    from handoff.records.history import insert_refs, ref_rows

    conn = op.get_bind()
    msgs = sa.table('hub_messages', sa.column('id'), sa.column('conversation_id'), sa.column('author'),
                    sa.column('agent_id'), sa.column('text'), sa.column('title'), sa.column('created_at'))
    last = ''
    while True:
        page = [dict(r._mapping) for r in conn.execute(
            sa.select(msgs).where(msgs.c.id > last).order_by(msgs.c.id).limit(PAGE))]
        if not page:
            return
        insert_refs(conn, ref_rows(page))
        last = page[-1]['id']


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index('ix_hub_qa_agent_served', table_name='hub_qa_scores')
    op.drop_table('hub_qa_scores')
    op.drop_table('hub_conversation_refs')
