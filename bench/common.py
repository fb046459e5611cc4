"""Shared bench helpers: machine description, percentiles, process memory, result files.

Every result file carries the machine it was measured on (cores, load, Python, package
versions, git commit) because figures from a shared 2-core box mean nothing without it.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
PACKAGES = ("rasa", "rasa-sdk", "sanic", "aiohttp", "SQLAlchemy", "psycopg2-binary", "redis",
            "wechatpy", "tensorflow", "spacy", "jieba")

# Targets from the issue, printed next to the figures.
TARGETS = {
    "hub_overhead_ratio_max": 1.2,
    "bot_turns_per_s_min_at_100": 150.0,
    "p99_ms_max_at_100": 200.0,
    "handoff_p99_ms_max": 100.0,
    "agent_reply_p99_ms_max": 100.0,
    "wechat_callback_p99_ms_max": 1000.0,
    "training_s_max": 180.0,
    "rasa_rss_mb_max": 800.0,
}


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), same as numpy's default; None if empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    data = sorted(values)
    if not data:
        return None
    pos = (len(data) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summarize_ms(seconds: Sequence[float]) -> dict[str, Any]:
    """p50/p95/p99/max in milliseconds of latencies given in seconds."""
    ms = [s * 1000.0 for s in seconds]

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 1)

    return {
        "n": len(ms),
        "p50_ms": r(percentile(ms, 50)),
        "p95_ms": r(percentile(ms, 95)),
        "p99_ms": r(percentile(ms, 99)),
        "max_ms": r(max(ms) if ms else None),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b rounded, None when either is missing or b is zero (no made-up infinities)."""
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


def verdict(value: float | None, limit: float, higher_is_better: bool = False) -> str:
    """'met' / 'missed' / 'n/a' against a target, for the printed table (never an exit code)."""
    if value is None:
        return "n/a"
    ok = value >= limit if higher_is_better else value <= limit
    return "met" if ok else "missed"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, check=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info() -> dict[str, Any]:
    """Where and on what the figures were measured."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "loadavg_1_5_15": load,
        "packages": versions,
        "git_commit": _git_commit(),
        "measured_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def rss_mb(pid: int) -> float | None:
    """Resident memory of one process from /proc (Linux), in MB; None if it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        return None
    return None


def cpu_seconds(pid: int, children: bool = False) -> float | None:
    """utime + stime of one process from /proc (Linux), in seconds, with its reaped children's
    when `children`; None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15 if children else 13]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def process_cpu_seconds() -> float:
    """CPU time (user + system) of this process: the load generator reports its own cost."""
    t = os.times()
    return round(t.user + t.system, 2)


class LocalWebApp:
    """A small aiohttp app on a free loopback port (stand-ins for Rasa or WeChat's API);
    subclasses add their routes in `routes`."""

    def __init__(self) -> None:
        self.url = ""
        self._runner: Any = None

    def routes(self, app: Any) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        from aiohttp import web

        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def wait_event(ws: Any, match: Callable[[dict], bool], timeout: float = 15.0) -> float | None:
    """perf_counter time at which a JSON event matching `match` arrived on an aiohttp
    websocket; None on timeout or close."""
    import aiohttp

    deadline = time.perf_counter() + timeout
    while (left := deadline - time.perf_counter()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except asyncio.TimeoutError:
            return None
        if msg.type != aiohttp.WSMsgType.TEXT:
            return None
        try:
            event = json.loads(msg.data)
        except ValueError:
            continue
        if match(event):
            return time.perf_counter()
    return None


def queued(cid: str) -> Callable[[dict], bool]:
    """Matches the console's queue event once it lists conversation `cid`."""
    return lambda e: e.get("type") == "queue" and cid in [i.get("conversation_id") for i in e.get("items", [])]


def write_result(name: str, payload: dict[str, Any], out_dir: Path = RESULTS) -> Path:
    """Write `<name>.json` with the machine description added; returns the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    body = {"benchmark": name, "machine": machine_info(), **payload}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the stack under test
# started by bot.stack, as `make run` starts it

BENCH_PASSWORDS = {"supervisor": "bench-super-pw", "agent1": "bench-agent1-pw", "agent2": "bench-agent2-pw"}


# The load generators are one client address: the customer-side limits per address and per
# customer would refuse most of their conversations and queue entries (they are tested in tests/hub).
NO_CUSTOMER_LIMITS = {f"HUB_{kind}_PER_{who}": "0" for kind in ("OPEN", "QUEUE", "TICKETS", "TYPING")
                      for who in ("ADDRESS", "CUSTOMER")}


def hub_env(hub_db_url: str, orders_db_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for bench hubs: known agent passwords, always open, no per-customer rate
    limit or customer-side limit in the way of a load test (the limits are tested in tests/hub)."""
    return {
        **NO_CUSTOMER_LIMITS,
        "DATABASE_URL": orders_db_url,
        "HUB_DATABASE_URL": hub_db_url,
        "HUB_SUPERVISOR_PASSWORD": BENCH_PASSWORDS["supervisor"],
        "HUB_AGENT1_PASSWORD": BENCH_PASSWORDS["agent1"],
        "HUB_AGENT2_PASSWORD": BENCH_PASSWORDS["agent2"],
        "HUB_WORKING_HOURS": "00:00-24:00",
        "HUB_RATE_LIMIT": "100000",
        "HUB_IDENTITY_SECRET": "bench-identity-secret",
        **(extra or {}),
    }


def seed_orders(db_url: str) -> list[tuple[str, str]]:
    """Seed a fresh order DB and return (order_id, phone tail) pairs for verification turns."""
    env = {**os.environ, "DATABASE_URL": db_url}
    subprocess.run([sys.executable, "-m", "bot.orders.seed", "--if-empty"], cwd=REPO, env=env,
                   check=True, capture_output=True)
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT order_id, receiver_phone FROM shop_orders ORDER BY order_id LIMIT 200")).all()
    engine.dispose()
    if not rows:
        raise RuntimeError("the order seed produced no orders")
    return [(r[0], r[1][-4:]) for r in rows]


@contextmanager
def fresh_pg_database(admin_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database next to `admin_url`'s; dropped (its
    connections ended) afterwards. Shared by the benchmarks and the multi-process tests."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()
