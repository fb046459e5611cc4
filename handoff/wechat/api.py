"""Customer-service message API client (aiohttp): shared access token, one bounded retry.

aiohttp rather than wechatpy's client: wechatpy's client is synchronous and retries
40001/42001 without bound; here the loop is never blocked and a send is retried once.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import aiohttp

TOKEN_ERRORS = (40001, 40014, 42001)
MARGIN_SECONDS = 300  # refresh this long before WeChat's expiry


class WeChatApiError(Exception):
    """An errcode the customer cannot receive (45015 outside 48 h, 43004 unsubscribed, timeout -1)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class TokenCache:
    """Token in process memory, or in Redis so all hub processes share one token.

    Refresh takes a lock (Redis SET NX) since a new token invalidates the others' token.
    """

    def __init__(self, appid: str, redis: Any = None) -> None:
        self.key = f"wechat:token:{appid}"
        self.lock_key = f"wechat:token-lock:{appid}"
        self.redis = redis
        self._local: tuple[str, float] | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> str | None:
        if self.redis is not None:
            raw = await self.redis.get(self.key)
            return raw.decode() if isinstance(raw, bytes) else raw
        if self._local and self._local[1] > time.time():
            return self._local[0]
        return None

    async def put(self, token: str, ttl: float) -> None:
        if self.redis is not None:
            await self.redis.set(self.key, token, ex=max(1, int(ttl)))
        else:
            self._local = (token, time.time() + ttl)

    async def drop(self, bad: str) -> None:
        """Forget a rejected token, unless another process already replaced it."""
        if self.redis is not None:
            await self.redis.eval(
                "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
                1, self.key, bad,
            )
        elif self._local and self._local[0] == bad:
            self._local = None

    async def acquire(self) -> str | None:
        if self.redis is None:
            await self._lock.acquire()
            return "local"
        owner = uuid.uuid4().hex
        ok = await self.redis.set(self.lock_key, owner, nx=True, px=10_000)
        return owner if ok else None

    async def release(self, owner: str) -> None:
        if self.redis is None:
            self._lock.release()
            return
        await self.redis.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
            1, self.lock_key, owner,
        )


class WeChatApi:
    def __init__(self, api_base: str, appid: str, secret: str, redis: Any = None,
                 timeout: float = 5.0) -> None:
        self.base = api_base.rstrip("/")
        self.appid = appid
        self.secret = secret
        self.tokens = TokenCache(appid, redis)
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _fetch_token(self) -> str:
        session = await self._http()
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        try:
            async with session.get(self.base + "/cgi-bin/token", params=params) as resp:
                data = await resp.json(content_type=None)
        except (asyncio.TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise WeChatApiError(-1, f"token request failed: {type(exc).__name__}") from None
        if not isinstance(data, dict) or "access_token" not in data:
            raise WeChatApiError(int((data or {}).get("errcode", -1)), str((data or {}).get("errmsg", "")))
        ttl = max(60.0, float(data.get("expires_in", 7200)) - MARGIN_SECONDS)
        await self.tokens.put(data["access_token"], ttl)
        return str(data["access_token"])

    async def token(self) -> str:
        """The shared token; one refresher at a time, the others wait for its result."""
        for _ in range(100):
            current = await self.tokens.get()
            if current:
                return current
            owner = await self.tokens.acquire()
            if owner is not None:
                try:
                    current = await self.tokens.get()
                    return current or await self._fetch_token()
                finally:
                    await self.tokens.release(owner)
            await asyncio.sleep(0.05)
        raise WeChatApiError(-1, "token refresh lock not released")

    async def _post(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        session = await self._http()
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")  # WeChat shows \\u escapes verbatim
        try:
            async with session.post(self.base + "/cgi-bin/message/custom/send",
                                    params={"access_token": token}, data=data,
                                    headers={"Content-Type": "application/json"}) as resp:
                result = await resp.json(content_type=None)
        except (asyncio.TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise WeChatApiError(-1, f"send failed: {type(exc).__name__}") from None
        return result if isinstance(result, dict) else {"errcode": -1, "errmsg": "bad answer"}

    async def send_text(self, openid: str, text: str) -> None:
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        token = await self.token()
        result = await self._post(token, body)
        if int(result.get("errcode", 0)) in TOKEN_ERRORS:
            await self.tokens.drop(token)
            result = await self._post(await self.token(), body)
        code = int(result.get("errcode", 0))
        if code != 0:
            raise WeChatApiError(code, str(result.get("errmsg", "")))
