"""Agent passwords, sessions and customer tokens.

Only hashes of tokens are stored, so a database dump opens no session or conversation.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ipaddress
import math
import secrets
import time
from typing import Any
from urllib.parse import urlparse

from sanic.request import Request

from handoff.errors import ApiError
from handoff.settings import parse_networks

SESSION_COOKIE = "kefu_session"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str, salt: bytes | None = None) -> str:
    """scrypt (stdlib): ``scrypt$n$r$p$salt_hex$hash_hex``."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt_hex, hash_hex = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    digest = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(digest.hex(), hash_hex)


@functools.lru_cache(maxsize=1)
def _stand_in_hash() -> str:
    """Checked for unknown usernames, so they take as long as known ones."""
    return hash_password(secrets.token_urlsafe(16))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # surrogatepass: a header with undecodable bytes is just a wrong token, not a crash
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def client_address(request: Request) -> str:
    """Who is asking, for limits: the socket peer, unless it is a trusted proxy.

    With ``HUB_TRUSTED_PROXIES`` the ``X-Forwarded-For`` chain is read from the right while its
    entries are trusted proxies, and the first other entry is the client; with
    ``HUB_PROXIES_COUNT`` Sanic takes that many hops. Otherwise the header is ignored, so a client
    cannot pick its own address."""
    settings = request.app.ctx.settings
    peer = request.ip or "unknown"
    if settings.trusted_proxies and _trusted(peer, settings.trusted_proxies):
        chain = [p.strip() for h in request.headers.getall("x-forwarded-for", []) for p in h.split(",")]
        for hop in reversed([p for p in chain if p]):
            if not _trusted(hop, settings.trusted_proxies):
                return hop[:64]
        return peer[:64]
    return (request.remote_addr or peer)[:64]


@functools.lru_cache(maxsize=4096)
def _trusted(address: str, proxies: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in parse_networks(",".join(proxies)))


def same_origin(request: Request) -> bool:
    """A request without ``Origin`` (not a browser) or from the hub's own host."""
    origin = request.headers.get("origin")
    if not origin:
        return True
    return urlparse(origin).netloc.lower() == (request.host or "").lower()


async def current_agent(
    request: Request, require_csrf: bool | None = None, allow_query_token: bool = False
) -> dict[str, Any]:
    """The agent of this request: bearer token, or session cookie (+ ``X-CSRF-Token`` on writes).

    ``?token=`` is accepted only where a header cannot be set (the websocket upgrade). A token
    given explicitly is the credential even when a cookie comes along, and a request the cookie
    authenticates must come from the hub's own origin: a page elsewhere cannot ride on it."""
    store = request.app.ctx.store
    token = bearer(request)
    if token is None and allow_query_token and request.args.get("token"):
        token = request.args.get("token")
    via_cookie = False
    if token is None:
        token = request.cookies.get(SESSION_COOKIE)
        via_cookie = token is not None
    if not token:
        raise ApiError(401, "unauthenticated", "Please log in. 请先登录。")
    if via_cookie and not same_origin(request):
        raise ApiError(403, "bad_origin", "Cross-site request refused. 跨站请求被拒绝。")
    found = await store.sessions.agent(token_hash(token))
    if found is None:
        raise ApiError(401, "unauthenticated", "Session expired or invalid. 登录已失效，请重新登录。")
    agent, csrf = found
    request.ctx.csrf_token = csrf  # a reloaded console gets it back from /api/agent/me
    request.ctx.session_hash = token_hash(token)
    if require_csrf is None:
        require_csrf = request.method not in ("GET", "HEAD", "OPTIONS")
    if via_cookie and require_csrf:
        sent = request.headers.get("x-csrf-token", "")
        if not sent or not hmac.compare_digest(sent, csrf):
            raise ApiError(403, "csrf_failed", "Missing or wrong X-CSRF-Token. 安全校验失败。")
    return agent


def require_supervisor(agent: dict[str, Any]) -> None:
    if agent["role"] != "supervisor":
        raise ApiError(403, "forbidden", "Supervisors only. 仅主管可操作。")


def is_conversation_id(value: str) -> bool:
    """Ids are uuid4 hex; anything else is answered 404 without asking the database."""
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)


async def customer_conversation(request: Request, conversation_id: str, token: str | None = None) -> dict[str, Any]:
    """The conversation this customer token opens; one token opens only its own conversation."""
    token = token or bearer(request) or request.args.get("token")
    if not token:
        raise ApiError(401, "unauthenticated", "Conversation token required. 缺少会话凭证。")
    conv = await request.app.ctx.store.conversations.get(conversation_id) if is_conversation_id(conversation_id) else None
    if conv is None or not hmac.compare_digest(conv["token_hash"], token_hash(token)):
        # Same answer for "absent" and "not yours": no probing of ids.
        raise ApiError(404, "not_found", "Conversation not found. 会话不存在。")
    return conv


KNOWN_ADDRESS_DAYS = 30


def _counter(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def _holds_session(request: Request, agent_id: int) -> bool:
    token = bearer(request) or request.cookies.get(SESSION_COOKIE)
    found = await request.app.ctx.store.sessions.agent(token_hash(token)) if token else None
    return found is not None and found[0]["id"] == agent_id


async def authenticate(request: Request, username: str, password: str) -> dict[str, Any]:
    """Check a login against the throttles, then the password.

    Every attempt is counted before the password is checked (per username and address, per
    address, and per username from addresses the agent never logged in from), so concurrent
    guesses cannot pass a limit, spraying names from one address is bounded, and an attacker
    elsewhere cannot lock the agent out of an address or live session they already use. A
    right password takes its attempt back. Unknown names run the same hash as known ones."""
    settings, store = request.app.ctx.settings, request.app.ctx.store
    address = client_address(request)
    agent = await store.agents.by_username(username)
    known = agent is not None and (
        await _holds_session(request, agent["id"])
        or await store.logins.known_address(agent["id"], address, time.time() - KNOWN_ADDRESS_DAYS * 86400))
    pair, per_address, account = _counter("pair", username, address), _counter("addr", address), _counter("user", username)
    limits = {pair: settings.login_limit, per_address: settings.login_address_limit}
    if not known:
        limits[account] = settings.login_account_limit
    counts = await store.logins.count_attempt(list(limits), settings.login_window)
    if any(count > limit for count, limit in zip(counts, limits.values(), strict=True)):
        minutes = math.ceil(settings.login_window / 60)
        raise ApiError(
            429, "login_locked",
            f"Too many login attempts for this account or from this network; try again in {minutes} "
            "minutes, from a computer you have logged in from before, or ask a supervisor to reset "
            f"your password. 登录尝试过多，请 {minutes} 分钟后再试，或在常用电脑上登录，或请主管重置密码。",
            headers={"Retry-After": str(int(settings.login_window))})
    stored = agent["password_hash"] if agent is not None else _stand_in_hash()
    ok = await asyncio.to_thread(verify_password, password, stored)
    if not ok or agent is None:
        raise ApiError(401, "invalid_credentials", "Wrong username or password. 用户名或密码错误。")
    await store.logins.succeeded([k for k in limits if k != pair], [pair], agent["id"], address)
    return agent
