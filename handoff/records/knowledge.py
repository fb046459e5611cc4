"""Knowledge-base records: the versions of each edited bot response, the retrain runs and the
lease that lets only one hub process retrain at a time."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from handoff import models as m
from handoff.db import Repository, reads, row_dict, threaded
from handoff.db import now as _now

LOCK_NAME = "retrain"


class Stale(Exception):
    """The version an edit was made on is no longer the newest one of its response."""


class KnowledgeRecords(Repository):
    """Versions are append-only: an edit or a rollback adds one, nothing is ever rewritten."""

    # -- versions ------------------------------------------------------------------------

    @threaded
    def add_version(self, key: str, kind: str, parent_id: int, before: str, after: str, action: str,
                    agent_id: int | None, rollback_of: int | None = None) -> dict[str, Any]:
        """A new newest version of ``key``, made on ``parent_id`` (0: the data file's text).

        ``Stale`` when the newest version is not ``parent_id``: someone saved in between. The
        unique (key, parent_id) settles two concurrent saves on any database."""
        v = m.kb_versions
        row = {"key": key, "kind": kind, "parent_id": parent_id, "before_text": before, "after_text": after,
               "action": action, "rollback_of": rollback_of, "agent_id": agent_id, "created_at": _now()}
        try:
            with self.engine.begin() as conn:
                newest = conn.execute(select(func.max(v.c.id)).where(v.c.key == key)).scalar_one_or_none() or 0
                if newest != parent_id:
                    raise Stale(newest)
                new_id = int(conn.execute(v.insert().values(**row)).inserted_primary_key[0])
        except IntegrityError:
            raise Stale(parent_id) from None
        return {"id": new_id, **row}

    @reads
    def version(self, version_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return row_dict(conn.execute(select(m.kb_versions).where(m.kb_versions.c.id == version_id)).first())

    @reads
    def history(self, key: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Newest first, with the editor's display name."""
        v, a = m.kb_versions, m.agents
        q = (select(v, a.c.display_name.label("agent_name"))
             .select_from(v.outerjoin(a, a.c.id == v.c.agent_id)).order_by(v.c.id.desc()).limit(limit))
        if key is not None:
            q = q.where(v.c.key == key)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    @reads
    def newest_per_key(self, up_to: int | None = None) -> dict[str, dict[str, Any]]:
        """key → its newest version (with an id ≤ ``up_to`` when given)."""
        v = m.kb_versions
        inner = select(func.max(v.c.id).label("id")).group_by(v.c.key)
        if up_to is not None:
            inner = inner.where(v.c.id <= up_to)
        sub = inner.subquery()
        with self.engine.connect() as conn:
            rows = conn.execute(select(v).join(sub, sub.c.id == v.c.id))
            return {r.key: dict(r._mapping) for r in rows}

    @reads
    def first_per_key(self) -> dict[str, str]:
        """key → the data file's text before its first edit (what a never-published key goes back to)."""
        v = m.kb_versions
        with self.engine.connect() as conn:
            rows = conn.execute(select(v.c.key, v.c.before_text).where(v.c.parent_id == 0))
            return {key: text for key, text in rows}

    @reads
    def newest_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(m.kb_versions.c.id))).scalar_one_or_none() or 0)

    # -- trainings -----------------------------------------------------------------------

    @threaded
    def start_training(self, up_to: int, keys: list[str], agent_id: int | None, holder: str) -> int:
        now = _now()
        with self.engine.begin() as conn:
            res = conn.execute(m.kb_trainings.insert().values(
                state="running", stage="writing", up_to_version=up_to, keys=json.dumps(keys, ensure_ascii=False),
                agent_id=agent_id, holder=holder, started_at=now, updated_at=now))
            return int(res.inserted_primary_key[0])

    @threaded
    def update_training(self, training_id: int, **values: Any) -> None:
        if "gate" in values and not isinstance(values["gate"], (str, type(None))):
            values["gate"] = json.dumps(values["gate"], ensure_ascii=False)
        with self.engine.begin() as conn:
            conn.execute(update(m.kb_trainings).where(m.kb_trainings.c.id == training_id)
                         .values(updated_at=_now(), **values))

    @threaded
    def abandon_running(self, stale_before: float) -> int:
        """Runs whose hub stopped beating (it died) are marked failed; the files are rewritten
        from the database by the next run, so nothing half-written is ever served."""
        t = m.kb_trainings
        with self.engine.begin() as conn:
            res = conn.execute(update(t).where(and_(t.c.state == "running", t.c.updated_at < stale_before)).values(
                state="failed", finished_at=_now(),
                error="中断：负责训练的服务进程已停止 (the hub running it stopped)"))
            return int(res.rowcount or 0)

    @reads
    def training(self, training_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return row_dict(conn.execute(select(m.kb_trainings).where(m.kb_trainings.c.id == training_id)).first())

    @reads
    def trainings(self, limit: int = 10) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            res = conn.execute(select(m.kb_trainings).order_by(m.kb_trainings.c.id.desc()).limit(limit))
            return [dict(r._mapping) for r in res]

    @reads
    def live_up_to(self) -> int:
        """Every version up to this id is in the model the Rasa servers were last given."""
        t = m.kb_trainings
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(t.c.up_to_version)).where(t.c.state == "done"))
                       .scalar_one_or_none() or 0)

    @reads
    def last_attempt_up_to(self) -> int:
        t = m.kb_trainings
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(t.c.up_to_version))).scalar_one_or_none() or 0)

    # -- the lease -----------------------------------------------------------------------

    @threaded
    def acquire(self, holder: str, lease_seconds: float) -> bool:
        """Take the retrain lease if it is free or expired: one conditional UPDATE, so of two hubs
        asking at once exactly one gets it."""
        now = _now()
        lock = m.kb_lock
        with self.engine.begin() as conn:
            conn.execute(self._insert_ignore(lock, {"name": LOCK_NAME, "holder": None, "lease_until": 0.0}))
        with self.engine.begin() as conn:
            res = conn.execute(update(lock).where(and_(
                lock.c.name == LOCK_NAME,
                or_(lock.c.holder.is_(None), lock.c.lease_until < now, lock.c.holder == holder),
            )).values(holder=holder, lease_until=now + lease_seconds))
            return res.rowcount == 1

    @threaded
    def renew(self, holder: str, lease_seconds: float) -> bool:
        lock = m.kb_lock
        with self.engine.begin() as conn:
            res = conn.execute(update(lock).where(and_(lock.c.name == LOCK_NAME, lock.c.holder == holder))
                               .values(lease_until=_now() + lease_seconds))
            return res.rowcount == 1

    @threaded
    def release(self, holder: str) -> None:
        lock = m.kb_lock
        with self.engine.begin() as conn:
            conn.execute(update(lock).where(and_(lock.c.name == LOCK_NAME, lock.c.holder == holder))
                         .values(holder=None, lease_until=0.0))

    def _insert_ignore(self, table: Any, values: dict[str, Any]) -> Any:
        from sqlalchemy.dialects import postgresql, sqlite

        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=["name"])
