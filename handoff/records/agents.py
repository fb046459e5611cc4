"""Agents, their sessions and the login counters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, case, func, select, update

from handoff import models as m
from handoff.db import Repository, reads, row_dict, threaded
from handoff.db import now as _now
from handoff.state import Mode


class Agents(Repository):
    """Agent accounts, presence and load."""

    @threaded
    def create(
        self, username: str, display_name: str, password_hash: str, role: str,
        skills: Iterable[str], max_chats: int = 5,
    ) -> dict[str, Any]:
        with self.engine.begin() as conn:
            res = conn.execute(
                m.agents.insert().values(
                    username=username,
                    display_name=display_name,
                    password_hash=password_hash,
                    role=role,
                    skills=",".join(skills),
                    presence="offline",
                    max_chats=max_chats,
                    last_assigned_at=0.0,
                    created_at=_now(),
                )
            )
            agent_id = res.inserted_primary_key[0]
        agent = self.get.sync(self, int(agent_id))
        assert agent is not None
        return agent

    @reads
    def get(self, agent_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            res = conn.execute(select(m.agents).where(m.agents.c.id == agent_id))
            return row_dict(res.first())

    @reads
    def by_username(self, username: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            res = conn.execute(select(m.agents).where(m.agents.c.username == username))
            return row_dict(res.first())

    @threaded
    def set_presence(self, agent_id: int, presence: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(m.agents).where(m.agents.c.id == agent_id).values(presence=presence)
            )

    @threaded
    def set_password(self, agent_id: int, password_hash: str) -> None:
        """New password; the agent's open sessions end, as whoever knew the old one may hold one."""
        with self.engine.begin() as conn:
            conn.execute(
                update(m.agents).where(m.agents.c.id == agent_id).values(password_hash=password_hash)
            )
            conn.execute(m.sessions.delete().where(m.sessions.c.agent_id == agent_id))

    @reads
    def loads(self) -> list[dict[str, Any]]:
        """Agents with their number of open chats."""
        load = (
            select(
                m.conversations.c.assigned_agent_id.label("aid"),
                func.count().label("load"),
            )
            .where(m.conversations.c.mode == Mode.AGENT.value)
            .group_by(m.conversations.c.assigned_agent_id)
            .subquery()
        )
        q = select(m.agents, func.coalesce(load.c.load, 0).label("load")).select_from(
            m.agents.outerjoin(load, load.c.aid == m.agents.c.id)
        ).order_by(m.agents.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]


class Sessions(Repository):
    """Console sessions (the token's hash, the CSRF token, expiry)."""

    @threaded
    def create(self, token_hash: str, agent_id: int, csrf: str, ttl: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                m.sessions.delete().where(m.sessions.c.expires_at < _now())
            )
            conn.execute(
                m.sessions.insert().values(
                    token_hash=token_hash, agent_id=agent_id, csrf_token=csrf,
                    expires_at=_now() + ttl,
                )
            )

    @reads
    def agent(self, token_hash: str) -> tuple[dict[str, Any], str] | None:
        """The agent and CSRF token of a live session."""
        q = (
            select(m.agents, m.sessions.c.csrf_token)
            .select_from(m.sessions.join(m.agents, m.agents.c.id == m.sessions.c.agent_id))
            .where(and_(m.sessions.c.token_hash == token_hash, m.sessions.c.expires_at > _now()))
        )
        with self.engine.connect() as conn:
            row = row_dict((conn.execute(q)).first())
        if row is None:
            return None
        csrf = row.pop("csrf_token")
        return row, csrf

    @threaded
    def delete(self, token_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(m.sessions.delete().where(m.sessions.c.token_hash == token_hash))


class Logins(Repository):
    """Login attempt counters and the addresses each agent logged in from."""

    @threaded
    def count_attempt(self, keys: list[str], window: float) -> list[int]:
        """Count one attempt against each key before the password is checked, in one
        transaction: concurrent attempts on any hub process each get their own number, so
        a burst cannot slip past a limit that is checked before failures are recorded."""
        now, t = _now(), m.login_counters
        expired = t.c.reset_at <= now
        out = []
        with self.engine.begin() as conn:
            for key in keys:
                conn.execute(self.upsert(
                    t, {"key": key, "hits": 1, "reset_at": now + window}, ["key"],
                    {"hits": case((expired, 1), else_=t.c.hits + 1),
                     "reset_at": case((expired, now + window), else_=t.c.reset_at)}))
                out.append(int(conn.execute(select(t.c.hits).where(t.c.key == key)).scalar_one()))
        return out

    @threaded
    def succeeded(self, undo: list[str], clear: list[str], agent_id: int, address: str) -> None:
        """A right password: its attempt no longer counts, the (username, address) counter
        starts again and the address becomes one this agent is known to log in from."""
        now, t = _now(), m.login_counters
        with self.engine.begin() as conn:
            if undo:
                conn.execute(update(t).where(and_(t.c.key.in_(undo), t.c.hits > 0)).values(hits=t.c.hits - 1))
            conn.execute(t.delete().where(t.c.key.in_(clear) | (t.c.reset_at <= now)))
            conn.execute(self.upsert(
                m.known_logins, {"agent_id": agent_id, "address": address[:64], "last_at": now},
                ["agent_id", "address"], {"last_at": now}))

    @reads
    def known_address(self, agent_id: int, address: str, since: float) -> bool:
        k = m.known_logins
        with self.engine.connect() as conn:
            return conn.execute(select(k.c.agent_id).where(and_(
                k.c.agent_id == agent_id, k.c.address == address[:64], k.c.last_at >= since))).first() is not None
