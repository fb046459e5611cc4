"""Talks to Rasa's REST channel with one shared HTTP session and a timeout."""

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


class RasaClient:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.url = base_url.rstrip("/") + "/webhooks/rest/webhook"
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=30),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> RasaResult:
        if self._session is None:
            await self.start()
        assert self._session is not None
        body = {"sender": sender, "message": text, "metadata": metadata}
        try:
            async with self._session.post(self.url, json=body) as resp:
                if resp.status != 200:
                    return RasaResult(None, f"http {resp.status}")
                payload = await resp.json(content_type=None)
        except asyncio.TimeoutError:
            return RasaResult(None, "timeout")
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
