"""WeChat tables and their reads/writes: push dedup and the openid → conversation map.

Both tables are declared in ``handoff/models.py`` with the others, so the hub's migrations
create them. Uniqueness is enforced by primary keys, so two hub processes on one PostgreSQL
agree on which of them processes a push and on the one open conversation of an openid.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError

from handoff.auth import new_token, token_hash
from handoff.db import Repository
from handoff.models import wechat_inbound as inbound
from handoff.models import wechat_users as users
from handoff.state import is_closed
from handoff.store import Store

KEEP_SECONDS = 2 * 86400  # WeChat retries within 15 s; two days is plenty for support questions
PURGE_EVERY = 3600.0


def customer_label(openid: str) -> str:
    """What agents see as the customer's name: enough to tell customers apart, not the openid."""
    return f"微信用户 {openid[-4:]}" if openid else "微信用户"


class _Conflict(Exception):
    pass


class Inbox(Repository):
    """The WeChat inbox on the hub's database (same engine, same worker threads)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.conversations = store.conversations
        self._last_purge = 0.0

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.db.executor, functools.partial(fn, *args))

    # -- dedup ------------------------------------------------------------------------------

    async def claim(self, key: str, openid: str, kind: str) -> bool:
        """True for the first delivery of a push (this process handles it), False for a retry."""
        now = time.time()
        if now - self._last_purge > PURGE_EVERY:
            self._last_purge = now
            await self._run(self._purge, now - KEEP_SECONDS)
        return bool(await self._run(self._claim, key, openid[:64], kind, now))

    def _claim(self, key: str, openid: str, kind: str, now: float) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(inbound.insert().values(
                    dedup_key=key, openid=openid, kind=kind, state="processing",
                    created_at=now, updated_at=now))
        except IntegrityError:
            return False
        return True

    def _purge(self, before: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(inbound.delete().where(inbound.c.created_at < before))

    async def get(self, key: str) -> dict[str, Any] | None:
        return await self._run(self._get, key)

    def _get(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(inbound).where(inbound.c.dedup_key == key)).first()
            return dict(row._mapping) if row is not None else None

    async def finish(self, key: str, reply: str | None, conversation_id: str | None) -> None:
        await self._run(self._set, key, "done", reply, conversation_id, None)

    async def mark_late(self, key: str) -> None:
        """Only a push still processing turns late; a finished one keeps its state."""
        await self._run(self._set, key, "late", None, None, "processing")

    def _set(self, key: str, state: str, reply: str | None, conversation_id: str | None,
             only_if: str | None) -> None:
        cond = [inbound.c.dedup_key == key]
        if only_if is not None:
            cond.append(inbound.c.state == only_if)
        values: dict[str, Any] = {"state": state, "updated_at": time.time()}
        if reply is not None:
            values["reply"] = reply
        if conversation_id is not None:
            values["conversation_id"] = conversation_id
        with self.engine.begin() as conn:
            conn.execute(update(inbound).where(and_(*cond)).values(**values))

    async def release(self, key: str) -> None:
        """Forget a push whose processing failed, so WeChat's retry is processed afresh."""
        await self._run(self._release, key)

    def _release(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(inbound.delete().where(inbound.c.dedup_key == key))

    # -- conversations --------------------------------------------------------------------------

    async def conversation_for(self, openid: str, create: bool = True) -> dict[str, Any] | None:
        """The one open (not closed) conversation of an openid, created on first contact."""
        return await self._run(self._conversation_for, openid[:64], create)

    def _current(self, openid: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        with self.engine.connect() as conn:
            link = conn.execute(select(users).where(users.c.openid == openid)).first()
        if link is None:
            return None, None
        return dict(link._mapping), self.conversations.get.sync(self.conversations, link.conversation_id)

    def _conversation_for(self, openid: str, create: bool) -> dict[str, Any] | None:
        for _ in range(5):
            link, conv = self._current(openid)
            if conv is not None and not is_closed(conv):
                return conv
            if not create:
                return conv
            new = self.conversations.create.sync(
                self.conversations, "wechat", token_hash(new_token()), None, customer_label(openid), openid)
            try:
                with self.engine.begin() as conn:
                    if link is None:
                        conn.execute(users.insert().values(
                            openid=openid, conversation_id=new["id"], updated_at=time.time()))
                    else:
                        res = conn.execute(update(users).where(and_(
                            users.c.openid == openid,
                            users.c.conversation_id == link["conversation_id"],
                        )).values(conversation_id=new["id"], updated_at=time.time()))
                        if res.rowcount != 1:
                            raise _Conflict
                return new
            except (IntegrityError, _Conflict):
                # another hub created it at the same moment: drop ours (it has no messages)
                self.conversations.discard.sync(self.conversations, new["id"])
        raise RuntimeError("could not settle the conversation of a WeChat user")
