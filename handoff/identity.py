"""Signed customer identities: a shop back end vouches for a logged-in customer.

Format: ``<base64url(json {"customer_id","name","exp"})>.<hex HMAC-SHA256 of the first part>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any


class IdentityError(ValueError):
    """The identity is malformed, forged or expired."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    return hmac.new(secret.encode(), body.encode("ascii"), hashlib.sha256).hexdigest()


def sign_identity(
    customer_id: str, secret: str, name: str | None = None, ttl_seconds: int = 3600,
    now: float | None = None,
) -> str:
    """What a shop back end puts in the widget's ``data-identity``."""
    exp = int((time.time() if now is None else now) + ttl_seconds)
    body = _b64encode(
        json.dumps({"customer_id": str(customer_id), "name": name, "exp": exp},
                   ensure_ascii=False, separators=(",", ":")).encode()
    )
    return f"{body}.{_mac(secret, body)}"


def verify_identity(token: str, secret: str, now: float | None = None) -> dict[str, Any]:
    """The identity's claims, or ``IdentityError`` saying why not."""
    if not isinstance(token, str) or not token.isascii() or token.count(".") != 1:
        raise IdentityError("identity must be <payload>.<signature>")
    body, sig = token.split(".")
    if not hmac.compare_digest(_mac(secret, body), sig.lower()):
        raise IdentityError("identity signature does not match")
    try:
        claims = json.loads(_b64decode(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise IdentityError("identity payload is not base64url JSON") from exc
    if not isinstance(claims, dict) or not claims.get("customer_id"):
        raise IdentityError("identity has no customer_id")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp < (time.time() if now is None else now):
        raise IdentityError("identity has expired")
    return claims
