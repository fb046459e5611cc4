"""The hub's store: one database (``handoff.db``) and a repository per kind of record.

    store.conversations   conversations and the state machine's moves   records/conversations.py
    store.messages        transcripts and the bot turns still owed       records/conversations.py
    store.queue           who waits, places announced, handoff records  records/queue.py
    store.agents          accounts, presence, load                       records/agents.py
    store.sessions        console sessions                               records/agents.py
    store.logins          login counters, known addresses                records/agents.py
    store.tickets         leave-a-message tickets                        records/tickets.py
    store.canned          canned replies                                 records/tickets.py
    store.ratings         CSAT ratings                                   records/csat.py
    store.liveness        console heartbeats (presence)                  records/presence.py
    store.history         past conversations: search, transcripts        records/history.py
    store.qa              quality inspection (质检) scores                records/qa.py
    store.ticket_threads  ticket work: assignee, thread, web replies     records/ticket_threads.py
    store.silence         silent-agent alerts, per-team limits           records/silence.py
    store.quality         quality figures' events and targets            records/quality.py
    store.review          messages the bot did not understand, labels    records/review.py
    store.knowledge       bot answer versions, retrains, retrain lease   records/knowledge.py

The WeChat inbox (push dedup, openid → conversation) is ``handoff.wechat.inbox.Inbox`` on the same
database. All tables are declared in ``handoff.models``; the schema comes from the migrations.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from handoff.db import Database, make_engine, sync_url
from handoff.records.agents import Agents, Logins, Sessions
from handoff.records.conversations import AlreadyWaiting, Conversations, Duplicate, Messages
from handoff.records.csat import Ratings
from handoff.records.history import History
from handoff.records.knowledge import KnowledgeRecords
from handoff.records.presence import Liveness
from handoff.records.qa import QaScores
from handoff.records.quality import QualityRecords
from handoff.records.queue import QueueRecords
from handoff.records.review import ReviewRecords
from handoff.records.silence import SilenceRecords
from handoff.records.ticket_threads import TicketThreads
from handoff.records.tickets import Canned, Tickets

__all__ = ["AlreadyWaiting", "Duplicate", "Store", "sync_url"]


class Store(Database):
    def __init__(self, engine: Engine, workers: int = 1) -> None:
        super().__init__(engine, workers)
        self.conversations = Conversations(self)
        self.messages = Messages(self)
        self.queue = QueueRecords(self)
        self.agents = Agents(self)
        self.sessions = Sessions(self)
        self.logins = Logins(self)
        self.tickets = Tickets(self)
        self.canned = Canned(self)
        self.ratings = Ratings(self)
        self.liveness = Liveness(self)
        self.history = History(self)
        self.qa = QaScores(self)
        self.ticket_threads = TicketThreads(self)
        self.silence = SilenceRecords(self)
        self.quality = QualityRecords(self)
        self.review = ReviewRecords(self)
        self.knowledge = KnowledgeRecords(self)

    @classmethod
    def from_url(cls, url: str, busy_timeout: float = 2.0) -> Store:
        engine, workers = make_engine(url, busy_timeout)
        return cls(engine, workers)
