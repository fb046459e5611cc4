"""Hub tables (SQLAlchemy Core): the system of record for conversations and agents.

Every hub table is declared here and nowhere else, so the migrations in
``handoff/migrations`` can be checked against one metadata (tests/test_migrations.py).
Times are UNIX epoch seconds (float) so SQLite and PostgreSQL behave the same.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from handoff.state import Mode

metadata = MetaData()

conversations = Table(
    "hub_conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("token_hash", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("external_id", String(128)),  # e.g. a WeChat openid
    Column("customer_id", String(64)),
    Column("customer_name", String(128)),
    Column("mode", String(8), nullable=False, default=Mode.BOT.value),  # handoff.state.Mode
    Column("reason", String(32)),
    Column("priority", String(8)),
    Column("skill", String(16)),
    Column("summary", Text),
    Column("emotion", String(32)),
    Column("vip_level", Integer),
    Column("assigned_agent_id", Integer, ForeignKey("hub_agents.id")),
    Column("handoff_id", Integer),
    Column("queued_at", Float),
    Column("csat_pending", Boolean, nullable=False, default=False),
    Column("last_seq", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # the place last announced to the waiting customer: a queue broadcast skips unchanged ones
    Column("queue_position", Integer),
    Column("queue_eta", Integer),
    # when this customer last complained (an angry handoff) in the 7 days before this chat was
    # queued; the console flags the chat "近期投诉" (handoff/quality.py)
    Column("recent_complaint_at", Float),
)
Index("ix_hub_conv_mode", conversations.c.mode)
Index("ix_hub_conv_external", conversations.c.channel, conversations.c.external_id)
Index("ix_hub_conv_created", conversations.c.created_at)  # the quality figures read a range of days

messages = Table(
    "hub_messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("hub_conversations.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("author", String(8), nullable=False),  # customer|bot|agent|system
    Column("agent_id", Integer),
    Column("channel", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("title", Text),  # what the customer saw when the text is a button payload
    Column("buttons", Text),  # JSON list of {"title","payload"}
    Column("internal", Boolean, nullable=False, default=False),
    Column("client_msg_id", String(64)),
    Column("reply_to", String(32)),  # the customer message a bot/system reply answers
    Column("created_at", Float, nullable=False),
    UniqueConstraint("conversation_id", "seq", name="uq_hub_msg_seq"),
    UniqueConstraint("conversation_id", "client_msg_id", name="uq_hub_msg_client"),
)
Index("ix_hub_msg_reply", messages.c.reply_to)

bot_turns = Table(  # a customer message the bot still owes an answer to (retried if a hub died meanwhile)
    "hub_bot_turns",
    metadata,
    Column("message_id", String(32), primary_key=True),
    Column("conversation_id", String(32), nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("lease_until", Float, nullable=False),  # the hub working on it has until then
    Column("created_at", Float, nullable=False),
)  # a row is deleted when its turn is stored, so the table holds only turns still owed
Index("ix_hub_bot_turns_lease", bot_turns.c.lease_until)

agents = Table(
    "hub_agents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(64), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False, default="agent"),  # agent|supervisor
    Column("skills", String(256), nullable=False, default="general"),  # comma separated
    Column("presence", String(8), nullable=False, default="offline"),
    Column("max_chats", Integer, nullable=False, default=5),
    Column("last_assigned_at", Float, nullable=False, default=0.0),
    Column("created_at", Float, nullable=False),
)

sessions = Table(
    "hub_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("agent_id", Integer, ForeignKey("hub_agents.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),
)

handoffs = Table(
    "hub_handoffs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("hub_conversations.id"), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("priority", String(8), nullable=False),
    Column("skill", String(16), nullable=False),
    Column("queued_at", Float, nullable=False),
    Column("assigned_at", Float),
    Column("agent_id", Integer),
    Column("first_response_at", Float),
    Column("closed_at", Float),
    # the state machine's cause of the move that ended it (close, return_to_bot, ticket, …):
    # the quality figures tell an agent's close from a customer who left
    Column("end_cause", String(16)),
)
Index("ix_hub_handoffs_queued", handoffs.c.queued_at)

tickets = Table(
    "hub_tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("hub_conversations.id")),
    Column("customer_id", String(64)),
    Column("contact", String(128)),
    Column("text", Text, nullable=False),
    Column("transcript", Text, nullable=False),  # JSON list of messages
    Column("status", String(8), nullable=False, default="open"),
    Column("agent_id", Integer),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    # the agent working on it (NULL: unassigned); set by a supervisor, or an agent taking it
    Column("assignee_id", Integer),
    # contact outcome: NULL until an agent answers; answered | undelivered (WeChat window closed)
    Column("outcome", String(16)),
    Column("answered_at", Float),
)
Index("ix_hub_tickets_assignee", tickets.c.assignee_id)

ticket_events = Table(  # a ticket's thread: replies, notes, status/assignment/due changes (handoff/ticket_desk.py)
    "hub_ticket_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", Integer, ForeignKey("hub_tickets.id"), nullable=False),
    Column("kind", String(12), nullable=False),  # reply | note | status | assign | due
    Column("agent_id", Integer, ForeignKey("hub_agents.id")),
    Column("text", Text),
    Column("value", String(64)),  # the new status, assignee id or due time of a change
    # replies: pending (web, shown on the customer's next visit) | shown | sent (WeChat) |
    # window_closed | failed; NULL for other kinds
    Column("delivery", String(16)),
    Column("delivery_detail", String(200)),
    Column("shown_in", String(32)),  # the conversation the web reply was shown in
    Column("created_at", Float, nullable=False),
)
Index("ix_hub_ticket_events_ticket", ticket_events.c.ticket_id)
Index("ix_hub_ticket_events_delivery", ticket_events.c.delivery)

silence_alerts = Table(  # a customer left waiting on an agent's reply (handoff/silence.py)
    "hub_silence_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("hub_conversations.id"), nullable=False),
    Column("level", String(12), nullable=False),  # agent | supervisor
    Column("since", Float, nullable=False),  # when the customer started waiting (the breach's identity)
    Column("agent_id", Integer),  # the assigned agent who stayed silent
    Column("skill", String(16)),
    Column("created_at", Float, nullable=False),
    Column("resolved_at", Float),
    Column("resolution", String(16)),  # ended (answered, closed, transferred …) | taken_back
    # one alert per breach and level, whichever hub process sees it first
    UniqueConstraint("conversation_id", "level", "since", name="uq_hub_silence_breach"),
)
Index("ix_hub_silence_open", silence_alerts.c.resolved_at)

team_settings = Table(  # per skill group: the silent-agent limits (NULL: the hub's defaults)
    "hub_team_settings",
    metadata,
    Column("skill", String(16), primary_key=True),
    Column("silence_alerts", Boolean, nullable=False, default=True),
    Column("agent_after", Float),
    Column("supervisor_after", Float),
    Column("updated_by", Integer),
    Column("updated_at", Float, nullable=False),
)

canned = Table(
    "hub_canned",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("updated_by", Integer),
    Column("updated_at", Float, nullable=False),
)

csat = Table(
    "hub_csat",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("hub_conversations.id"), nullable=False),
    Column("handoff_id", Integer),
    Column("agent_id", Integer),
    Column("score", Integer, nullable=False),
    Column("comment", Text),
    Column("created_at", Float, nullable=False),
    Column("nps", Integer),  # the optional 0–10 "推荐意愿" answer given with the stars
)

login_counters = Table(
    "hub_login_counters",
    metadata,
    Column("key", String(64), primary_key=True),  # sha256 of the counter's name (username, address)
    Column("hits", Integer, nullable=False),
    Column("reset_at", Float, nullable=False),
)

known_logins = Table(
    "hub_known_logins",
    metadata,
    Column("agent_id", Integer, ForeignKey("hub_agents.id"), primary_key=True),
    Column("address", String(64), primary_key=True),
    Column("last_at", Float, nullable=False),
)

agent_liveness = Table(  # console heartbeats, handoff/presence.py
    "hub_agent_liveness",
    metadata,
    Column("agent_id", Integer, ForeignKey("hub_agents.id"), primary_key=True),
    Column("seen_at", Float, nullable=False),  # last heartbeat of a live console (or its close)
    Column("auto_away_from", String(8)),  # presence before the hub set the agent away; NULL: not auto
)

wechat_inbound = Table(  # WeChat push dedup, handoff/wechat/inbox.py
    "hub_wechat_inbound",
    metadata,
    # MsgId, or FromUserName + CreateTime + event: what WeChat repeats on a retry
    Column("dedup_key", String(160), primary_key=True),
    Column("openid", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("conversation_id", String(32)),
    # processing → done (answered passively or nothing to say) | late (answer goes by API)
    Column("state", String(12), nullable=False),
    Column("reply", Text),  # the passive reply, repeated verbatim to a retry
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("ix_hub_wechat_inbound_created", wechat_inbound.c.created_at)

wechat_users = Table(  # openid -> its one open conversation, handoff/wechat/inbox.py
    "hub_wechat_users",
    metadata,
    Column("openid", String(64), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("hub_conversations.id"), nullable=False),
    Column("updated_at", Float, nullable=False),
)

# -- history and quality inspection (handoff/history.py, handoff/records/history.py) ----------

conversation_refs = Table(  # what a past conversation is found by, filled as its messages are stored
    "hub_conversation_refs",
    metadata,
    Column("kind", String(16), primary_key=True),  # order | phone_tail | agent
    Column("value", String(32), primary_key=True),  # a 13-digit order number, 4 digits, an agent id
    Column("conversation_id", String(32), ForeignKey("hub_conversations.id"), primary_key=True),
    Column("created_at", Float, nullable=False),
)

qa_scores = Table(  # 质检: one score per conversation and supervisor, editable
    "hub_qa_scores",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("hub_conversations.id"), nullable=False),
    Column("supervisor_id", Integer, ForeignKey("hub_agents.id"), nullable=False),
    Column("agent_id", Integer, ForeignKey("hub_agents.id"), nullable=False),  # the agent scored
    Column("handoff_id", Integer),  # the human part scored (the last closed one when scoring)
    Column("served_at", Float, nullable=False),  # when that part closed: averages go by this date
    Column("greeting", Integer, nullable=False),  # 问候与规范用语 1–5
    Column("correct", Integer, nullable=False),  # 回答正确 1–5
    Column("resolved", Integer, nullable=False),  # 问题解决 1–5
    Column("attitude", Integer, nullable=False),  # 服务态度 1–5
    Column("comment", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("conversation_id", "supervisor_id", name="uq_hub_qa_conv_supervisor"),
)
Index("ix_hub_qa_agent_served", qa_scores.c.agent_id, qa_scores.c.served_at)

# what the history search filters by and sorts on, so a search reads index ranges, not tables
Index("ix_hub_conv_updated", conversations.c.updated_at)
Index("ix_hub_conv_customer", conversations.c.customer_id)
Index("ix_hub_conv_external_id", conversations.c.external_id)
Index("ix_hub_handoffs_conv", handoffs.c.conversation_id)
Index("ix_hub_handoffs_agent", handoffs.c.agent_id)
Index("ix_hub_csat_conv", csat.c.conversation_id)
Index("ix_hub_tickets_conv", tickets.c.conversation_id)
Index("ix_hub_tickets_customer", tickets.c.customer_id)

quality_targets = Table(  # supervisor-set targets of the quality figures; absent keys keep the defaults
    "hub_quality_targets",
    metadata,
    Column("key", String(40), primary_key=True),  # handoff.quality.TARGETS
    Column("value", Float),  # NULL: this figure has no target
    Column("updated_by", Integer),
    Column("updated_at", Float, nullable=False),
)

review_items = Table(  # customer messages the bot did not understand, handoff/review.py
    "hub_review_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(32), nullable=False, unique=True),  # one record per customer message
    Column("conversation_id", String(32), nullable=False),
    Column("text", Text, nullable=False),  # as the customer wrote it; masked only when written out
    Column("kind", String(16), nullable=False),  # fallback|out_of_scope|low_confidence|not_understood
    Column("intent", String(64)),  # what the model guessed, when a parse was made
    Column("confidence", Float),
    Column("created_at", Float, nullable=False),
    # set once by a supervisor: an intent, "faq/<key>", or "ignore" (nothing is written for it)
    Column("label", String(80)),
    Column("labelled_by", Integer),
    Column("labelled_at", Float),
)
Index("ix_hub_review_open", review_items.c.label, review_items.c.created_at)

review_answers = Table(  # answers of FAQ keys proposed on the review page (written with reviewed.yml)
    "hub_review_answers",
    metadata,
    Column("faq_key", String(64), primary_key=True),  # without the "faq/" prefix
    Column("answer", Text, nullable=False),
    Column("created_by", Integer),
    Column("created_at", Float, nullable=False),
)

# -- knowledge base: supervisors' edits of the bot's answers and the retrains that publish them --

kb_versions = Table(  # one row per edit of a bot response (FAQ answer or fixed phrase), handoff/knowledge.py
    "hub_kb_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(128), nullable=False),  # the response name: utter_faq/shipping_fee, utter_greet
    Column("kind", String(16), nullable=False),  # faq | phrase
    # the version this edit was made on; 0: the text in the bot's data files. Unique per key, so
    # two supervisors saving over the same version cannot both win
    Column("parent_id", Integer, nullable=False),
    Column("before_text", Text, nullable=False),
    Column("after_text", Text, nullable=False),
    Column("action", String(16), nullable=False),  # edit | rollback
    Column("rollback_of", Integer),  # the version whose edit a rollback undoes
    Column("agent_id", Integer, ForeignKey("hub_agents.id")),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("key", "parent_id", name="uq_hub_kb_versions_parent"),
)
Index("ix_hub_kb_versions_key", kb_versions.c.key, kb_versions.c.id)

kb_trainings = Table(  # one row per retrain run: its stage and log tail are what the console shows
    "hub_kb_trainings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(12), nullable=False),  # running | done | failed
    Column("stage", String(12), nullable=False),  # writing | training | gating | loading | done
    Column("up_to_version", Integer, nullable=False),  # every version up to this one is in the model
    Column("keys", Text, nullable=False),  # JSON list of the responses that differ from the live model
    Column("agent_id", Integer),  # who asked for it (NULL: started by an edit's save)
    Column("holder", String(64), nullable=False),  # the hub process running it (host:pid)
    Column("started_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),  # heartbeat while running
    Column("finished_at", Float),
    Column("train_seconds", Float),
    Column("gate_seconds", Float),
    Column("model", String(256)),
    Column("error", Text),
    Column("gate", Text),  # JSON: which conversations ran, which failed and why
    Column("log_tail", Text),
)
Index("ix_hub_kb_trainings_state", kb_trainings.c.state)

kb_lock = Table(  # one retrain at a time across hub processes: a lease taken by a conditional UPDATE
    "hub_kb_lock",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(64)),
    Column("lease_until", Float, nullable=False),
)
