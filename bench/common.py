"""Shared bench helpers: machine description, percentiles, process memory, result files.

Every result file carries the machine it was measured on (cores, load, Python, package
versions, git commit) because figures from a shared 2-core box mean nothing without it.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
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


def process_cpu_seconds() -> float:
    """CPU time (user + system) of this process: the load generator reports its own cost."""
    t = os.times()
    return round(t.user + t.system, 2)


def write_result(name: str, payload: dict[str, Any], out_dir: Path = RESULTS) -> Path:
    """Write `<name>.json` with the machine description added; returns the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    body = {"benchmark": name, "machine": machine_info(), **payload}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the stack under test

BENCH_PASSWORDS = {"supervisor": "bench-super-pw", "agent1": "bench-agent1-pw", "agent2": "bench-agent2-pw"}


def hub_env(hub_db_url: str, orders_db_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for bench hubs: known agent passwords, always open, no per-customer rate
    limit in the way of a load test (the limit is tested in tests/hub)."""
    return {
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


def start_hub(env: dict[str, str], rasa_url: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    """One `python -m handoff` process on a free loopback port, as deployed; returns (process, url)."""
    from bot.runtime import free_port, wait_http

    port = free_port()
    full = {**os.environ, **env, "HUB_PORT": str(port), "RASA_URL": rasa_url, "PYTHONUNBUFFERED": "1"}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    proc = subprocess.Popen([sys.executable, "-m", "handoff"], cwd=REPO, env=full, stdout=handle,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", 60, proc)
    except BaseException:
        stop_process(proc)
        print(log_path.read_text(encoding="utf-8", errors="replace")[-2000:], file=sys.stderr)
        raise
    return proc, url


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGINT, then kill after `timeout`: only the process we started."""
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _serve_actions(port: int) -> None:
    """The rasa-sdk action server, registering only actions that have a name.

    rasa-sdk registers every non-abstract `Action` subclass and dies on a shared base class
    without `name()` (actions/aftersales.py `_TriageAction` at the time of writing), so
    `rasa run actions` cannot start; the bench skips such bases and otherwise serves the same
    actions the same way.
    """
    import inspect

    from rasa_sdk import endpoint, utils
    from rasa_sdk.executor import ActionExecutor
    from rasa_sdk.interfaces import Action

    def register_named(self: ActionExecutor) -> None:
        for action in utils.all_subclasses(Action):
            if action.__module__.startswith(("rasa.", "rasa_sdk.")) or inspect.isabstract(action):
                continue
            try:
                action().name()
            except NotImplementedError:
                continue
            self.register_action(action)

    ActionExecutor._register_all_actions = register_named  # type: ignore[method-assign]
    endpoint.run(action_package_name="actions", port=port)


def start_bench_stack(model: Path, log_dir: Path, env: dict[str, str], tracker_db: Path,
                      rasa_cmd: list[str] | None = None, workers: int = 1) -> Any:
    """Action server + Rasa server (API + REST channel), as `bot.runtime.start_stack` does, but
    with the tolerant action server above. Returns a `bot.runtime.Stack` (no hub).

    `rasa_cmd` replaces the Rasa launcher (default: `bot.runtime.rasa_launcher()`, the deployed one);
    `[".venv/bin/rasa"]` measures stock Rasa for before/after comparisons. `workers` Rasa
    processes share the tracker store, started one after the other as `start_stack` does; their
    URLs are `stack.rasa_urls` and `stack.processes[1:1 + workers]`."""
    from bot.runtime import Stack, free_port, rasa_launcher, wait_http, write_endpoints

    log_dir.mkdir(parents=True, exist_ok=True)
    rasa_port, action_port = free_port(), free_port()
    action_url = f"http://127.0.0.1:{action_port}/webhook"
    endpoints = write_endpoints(log_dir / "endpoints.yml", action_url, tracker_db)
    stack = Stack(rasa_url=f"http://127.0.0.1:{rasa_port}", action_url=action_url)
    run_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}

    def spawn(name: str, cmd: list[str]) -> subprocess.Popen:
        log = log_dir / f"{name}.log"
        stack.logs.append(log)
        handle = open(log, "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(cmd, cwd=REPO, env=run_env, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)
        stack.processes.append(proc)
        return proc

    try:
        actions = spawn("actions", [sys.executable, "-c",
                                    f"from bench.common import _serve_actions; _serve_actions({action_port})"])
        for i in range(workers):
            port = rasa_port if i == 0 else free_port()
            rasa = spawn("rasa" if i == 0 else f"rasa-{i + 1}",
                         [*(rasa_cmd or rasa_launcher()), "run", "--enable-api", "--model", str(model),
                          "--port", str(port), "--endpoints", str(endpoints), "--credentials", "credentials.yml"])
            stack.rasa_urls.append(f"http://127.0.0.1:{port}")
            if i == 0:
                wait_http(f"http://127.0.0.1:{action_port}/health", 120, actions)
            wait_http(f"http://127.0.0.1:{port}/status", 300, rasa)
    except BaseException:
        stack.stop()
        for log in stack.logs:
            print(f"--- {log.name} ---\n{log.read_text(encoding='utf-8', errors='replace')[-2000:]}",
                  file=sys.stderr)
        raise
    return stack


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
