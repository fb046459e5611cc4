"""Talks to Rasa's REST channel: one shared HTTP session, a bounded number of calls in flight,
a deadline per call and one retry when the connection itself fails. With several Rasa servers
each conversation always goes to the same one (see `pick_server`)."""

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


def pick_server(conversation_id: str, servers: Sequence[str]) -> int:
    """Index of the Rasa server for a conversation: rendezvous hashing on (server, id).

    Stable across hub processes and restarts (no per-process `hash()` salt), so one
    conversation always reaches the same Rasa process; that matters because each Rasa keeps its
    own lock store, and two processes working on one tracker at once would lose events. Adding
    or removing a server moves only the conversations that hashed to it.
    """
    if not servers:
        raise ValueError("no Rasa servers to pick from")

    def weight(server: str) -> bytes:
        return hashlib.blake2b(f"{server}\0{conversation_id}".encode(), digest_size=8).digest()

    return max(range(len(servers)), key=lambda i: weight(servers[i]))


class _Retryable(Exception):
    """The connection failed before Rasa answered (refused, reset, dropped keep-alive)."""


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
    """

    def __init__(
        self, base_url: str | Sequence[str], timeout: float, concurrency: int = 16,
        queue_wait: float | None = None, connect_timeout: float = 3.0, retry_delay: float = 0.3,
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
        self.in_flight = 0
        self.waiting = 0
        self._slots = [asyncio.Semaphore(concurrency) for _ in self.urls]
        self._session: aiohttp.ClientSession | None = None

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
        index = pick_server(sender, self.servers) if len(self.servers) > 1 else 0
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
            return await self._send_with_retry(self.urls[index], body)
        finally:
            self.in_flight -= 1
            slots.release()

    async def _send_with_retry(self, url: str, body: dict[str, Any]) -> RasaResult:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        try:
            return await self._post(url, body, self.timeout)
        except _Retryable as exc:
            log.info("rasa connection failed (%s), retrying once", exc)
        await asyncio.sleep(self.retry_delay)
        remaining = deadline - loop.time()
        if remaining <= 0:
            return RasaResult(None, "timeout")
        try:
            return await self._post(url, body, remaining)
        except _Retryable as exc:
            return RasaResult(None, f"unreachable: {exc}")

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
            raise _Retryable(type(exc).__name__) from exc
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
