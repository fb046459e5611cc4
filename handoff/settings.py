"""Hub settings, read once from the environment so every process of a deployment agrees."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import time
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env_int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _env_float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def parse_hours(spec: str) -> tuple[time, time]:
    """Parse working hours like ``09:00-22:00`` (``00:00-24:00``: always); an end before the
    start spans midnight."""
    try:
        start_s, end_s = (part.strip() for part in spec.split("-", 1))
        start = time.fromisoformat(start_s)
        end = time.max if end_s == "24:00" else time.fromisoformat(end_s)
    except ValueError as exc:
        raise ValueError(f"working hours must look like 09:00-22:00, got {spec!r}") from exc
    return start, end


def parse_networks(spec: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """``10.0.0.1, 10.1.0.0/16, ::1`` → networks; a clear error for anything else."""
    try:
        return tuple(ip_network(p.strip(), strict=False) for p in spec.split(",") if p.strip())
    except ValueError as exc:
        raise ValueError(f"HUB_TRUSTED_PROXIES must list addresses or networks, got {spec!r}") from exc


def default_database_url(env: dict[str, str]) -> str:
    """``HUB_DATABASE_URL``, else ``DATABASE_URL``, else a SQLite file under ``var/``."""
    return (
        env.get("HUB_DATABASE_URL")
        or env.get("DATABASE_URL")
        or f"sqlite:///{ROOT / 'var' / 'hub.db'}"
    )


@dataclass
class Settings:
    """Everything configurable about one hub process."""

    host: str = "127.0.0.1"
    port: int = 8000
    rasa_url: str = "http://localhost:5005"  # or several, comma-separated (one per Rasa process)
    rasa_timeout: float = 10.0
    rasa_concurrency: int = 16  # Rasa calls in flight per hub process; the rest wait for a slot
    rasa_queue_wait: float | None = None  # longest wait for a slot; None: rasa_timeout
    database_url: str = f"sqlite:///{ROOT / 'var' / 'hub.db'}"
    redis_url: str | None = None
    assign_mode: str = "manual"  # auto | manual
    working_hours: tuple[time, time] = (time(9, 0), time(22, 0))
    timezone: str = "Asia/Shanghai"
    identity_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    identity_secret_generated: bool = True
    max_message_chars: int = 2000
    max_body_bytes: int = 64 * 1024
    rate_limit_count: int = 20
    rate_limit_window: float = 10.0
    default_eta_seconds: int = 180
    session_ttl_seconds: int = 12 * 3600
    ticket_due_hours: int = 24
    bot_unavailable_priority: str = "normal"  # queue priority of chats the bot failed to answer
    agent_away_after: float = 60.0  # seconds without a live console before an online agent is away; 0: never
    cookie_secure: bool = False
    allowed_origins: str = "*"
    static_dir: Path = ROOT / "handoff" / "static"
    seed_demo: bool = True
    seed_passwords: dict[str, str] = field(default_factory=dict)
    public_url: str | None = None
    access_log: bool = False
    proxies_count: int = 0  # trusted proxies in front of the hub; 0: X-Forwarded-* are ignored
    login_window: float = 900.0  # seconds each login counter lasts
    login_limit: int = 10  # attempts per (username, client address) per window
    login_address_limit: int = 30  # attempts per client address, all usernames together
    login_account_limit: int = 50  # attempts per username from addresses it never logged in from
    session_check_seconds: float = 30.0  # how often an open console re-checks its session
    redis_timeout: float = 1.5  # longest wait for any Redis call before the hub degrades
    db_busy_timeout: float = 2.0  # SQLite: longest wait for the write lock before answering 503
    bot_retry_every: float = 5.0  # how often unanswered customer messages are looked for
    away_requeue_after: float = 120.0  # seconds an automatically away agent keeps open chats; 0: always
    # A customer waiting on an agent's reply: the agent is alerted after the first limit (the
    # seeds' 30 s first response), supervisors after the second; per team in hub_team_settings.
    silence_agent_after: float = 30.0  # 0: no silent-agent alerts at all
    silence_supervisor_after: float = 120.0
    silence_check_every: float = 5.0
    trusted_proxies: tuple[str, ...] = ()  # proxy addresses/networks whose X-Forwarded-For is believed
    # Customer-side limits, per client address and per customer (signed customer, browser, WeChat
    # user): counts per limit_window seconds (typing: per rate_limit_window); 0 switches one off.
    limit_window: float = 600.0
    open_per_address: int = 60
    open_per_customer: int = 30  # the widget opens one per new signed-identity token (page view)
    queue_per_address: int = 10
    queue_per_customer: int = 5
    tickets_per_address: int = 10
    tickets_per_customer: int = 3
    typing_per_address: int = 100
    typing_per_customer: int = 10
    # Knowledge base: a supervisor's edit of the bot's answers is retrained and published by this
    # hub only with kb_retrain on (``make run`` turns it on); otherwise edits are kept as versions.
    kb_retrain: bool = False
    kb_root: Path = ROOT  # the bot's checkout: config.yml, domain.yml, data/, models/
    kb_gate: str = "touched"  # touched | full: which conversation tests a new model must pass
    kb_gate_smoke: int = 1  # conversations per test file always in the gate (beside the touched ones)

    def __post_init__(self) -> None:
        if self.assign_mode not in ("auto", "manual"):
            raise ValueError(f"HUB_ASSIGN must be auto or manual, got {self.assign_mode!r}")
        if self.rasa_timeout <= 0:
            raise ValueError("HUB_RASA_TIMEOUT must be positive")
        if self.rasa_concurrency < 1:
            raise ValueError("HUB_RASA_CONCURRENCY must be at least 1")
        from handoff.rasa_client import parse_rasa_urls

        parse_rasa_urls(self.rasa_url)  # RASA_URL may list several servers, comma-separated
        if self.rasa_queue_wait is not None and self.rasa_queue_wait <= 0:
            raise ValueError("HUB_RASA_QUEUE_WAIT must be positive")
        if self.bot_unavailable_priority not in ("urgent", "high", "normal"):
            raise ValueError("HUB_BOT_UNAVAILABLE_PRIORITY must be urgent, high or normal, "
                             f"got {self.bot_unavailable_priority!r}")
        if min(self.login_limit, self.login_address_limit, self.login_account_limit) < 1 or self.login_window <= 0:
            raise ValueError("HUB_LOGIN_* limits and window must be positive")
        if self.proxies_count < 0 or self.session_check_seconds <= 0:
            raise ValueError("HUB_PROXIES_COUNT must be ≥ 0 and HUB_SESSION_CHECK positive")
        if self.redis_timeout <= 0 or self.db_busy_timeout <= 0 or self.bot_retry_every <= 0:
            raise ValueError("HUB_REDIS_TIMEOUT, HUB_DB_BUSY_TIMEOUT and HUB_BOT_RETRY_EVERY must be positive")
        if self.away_requeue_after < 0:
            raise ValueError("HUB_AWAY_REQUEUE_AFTER must be 0 (never) or a positive number of seconds")
        if self.limit_window <= 0 or min(self.open_per_address, self.open_per_customer,
                                         self.queue_per_address, self.queue_per_customer,
                                         self.tickets_per_address, self.tickets_per_customer,
                                         self.typing_per_address, self.typing_per_customer) < 0:
            raise ValueError("HUB_LIMIT_WINDOW must be positive and the HUB_*_PER_* limits ≥ 0 (0: off)")
        parse_networks(",".join(self.trusted_proxies))
        if self.silence_agent_after < 0 or self.silence_supervisor_after < self.silence_agent_after \
                or self.silence_check_every <= 0:
            raise ValueError("HUB_SILENCE_AGENT_AFTER must be ≥ 0 (0: off), HUB_SILENCE_SUPERVISOR_AFTER not "
                             "below it, and HUB_SILENCE_CHECK_EVERY positive")
        if self.kb_gate not in ("touched", "full"):
            raise ValueError(f"HUB_KB_GATE must be touched or full, got {self.kb_gate!r}")
        if self.agent_away_after < 0:
            raise ValueError("HUB_AGENT_AWAY_AFTER must be 0 (off) or a positive number of seconds")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        secret = env.get("HUB_IDENTITY_SECRET")
        seed_passwords = {
            name: env[var]
            for name, var in (
                ("supervisor", "HUB_SUPERVISOR_PASSWORD"),
                ("agent1", "HUB_AGENT1_PASSWORD"),
                ("agent2", "HUB_AGENT2_PASSWORD"),
            )
            if env.get(var)
        }
        kwargs: dict = {
            "host": env.get("HUB_HOST", "127.0.0.1"),
            "port": _env_int(env, "HUB_PORT", 8000),
            "rasa_url": env.get("RASA_URL", "http://localhost:5005").rstrip("/"),
            "rasa_timeout": _env_float(env, "HUB_RASA_TIMEOUT", 10.0),
            "rasa_concurrency": _env_int(env, "HUB_RASA_CONCURRENCY", 16),
            "rasa_queue_wait": _env_float(env, "HUB_RASA_QUEUE_WAIT", 0.0) if env.get("HUB_RASA_QUEUE_WAIT") else None,
            "database_url": default_database_url(env),
            "redis_url": env.get("REDIS_URL") or None,
            "assign_mode": env.get("HUB_ASSIGN", "manual"),
            "working_hours": parse_hours(env.get("HUB_WORKING_HOURS", "09:00-22:00")),
            "timezone": env.get("HUB_TIMEZONE", "Asia/Shanghai"),
            "max_message_chars": _env_int(env, "HUB_MAX_MESSAGE_CHARS", 2000),
            "rate_limit_count": _env_int(env, "HUB_RATE_LIMIT", 20),
            "rate_limit_window": _env_float(env, "HUB_RATE_WINDOW", 10.0),
            "default_eta_seconds": _env_int(env, "HUB_DEFAULT_ETA", 180),
            "bot_unavailable_priority": env.get("HUB_BOT_UNAVAILABLE_PRIORITY") or "normal",
            "agent_away_after": _env_float(env, "HUB_AGENT_AWAY_AFTER", 60.0),
            "cookie_secure": env.get("HUB_COOKIE_SECURE", "") in ("1", "true", "yes"),
            "allowed_origins": env.get("HUB_ALLOWED_ORIGINS", "*"),
            "seed_demo": env.get("HUB_SEED_DEMO", "1") not in ("0", "false", "no"),
            "seed_passwords": seed_passwords,
            "public_url": env.get("HUB_PUBLIC_URL") or None,
            "access_log": env.get("HUB_ACCESS_LOG", "") in ("1", "true", "yes"),
            "proxies_count": _env_int(env, "HUB_PROXIES_COUNT", 0),
            "login_window": _env_float(env, "HUB_LOGIN_WINDOW", 900.0),
            "login_limit": _env_int(env, "HUB_LOGIN_LIMIT", 10),
            "login_address_limit": _env_int(env, "HUB_LOGIN_ADDRESS_LIMIT", 30),
            "login_account_limit": _env_int(env, "HUB_LOGIN_ACCOUNT_LIMIT", 50),
            "session_check_seconds": _env_float(env, "HUB_SESSION_CHECK", 30.0),
            "redis_timeout": _env_float(env, "HUB_REDIS_TIMEOUT", 1.5),
            "db_busy_timeout": _env_float(env, "HUB_DB_BUSY_TIMEOUT", 2.0),
            "bot_retry_every": _env_float(env, "HUB_BOT_RETRY_EVERY", 5.0),
            "away_requeue_after": _env_float(env, "HUB_AWAY_REQUEUE_AFTER", 120.0),
            "silence_agent_after": _env_float(env, "HUB_SILENCE_AGENT_AFTER", 30.0),
            "silence_supervisor_after": _env_float(env, "HUB_SILENCE_SUPERVISOR_AFTER", 120.0),
            "silence_check_every": _env_float(env, "HUB_SILENCE_CHECK_EVERY", 5.0),
            "trusted_proxies": tuple(p.strip() for p in env.get("HUB_TRUSTED_PROXIES", "").split(",") if p.strip()),
            "limit_window": _env_float(env, "HUB_LIMIT_WINDOW", 600.0),
            "open_per_address": _env_int(env, "HUB_OPEN_PER_ADDRESS", 60),
            "open_per_customer": _env_int(env, "HUB_OPEN_PER_CUSTOMER", 30),
            "queue_per_address": _env_int(env, "HUB_QUEUE_PER_ADDRESS", 10),
            "queue_per_customer": _env_int(env, "HUB_QUEUE_PER_CUSTOMER", 5),
            "tickets_per_address": _env_int(env, "HUB_TICKETS_PER_ADDRESS", 10),
            "tickets_per_customer": _env_int(env, "HUB_TICKETS_PER_CUSTOMER", 3),
            "typing_per_address": _env_int(env, "HUB_TYPING_PER_ADDRESS", 100),
            "typing_per_customer": _env_int(env, "HUB_TYPING_PER_CUSTOMER", 10),
            "kb_retrain": env.get("HUB_KB_RETRAIN", "") in ("1", "true", "yes"),
            "kb_root": Path(env.get("HUB_KB_ROOT") or ROOT),
            "kb_gate": env.get("HUB_KB_GATE") or "touched",
            "kb_gate_smoke": _env_int(env, "HUB_KB_GATE_SMOKE", 1),
        }
        if secret:
            kwargs["identity_secret"] = secret
            kwargs["identity_secret_generated"] = False
        return cls(**kwargs)
