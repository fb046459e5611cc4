"""Talks to Rasa's REST channel: one shared HTTP session, a bounded number of calls in flight,
a deadline per call and one retry when the connection itself fails. With several Rasa servers
each conversation goes to the same one (see `pick_server`) while it is reachable, and to the next
one in its order while it is not (see `RasaClient`)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from handoff.router import BotTurn, parse_rasa_reply

log = logging.getLogger("handoff.rasa")


@dataclass
class RasaResult:
    """A parsed bot turn, or why there is none (``error`` set means the bot failed)."""

    turn: BotTurn | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.turn is not None and not self.turn.failed


def parse_rasa_urls(value: str | Sequence[str]) -> list[str]:
    """Rasa base URLs from `RASA_URL` ("http://a:5005,http://b:5005") or a list; no duplicates."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    urls: list[str] = []
    for part in parts:
        url = part.strip().rstrip("/")
        if url and url not in urls:
            urls.append(url)
    if not urls:
        raise ValueError("RASA_URL names no Rasa server")
    return urls


def rank_servers(conversation_id: str, servers: Sequence[str]) -> list[int]:
    """Indexes of the Rasa servers in a conversation's order of preference: rendezvous hashing
    on (server, id), highest weight first. The first is `pick_server`; the next ones take the
    conversation, in this order, while the ones before are unreachable."""
    if not servers:
        raise ValueError("no Rasa servers to pick from")

    def weight(server: str) -> bytes:
        return hashlib.blake2b(f"{server}\0{conversation_id}".encode(), digest_size=8).digest()

    return sorted(range(len(servers)), key=lambda i: weight(servers[i]), reverse=True)


def pick_server(conversation_id: str, servers: Sequence[str]) -> int:
    """Index of the Rasa server for a conversation: rendezvous hashing on (server, id).

    Stable across hub processes and restarts (no per-process `hash()` salt), so one
    conversation always reaches the same Rasa process; that matters when each Rasa keeps its
    own lock store, as two processes working on one tracker at once would lose events. Adding
    or removing a server moves only the conversations that hashed to it.
    """
    return rank_servers(conversation_id, servers)[0]


class _Retryable(Exception):
    """The connection failed before Rasa answered (refused, reset, dropped keep-alive);
    `refused`: it was never made, so that Rasa never saw the request."""

    def __init__(self, reason: str, refused: bool = False) -> None:
        super().__init__(reason)
        self.refused = refused


class RasaClient:
    """The hub's only way to Rasa.

    Rasa's throughput is bounded by its CPUs; flooded past it, every call slows down until all of
    them hit the timeout, and each timeout hands a chat to the agents (``bot_unavailable``).
    So at most ``concurrency`` calls per hub process are in flight; the rest wait up to
    ``queue_wait`` (default: ``timeout``) for a slot, then up to ``timeout`` for the answer.
    ``base_url`` may list several Rasa servers (comma-separated); the limit then holds per
    server, so one slow server does not take the others' slots. A connection that fails fast
    is retried once (a restarting Rasa, a stale keep-alive); timeouts and HTTP errors are not,
    as retrying them only adds load when Rasa is already slow.

    With several servers, a refused connection goes on to the conversation's next server
    (`rank_servers`), and the refusing server is passed over for ``recheck_after`` seconds, so the
    conversations of a dead Rasa are served by the others without a failed call each. That Rasa
    never saw the request, and the Rasa processes share their trackers (SQL tracker store) and,
    with Redis, their conversation locks, so any of them can take the turn. The call goes on
    holding the first server's slot.
    """

    def __init__(
        self, base_url: str | Sequence[str], timeout: float, concurrency: int = 16,
        queue_wait: float | None = None, connect_timeout: float = 3.0, retry_delay: float = 0.3,
        recheck_after: float = 5.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.servers = parse_rasa_urls(base_url)
        self.urls = [server + "/webhooks/rest/webhook" for server in self.servers]
        self.url = self.urls[0]
        self.timeout = timeout
        self.concurrency = concurrency
        self.queue_wait = timeout if queue_wait is None else queue_wait
        self.connect_timeout = min(connect_timeout, timeout)
        self.retry_delay = retry_delay
        self.recheck_after = recheck_after
        self._down_until = [0.0] * len(self.urls)  # loop time until which a server is passed over
        self.in_flight = 0
        self.waiting = 0
        self._slots = [asyncio.Semaphore(concurrency) for _ in self.urls]
        self._session: aiohttp.ClientSession | None = None
        # /model/parse calls (agent assist, the review capture) have their own small budget, so
        # they never take a customer turn's slot, and pause after a failure instead of piling up.
        self.parse_slots = asyncio.Semaphore(max(1, concurrency // 4))
        self.parse_timeout = min(2.0, timeout)
        self.parse_pause = 10.0
        self._parse_down_until = 0.0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout, sock_connect=self.connect_timeout),
            connector=aiohttp.TCPConnector(limit=self.concurrency * len(self.urls), keepalive_timeout=30),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> RasaResult:
        """One bot turn; never raises: a failure comes back as ``RasaResult.error``."""
        if self._session is None:
            await self.start()
        body = {"sender": sender, "message": text, "metadata": metadata}
        order = rank_servers(sender, self.servers) if len(self.servers) > 1 else [0]
        index = self._first_up(order)
        slots = self._slots[index]
        self.waiting += 1
        try:
            await asyncio.wait_for(slots.acquire(), self.queue_wait)
        except asyncio.TimeoutError:
            log.warning("rasa busy: %d calls in flight, %d waiting", self.in_flight, self.waiting)
            return RasaResult(None, f"busy: {self.concurrency} calls in flight")
        finally:
            self.waiting -= 1
        self.in_flight += 1
        try:
            return await self._send_with_retry(index, order, body)
        finally:
            self.in_flight -= 1
            slots.release()

    def _first_up(self, order: Sequence[int]) -> int:
        """The first server in `order` not passed over after a failed connection (else the first)."""
        now = asyncio.get_running_loop().time()
        return next((i for i in order if self._down_until[i] <= now), order[0])

    def _mark_down(self, index: int) -> None:
        self._down_until[index] = asyncio.get_running_loop().time() + self.recheck_after

    async def _send_with_retry(self, index: int, order: Sequence[int], body: dict[str, Any]) -> RasaResult:
        """One server: a failed connection is retried once, after `retry_delay`. Several: a
        refused connection (nobody listening) goes on at once to the next server in `order`; a
        dropped one (a stale keep-alive, or a Rasa that died during the turn) is sent once more to
        the same server, and if that is refused, on to the next."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        target, refused, resent = index, set(), False
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return RasaResult(None, "timeout")
            try:
                return await self._post(self.urls[target], body, remaining)
            except _Retryable as exc:
                failure = exc
            if len(order) > 1 and failure.refused:
                refused.add(target)
                self._mark_down(target)
                rest = [i for i in order if i not in refused]
                if not rest:
                    return RasaResult(None, f"unreachable: {failure}")
                log.info("rasa %s refused the connection, sending to %s", self.servers[target],
                         self.servers[self._first_up(rest)])
                target = self._first_up(rest)
                continue
            if resent:
                return RasaResult(None, f"unreachable: {failure}")
            resent = True
            log.info("rasa connection failed (%s), retrying once", failure)
            await asyncio.sleep(self.retry_delay)

    async def _post(self, url: str, body: dict[str, Any], budget: float) -> RasaResult:
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=budget, sock_connect=min(self.connect_timeout, budget))
        try:
            async with self._session.post(url, json=body, timeout=timeout) as resp:
                if resp.status != 200:
                    return RasaResult(None, f"http {resp.status}")
                payload = await resp.json(content_type=None)
        except asyncio.TimeoutError:  # also aiohttp's connect timeout: a black hole is not retried
            return RasaResult(None, "timeout")
        except (aiohttp.ClientConnectionError, ConnectionError) as exc:
            refused = isinstance(exc, (aiohttp.ClientConnectorError, ConnectionRefusedError))
            raise _Retryable(type(exc).__name__, refused) from exc
        except (aiohttp.ClientError, OSError) as exc:
            return RasaResult(None, f"unreachable: {type(exc).__name__}")
        except ValueError:
            return RasaResult(None, "invalid json")
        try:
            turn = parse_rasa_reply(payload)
        except ValueError as exc:
            return RasaResult(None, str(exc))
        if turn.failed:
            return RasaResult(turn, "empty reply")
        return RasaResult(turn)

    async def parse(self, text: str, sender: str, wait: bool = True) -> dict[str, Any] | None:
        """Rasa's NLU result for a text (``POST /model/parse``, Rasa's ``--enable-api``), or None:
        Rasa unreachable or slow, or paused after such a failure, or (``wait=False``) every parse
        slot busy. Never raises; a failure is logged once per pause, not per call."""
        if self._session is None:
            await self.start()
        loop = asyncio.get_running_loop()
        if loop.time() < self._parse_down_until:
            return None
        if not wait and self.parse_slots.locked():
            return None
        index = self._first_up(rank_servers(sender, self.servers) if len(self.servers) > 1 else [0])
        async with self.parse_slots:
            assert self._session is not None
            if loop.time() < self._parse_down_until:  # failed while this call waited for a slot
                return None
            try:
                async with self._session.post(self.servers[index] + "/model/parse", json={"text": text},
                                              timeout=aiohttp.ClientTimeout(total=self.parse_timeout)) as resp:
                    if resp.status != 200:
                        raise ValueError(f"http {resp.status}")
                    payload = await resp.json(content_type=None)
                if not isinstance(payload, dict):
                    raise ValueError("not an object")
                return payload
            except (asyncio.TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
                if loop.time() >= self._parse_down_until:
                    log.warning("rasa /model/parse failed (%s); parses paused for %.0f s",
                                type(exc).__name__, self.parse_pause)
                self._parse_down_until = loop.time() + self.parse_pause
                return None
