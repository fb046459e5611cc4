"""Agent passwords, sessions and customer tokens.

Only hashes of tokens are stored, so a database dump opens no session or conversation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from sanic.request import Request

from handoff.errors import ApiError

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


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def agent_public(agent: dict[str, Any]) -> dict[str, Any]:
    """An agent as the API shows it (never the password hash)."""
    return {
        "id": agent["id"],
        "username": agent["username"],
        "display_name": agent["display_name"],
        "role": agent["role"],
        "skills": [s for s in (agent.get("skills") or "").split(",") if s],
        "presence": agent["presence"],
        "max_chats": agent["max_chats"],
    }


async def current_agent(
    request: Request, require_csrf: bool | None = None, allow_query_token: bool = False
) -> dict[str, Any]:
    """The agent of this request: bearer token, or session cookie (+ ``X-CSRF-Token`` on writes).

    ``?token=`` is accepted only where a header cannot be set (the websocket upgrade)."""
    store = request.app.ctx.store
    token = bearer(request)
    via_cookie = False
    if token is None:
        token = request.cookies.get(SESSION_COOKIE)
        via_cookie = token is not None
    if token is None and allow_query_token and request.args.get("token"):
        token = request.args.get("token")
    if not token:
        raise ApiError(401, "unauthenticated", "Please log in. 请先登录。")
    found = await store.session_agent(token_hash(token))
    if found is None:
        raise ApiError(401, "unauthenticated", "Session expired or invalid. 登录已失效，请重新登录。")
    agent, csrf = found
    request.ctx.csrf_token = csrf  # a reloaded console gets it back from /api/agent/me
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


async def customer_conversation(request: Request, conversation_id: str, token: str | None = None) -> dict[str, Any]:
    """The conversation this customer token opens; one token opens only its own conversation."""
    token = token or bearer(request) or request.args.get("token")
    if not token:
        raise ApiError(401, "unauthenticated", "Conversation token required. 缺少会话凭证。")
    conv = await request.app.ctx.store.get_conversation(conversation_id)
    if conv is None or not hmac.compare_digest(conv["token_hash"], token_hash(token)):
        # Same answer for "absent" and "not yours": no probing of ids.
        raise ApiError(404, "not_found", "Conversation not found. 会话不存在。")
    return conv
