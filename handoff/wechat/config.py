"""WeChat settings: ``credentials.yml`` section ``wechat:``, overridden by ``WECHAT_*`` env vars.

No token means the channel is off (the callback answers 404). Rasa refuses unknown sections
in the credentials file it is started with, so a deployment whose Rasa reads
``credentials.yml`` keeps the section in a hub-only file named by ``WECHAT_CREDENTIALS``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ENV = {"token": "WECHAT_TOKEN", "appid": "WECHAT_APPID", "appsecret": "WECHAT_APPSECRET",
       "encoding_aes_key": "WECHAT_AES_KEY", "api_base": "WECHAT_API_BASE",
       "mode": "WECHAT_ENCRYPT_MODE", "callback_path": "WECHAT_CALLBACK_PATH",
       "reply_budget": "WECHAT_REPLY_BUDGET", "api_timeout": "WECHAT_API_TIMEOUT",
       "timestamp_window": "WECHAT_TIMESTAMP_WINDOW"}


@dataclass(frozen=True)
class WeChatSettings:
    token: str = ""
    appid: str = ""
    appsecret: str = ""
    encoding_aes_key: str = ""
    api_base: str = "https://api.weixin.qq.com"
    mode: str = "plain"  # plain | compatible | safe
    callback_path: str = "/wechat/callback"
    reply_budget: float = 3.5  # seconds before answering "success" and using the API instead
    api_timeout: float = 5.0  # per customer-service API request
    timestamp_window: float = 300.0  # seconds a signed request's timestamp may be off now (replays)

    @property
    def enabled(self) -> bool:
        return bool(self.token)


def load(env: dict[str, str] | None = None, credentials: Path | None = None) -> WeChatSettings:
    """Merge file and env; a set AES key defaults the mode to safe. Bad values raise ValueError."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    if credentials is not None and credentials.exists():
        section = (yaml.safe_load(credentials.read_text(encoding="utf-8")) or {}).get("wechat") or {}
        if not isinstance(section, dict):
            raise ValueError("credentials.yml: wechat must be a mapping")
        values.update({k: section[k] for k in ENV if section.get(k) not in (None, "")})
    values.update({k: env[v] for k, v in ENV.items() if env.get(v)})
    if "mode" not in values:
        values["mode"] = "safe" if values.get("encoding_aes_key") else "plain"
    if values["mode"] not in ("plain", "compatible", "safe"):
        raise ValueError(f"WECHAT_ENCRYPT_MODE must be plain, compatible or safe, got {values['mode']!r}")
    if values["mode"] != "plain" and len(str(values.get("encoding_aes_key", ""))) != 43:
        raise ValueError("WECHAT_AES_KEY must be the 43-character EncodingAESKey")
    if values["mode"] != "plain" and values.get("token") and not values.get("appid"):
        raise ValueError("WECHAT_APPID is required to check the AES envelope (compatible/safe mode)")
    try:
        values["reply_budget"] = float(values.get("reply_budget", 3.5))
    except ValueError:
        raise ValueError("WECHAT_REPLY_BUDGET must be a number of seconds") from None
    if not 0 < values["reply_budget"] < 5:
        raise ValueError("WECHAT_REPLY_BUDGET must be between 0 and 5 seconds (WeChat waits 5 s)")
    try:
        values["api_timeout"] = float(values.get("api_timeout", 5.0))
    except ValueError:
        raise ValueError("WECHAT_API_TIMEOUT must be a number of seconds") from None
    if values["api_timeout"] <= 0:
        raise ValueError("WECHAT_API_TIMEOUT must be positive")
    try:
        values["timestamp_window"] = float(values.get("timestamp_window", 300.0))
    except ValueError:
        raise ValueError("WECHAT_TIMESTAMP_WINDOW must be a number of seconds") from None
    if values["timestamp_window"] <= 0:
        raise ValueError("WECHAT_TIMESTAMP_WINDOW must be positive")
    values["api_base"] = str(values.get("api_base", WeChatSettings.api_base)).rstrip("/")
    path = str(values.get("callback_path", WeChatSettings.callback_path))
    if not path.startswith("/"):
        raise ValueError(f"WECHAT_CALLBACK_PATH must start with /, got {path!r}")
    numbers = ("reply_budget", "api_timeout", "timestamp_window")
    return WeChatSettings(**{k: (v if k in numbers else str(v)) for k, v in values.items()})


def from_environment(root: Path) -> WeChatSettings:
    """The hub's settings: ``WECHAT_CREDENTIALS`` (default ``<root>/credentials.yml``) plus env."""
    path = os.environ.get("WECHAT_CREDENTIALS") or str(root / "credentials.yml")
    return load(None, Path(path))
