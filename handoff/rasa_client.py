"""Talks to Rasa's REST channel: one shared HTTP session, a bounded number of calls in flight,
a deadline per call and one retry when the connection itself fails."""

from __future__ import annotations

import asyncio
import logging
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


class _Retryable(Exception):
    """The connection failed before Rasa answered (refused, reset, dropped keep-alive)."""


class RasaClient:
    """The hub's only way to Rasa.

    Rasa's throughput is bounded by its CPUs; flooded past it, every call slows down until all of
    them hit the timeout, and each timeout hands a chat to the agents (``bot_unavailable``).
    So at most ``concurrency`` calls per hub process are in flight; the rest wait up to
    ``queue_wait`` (default: ``timeout``) for a slot, then up to ``timeout`` for the answer. A connection that fails fast
    is retried once (a restarting Rasa, a stale keep-alive); timeouts and HTTP errors are not,
    as retrying them only adds load when Rasa is already slow.
    """

    def __init__(
        self, base_url: str, timeout: float, concurrency: int = 16, queue_wait: float | None = None,
        connect_timeout: float = 3.0, retry_delay: float = 0.3,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.url = base_url.rstrip("/") + "/webhooks/rest/webhook"
        self.timeout = timeout
        self.concurrency = concurrency
        self.queue_wait = timeout if queue_wait is None else queue_wait
        self.connect_timeout = min(connect_timeout, timeout)
        self.retry_delay = retry_delay
        self.in_flight = 0
        self.waiting = 0
        self._slots = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout, sock_connect=self.connect_timeout),
            connector=aiohttp.TCPConnector(limit=self.concurrency, keepalive_timeout=30),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> RasaResult:
        """One bot turn; never raises: a failure comes back as ``RasaResult.error``."""
        if self._session is None:
            await self.start()
        body = {"sender": sender, "message": text, "metadata": metadata}
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_wait)
        except asyncio.TimeoutError:
            log.warning("rasa busy: %d calls in flight, %d waiting", self.in_flight, self.waiting)
            return RasaResult(None, f"busy: {self.concurrency} calls in flight")
        finally:
            self.waiting -= 1
        self.in_flight += 1
        try:
            return await self._send_with_retry(body)
        finally:
            self.in_flight -= 1
            self._slots.release()

    async def _send_with_retry(self, body: dict[str, Any]) -> RasaResult:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        try:
            return await self._post(body, self.timeout)
        except _Retryable as exc:
            log.info("rasa connection failed (%s), retrying once", exc)
        await asyncio.sleep(self.retry_delay)
        remaining = deadline - loop.time()
        if remaining <= 0:
            return RasaResult(None, "timeout")
        try:
            return await self._post(body, remaining)
        except _Retryable as exc:
            return RasaResult(None, f"unreachable: {exc}")

    async def _post(self, body: dict[str, Any], budget: float) -> RasaResult:
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=budget, sock_connect=min(self.connect_timeout, budget))
        try:
            async with self._session.post(self.url, json=body, timeout=timeout) as resp:
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
