"""Scaling out on one machine: hubs, Rasa servers and action servers as separate processes on
PostgreSQL + Redis behind HAProxy (deploy/haproxy.cfg), started by bot.stack as in
docker-compose.yml.

    .venv/bin/python -m bench.scale [--customers 30] [--duration 30] [--no-single] [--no-failover]

Two runs, figures only:
- **throughput per added process**: one stack of two of each, and a third hub whose `RASA_URL`
  names only the first Rasa server. Short runs alternate between that hub (one hub, one Rasa)
  and the balancer (two hubs, two Rasa), A B A B ..., so both see the same machine: on a shared
  2-core box other work comes and goes, and separate stacks minutes apart measured mostly that.
  The action servers (~3 ms of a turn) are behind the balancer in both. Figures per run:
  turns/s, latency, CPU seconds per process, CPU ms per turn, load average; the scaling ratio is
  the mean turns/s of the two-Rasa runs over that of the one-Rasa runs.
- **failover**: two of each under load; one action server, then one Rasa server, then one hub is
  killed (SIGKILL, no clean shutdown). Afterwards, from the database: every acknowledged
  customer message is stored; every one is answered by the bot, or its conversation is queued
  as `bot_unavailable` (or was already with the agents); the conversations of the dead Rasa got
  bot answers from the other one after the kill.

The failover run is also a test (tests/test_scale_failover.py) with a shorter load.
Customers are calm (load_hub's scripts), each a closed loop without think time, all from
127.0.0.1 through the balancer; a turn that fails (balancer 502/503, refused, reset) is sent
again with the same `client_msg_id` as the widget does, until it is acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    cpu_seconds,
    fresh_pg_database,
    hub_env,
    machine_info,
    process_cpu_seconds,
    seed_orders,
    summarize_ms,
    write_result,
)
from bench.load_hub import SEED, conversation_script
from bot.stack import Stack, start_stack

PG_ADMIN = os.environ.get("HUB_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Every customer comes from 127.0.0.1 (through the balancer), so the per-address limits that
# guard against one address opening hundreds of chats are out of the way here.
ROOMY_LIMITS = {"HUB_OPEN_PER_ADDRESS": "0", "HUB_QUEUE_PER_ADDRESS": "0", "HUB_TICKETS_PER_ADDRESS": "0",
                "HUB_TYPING_PER_ADDRESS": "0", "HUB_OPEN_PER_CUSTOMER": "0", "HUB_QUEUE_PER_CUSTOMER": "0"}
# A bot turn cut off by a dead hub is run again once its lease (queue wait + timeout + 5 s) ends.
HUB_TIMINGS = {"HUB_RASA_TIMEOUT": "8", "HUB_RASA_QUEUE_WAIT": "4", "HUB_BOT_RETRY_EVERY": "2"}
KILL_ORDER = ("actions-2", "rasa", "hub")  # one of each: an action server, a Rasa, a hub


def scaled_env(pg_url: str, redis_url: str) -> dict[str, str]:
    """One PostgreSQL database for the shop, the hub and Rasa's trackers; Redis for the hubs'
    fan-out and Rasa's lock store (bot.stack.endpoints_config reads both)."""
    return {**hub_env(pg_url, pg_url, {**ROOMY_LIMITS, **HUB_TIMINGS}), "REDIS_URL": redis_url}


def start_scaled(model: Path, per_kind: int, pg_url: str, redis_url: str, log_dir: Path) -> Stack:
    """`per_kind` hubs, Rasa servers and action servers behind the balancer."""
    return start_stack(model, env=scaled_env(pg_url, redis_url), log_dir=log_dir, with_hub=True,
                       workers=per_kind, action_servers=per_kind, hubs=per_kind, balancer=True)


@dataclass
class Ack:
    """A customer message the hub acknowledged (200, or 503 reply_pending: stored, answer owed)."""

    conversation: str
    message_id: str
    sent_at: float  # seconds since the run started
    latency: float
    authors: list[str]  # of the replies in the response
    attempts: int


@dataclass
class Run:
    started: float = field(default_factory=time.monotonic)
    acks: list[Ack] = field(default_factory=list)
    conversations: list[str] = field(default_factory=list)
    retries: int = 0  # sends repeated after a failed attempt
    unacknowledged: int = 0  # turns given up at the end of the run (never acknowledged)
    errors: dict[str, int] = field(default_factory=dict)
    kills: dict[str, float] = field(default_factory=dict)  # service -> seconds since start

    def now(self) -> float:
        return time.monotonic() - self.started

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def _open(session: aiohttp.ClientSession, base: str, run: Run, give_up: float) -> tuple[str, str] | None:
    while run.now() < give_up:
        try:
            async with session.post(f"{base}/api/conversations", json={"channel": "web"}) as resp:
                if resp.status == 201:
                    info = await resp.json()
                    run.conversations.append(info["conversation_id"])
                    return info["conversation_id"], info["token"]
                run.error(f"open_{resp.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            run.error(f"open_{type(exc).__name__}")
        await asyncio.sleep(0.3)
    return None


async def _send(session: aiohttp.ClientSession, base: str, conv: tuple[str, str], text: str, key: str,
                run: Run, give_up: float) -> Ack | None:
    """Send until acknowledged, always with the same client_msg_id (a re-send is answered from
    what the first one stored)."""
    cid, token = conv
    sent_at, attempts = run.now(), 0
    while run.now() < give_up:
        attempts += 1
        t0 = time.monotonic()
        try:
            async with session.post(f"{base}/api/conversations/{cid}/messages", json={"text": text, "client_msg_id": key},
                                    headers={"Authorization": f"Bearer {token}"}) as resp:
                body = await resp.json(content_type=None)
                if resp.status == 200:
                    return Ack(cid, body["message"]["id"], sent_at, time.monotonic() - t0,
                               [r["author"] for r in body.get("replies", [])], attempts)
                if resp.status == 503 and isinstance(body, dict) and body.get("error") == "reply_pending":
                    # stored, the answer is owed (its hub lost the database or died): the widget
                    # re-sends later; here the database check below looks for the answer
                    run.error("reply_pending")
                run.error(f"send_{resp.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            run.error(f"send_{type(exc).__name__}")
        run.retries += 1
        await asyncio.sleep(0.3)
    run.unacknowledged += 1
    return None


async def _customer(session: aiohttp.ClientSession, base: str, scripts: Any, run: Run, stop_at: float) -> None:
    """Conversations back to back until `stop_at`; a queued one (the bot failed) is left, as a
    customer waiting for an agent would, and a new one is opened."""
    while run.now() < stop_at:
        conv = await _open(session, base, run, stop_at)
        if conv is None:
            return
        for i, text in enumerate(next(scripts)):
            if run.now() >= stop_at:
                return
            ack = await _send(session, base, conv, text, f"t{i}", run, stop_at + 20)
            if ack is None:
                return
            run.acks.append(ack)
            if "bot" not in ack.authors:
                break


async def _kill_later(stack: Stack, name: str, at: float, run: Run) -> None:
    await asyncio.sleep(max(0.0, at - run.now()))
    run.kills[name] = round(run.now(), 2)
    await asyncio.get_running_loop().run_in_executor(None, stack.service(name).kill)
    print(f"[scale] t={run.kills[name]:.1f} s: killed {name}", flush=True)


async def drive(stack: Stack, orders: Sequence[tuple[str, str]], customers: int, duration: float,
                kills: Sequence[tuple[str, float]] = (), seed: int = SEED, base_url: str | None = None) -> Run:
    """`customers` closed-loop customers through the balancer (or `base_url`) for `duration` s,
    with the processes in `kills` killed at the given seconds."""
    rng = random.Random(seed)
    scripts = (conversation_script(rng, orders[i % len(orders)]) for i in itertools.count())
    run = Run()
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        base = base_url or stack.hub_url
        assert base is not None
        killers = [asyncio.ensure_future(_kill_later(stack, name, at, run)) for name, at in kills]
        await asyncio.gather(*(_customer(session, base, scripts, run, duration) for _ in range(customers)))
        await asyncio.gather(*killers)
    return run


async def warm_up(stack: Stack, orders: Sequence[tuple[str, str]], base_url: str | None = None) -> None:
    """Each Rasa's model graphs and every pool hot before anything is counted."""
    await drive(stack, orders, customers=2 * len(stack.rasa_urls), duration=8, seed=SEED + 1, base_url=base_url)


def verify(pg_url: str, run: Run, rasa_urls: Sequence[str], drain_s: float = 45) -> dict[str, Any]:
    """What became of every acknowledged message, read from the hub's database once no bot
    turn is owed any more (a turn cut off by a dead hub runs again after its lease)."""
    from sqlalchemy import bindparam, create_engine, text

    from handoff.rasa_client import pick_server

    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    ids = [a.message_id for a in run.acks]
    convs = sorted({a.conversation for a in run.acks})
    try:
        deadline = time.monotonic() + drain_s
        owed = -1
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                owed = conn.execute(text("SELECT count(*) FROM hub_bot_turns WHERE conversation_id IN :c")
                                    .bindparams(bindparam("c", expanding=True)), {"c": convs or [""]}).scalar()
            if owed == 0:
                break
            time.sleep(1)
        with engine.connect() as conn:
            stored = {r[0]: r[1] for r in conn.execute(
                text("SELECT id, created_at FROM hub_messages WHERE id IN :ids").bindparams(
                    bindparam("ids", expanding=True)), {"ids": ids or [""]})}
            replies: dict[str, set[str]] = {}
            for reply_to, author in conn.execute(
                    text("SELECT reply_to, author FROM hub_messages WHERE reply_to IN :ids").bindparams(
                        bindparam("ids", expanding=True)), {"ids": ids or [""]}):
                replies.setdefault(reply_to, set()).add(author)
            queued: dict[str, tuple[float, str]] = {}  # conversation -> first handoff (time, reason)
            for cid, queued_at, reason in conn.execute(
                    text("SELECT conversation_id, queued_at, reason FROM hub_handoffs WHERE conversation_id IN :c "
                         "ORDER BY queued_at").bindparams(bindparam("c", expanding=True)), {"c": convs or [""]}):
                queued.setdefault(cid, (queued_at, reason))
    finally:
        engine.dispose()

    outcome: dict[str, int] = {"answered_by_bot": 0, "bot_unavailable": 0, "with_agents": 0, "unanswered": 0}
    unanswered: list[str] = []
    rasa_killed_at = run.kills.get("rasa")
    of_dead_after_kill = {"turns": 0, "answered_by_bot": 0, "bot_unavailable": 0, "conversations": set()}
    for ack in run.acks:
        authors = replies.get(ack.message_id, set())
        handoff = queued.get(ack.conversation)
        created = stored.get(ack.message_id)
        if "bot" in authors:
            kind = "answered_by_bot"
        elif handoff and handoff[1] == "bot_unavailable" and "system" in authors:
            kind = "bot_unavailable"
        elif handoff and created is not None and created >= handoff[0]:
            kind = "with_agents"  # sent after the handoff: an agent's to answer, not the bot's
        else:
            kind = "unanswered"
            unanswered.append(ack.message_id)
        outcome[kind] += 1
        if (rasa_killed_at is not None and ack.sent_at > rasa_killed_at + 1
                and pick_server(ack.conversation, list(rasa_urls)) == 0):  # "rasa" is rasa_urls[0]
            of_dead_after_kill["turns"] += 1
            of_dead_after_kill["conversations"].add(ack.conversation)
            if kind in ("answered_by_bot", "bot_unavailable"):
                of_dead_after_kill[kind] += 1
    per_conversation = {"answered": 0, "queued_bot_unavailable": 0, "queued_by_the_bot": 0}
    for cid in convs:
        handoff = queued.get(cid)
        if handoff is None:
            per_conversation["answered"] += 1
        elif handoff[1] == "bot_unavailable":
            per_conversation["queued_bot_unavailable"] += 1
        else:
            per_conversation["queued_by_the_bot"] += 1  # the bot answered with a handoff
    return {
        "acknowledged": len(ids),
        "lost": len([i for i in ids if i not in stored]),
        "owed_turns_left": owed,
        "outcome": outcome,
        "unanswered_ids": unanswered[:20],
        "conversations": per_conversation,
        "dead_rasa_conversations_after_kill": {**of_dead_after_kill,
                                               "conversations": len(of_dead_after_kill["conversations"])},
    }


def phases(run: Run, duration: float) -> list[dict[str, Any]]:
    """Bot-answered turns/s between kills: what the survivors carried after each."""
    bounds = [0.0, *sorted(run.kills.values()), duration]
    names = ["all up", *(f"after {name}" for name, _ in sorted(run.kills.items(), key=lambda kv: kv[1]))]
    out = []
    for name, lo, hi in zip(names, bounds, bounds[1:], strict=False):
        sent = [a for a in run.acks if lo <= a.sent_at < hi]
        turns = [a for a in sent if "bot" in a.authors]
        out.append({"phase": name, "from_s": round(lo, 1), "to_s": round(hi, 1), "bot_answered_turns": len(turns),
                    "not_answered_by_bot_at_once": len(sent) - len(turns),
                    "turns_per_s": round(len(turns) / (hi - lo), 1) if hi > lo else None})
    return out


def summarize(run: Run, duration: float) -> dict[str, Any]:
    answered = [a for a in run.acks if "bot" in a.authors]
    return {
        "customers_conversations": len(run.conversations),
        "acknowledged_turns": len(run.acks),
        "bot_answered_turns": len(answered),
        "turns_per_s": round(len(answered) / duration, 1),
        **summarize_ms([a.latency for a in answered]),
        "retries": run.retries,
        "unacknowledged": run.unacknowledged,
        "errors": run.errors,
        "kills_at_s": run.kills,
        "phases": phases(run, duration) if run.kills else None,
    }


def _cpu_by_process(stack: Stack) -> dict[str, float | None]:
    return {s.name: cpu_seconds(s.pid) for s in stack.processes if s.proc is not None and s.poll() is None}


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _timed_run(stack: Stack, orders: Sequence[tuple[str, str]], customers: int, duration: float,
               kills: Sequence[tuple[str, float]] = (), base_url: str | None = None) -> tuple[Run, dict[str, Any]]:
    """One load run with the CPU each process used during it."""
    load_before = _loadavg()
    cpu0, gen0 = _cpu_by_process(stack), process_cpu_seconds()
    run = asyncio.run(drive(stack, orders, customers, duration, kills, base_url=base_url))
    cpu1 = _cpu_by_process(stack)
    cpu = {k: round(cpu1[k] - v, 1) for k, v in cpu0.items() if v is not None and cpu1.get(k) is not None}
    summary = summarize(run, duration)
    answered = summary["bot_answered_turns"]
    return run, {"customers": customers, "duration_s": duration, **summary, "cpu_s_by_process": cpu,
                 # with kills, the killed processes' CPU is gone from /proc: no per-turn figure
                 "cpu_ms_per_turn": round(1000 * sum(cpu.values()) / answered, 1) if answered and not kills else None,
                 "rasa_cores_used": round(sum(v for k, v in cpu.items() if k.startswith("rasa")) / duration, 2),
                 "generator_cpu_s": round(process_cpu_seconds() - gen0, 2),
                 "loadavg_before": load_before, "loadavg_after": _loadavg()}


def throughput(model: Path, customers: int, duration: float, rounds: int, tmp: Path) -> dict[str, Any]:
    """Alternating runs: one hub + one Rasa (a hub outside the balancer whose RASA_URL names
    only the first Rasa) and two hubs + two Rasa (the balancer), `rounds` times each."""
    from bot.stack import HubService

    with fresh_pg_database(PG_ADMIN, "kefu_scale") as pg_url:
        orders = seed_orders(pg_url)
        stack = start_scaled(model, 2, pg_url, REDIS_URL, tmp / "logs-throughput")
        try:
            solo = HubService({**scaled_env(pg_url, REDIS_URL), "RASA_URL": stack.rasa_urls[0]},
                              tmp / "logs-throughput" / "hub-solo.log")
            solo.name = "hub-solo"
            stack.processes.append(solo)
            solo.start(60)
            asyncio.run(warm_up(stack, orders))
            asyncio.run(warm_up(stack, orders, base_url=solo.url))
            runs: dict[str, list[dict[str, Any]]] = {"1": [], "2": []}
            for r in range(rounds):
                for per_kind, base in (("1", solo.url), ("2", None)):
                    _, figures = _timed_run(stack, orders, customers, duration, base_url=base)
                    runs[per_kind].append(figures)  # idle processes (rasa-2 in a one-Rasa run) use ~0 CPU
                    print(f"[scale]   round {r + 1}, {per_kind} hub + {per_kind} Rasa: {figures['turns_per_s']} turns/s, "
                          f"p50 {figures['p50_ms']} ms, Rasa cores {figures['rasa_cores_used']}, "
                          f"load {figures['loadavg_after']}", flush=True)
        finally:
            stack.stop()
    mean = {k: round(sum(f["turns_per_s"] for f in v) / len(v), 1) for k, v in runs.items()}
    return {"runs": runs, "mean_turns_per_s": mean,
            "scaling_ratio_1_to_2": round(mean["2"] / mean["1"], 2) if mean["1"] else None,
            "per_round_ratio": [round(b["turns_per_s"] / a["turns_per_s"], 2) if a["turns_per_s"] else None
                                for a, b in zip(runs["1"], runs["2"], strict=True)]}


def measure(model: Path, per_kind: int, customers: int, duration: float, kills: Sequence[tuple[str, float]],
            tmp: Path) -> dict[str, Any]:
    """Start a fresh scaled stack (own database), warm it, run the load, verify."""
    with fresh_pg_database(PG_ADMIN, "kefu_scale") as pg_url:
        orders = seed_orders(pg_url)
        stack = start_scaled(model, per_kind, pg_url, REDIS_URL, tmp / f"logs-{per_kind}-{len(kills)}")
        try:
            asyncio.run(warm_up(stack, orders))
            run, figures = _timed_run(stack, orders, customers, duration, kills)
            result = {"processes_per_kind": per_kind, **figures, "check": verify(pg_url, run, stack.rasa_urls)}
        finally:
            stack.stop()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=30)
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of load per run")
    ap.add_argument("--rounds", type=int, default=3, help="alternating throughput runs of each kind")
    ap.add_argument("--model", help="model archive (default: the current data's)")
    ap.add_argument("--no-throughput", action="store_true", help="skip the throughput runs")
    ap.add_argument("--no-failover", action="store_true", help="skip the run with kills")
    args = ap.parse_args(argv)
    from bench.load_hub import pick_model

    model = pick_model(args.model)
    info = machine_info()
    print(f"[scale] {info['cpu_count']} cores, load {info['loadavg_1_5_15']}, model {model.name}", flush=True)
    out: dict[str, Any] = {"model": model.name, "settings": {**HUB_TIMINGS, "redis": REDIS_URL}}
    with tempfile.TemporaryDirectory(prefix="kefu-scale-") as tmp_name:
        tmp = Path(tmp_name)
        if not args.no_throughput:
            print(f"[scale] throughput: {args.customers} customers, {args.rounds} x 2 runs of {args.duration:.0f} s",
                  flush=True)
            out["throughput"] = throughput(model, args.customers, args.duration, args.rounds, tmp)
            out["scaling_ratio_1_to_2"] = out["throughput"]["scaling_ratio_1_to_2"]
            print(f"[scale] mean turns/s {out['throughput']['mean_turns_per_s']}, scaling ratio 1 -> 2: "
                  f"{out['scaling_ratio_1_to_2']} (per round {out['throughput']['per_round_ratio']})", flush=True)
        if not args.no_failover:
            step = args.duration / (len(KILL_ORDER) + 1)
            kills = [(name, round(step * (i + 1), 1)) for i, name in enumerate(KILL_ORDER)]
            print(f"[scale] failover: 2 of each, kills {kills}", flush=True)
            out["failover"] = measure(model, 2, args.customers, args.duration, kills, tmp)
            print(f"[scale]   {out['failover']['check']}", flush=True)
    path = write_result("scale", out)
    print(f"[scale] -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
