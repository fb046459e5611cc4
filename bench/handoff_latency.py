"""Handoff delivery latency: customer's angry message -> agent console queue event, and agent
reply -> customer widget event; one hub on SQLite, and two hubs on PostgreSQL + Redis.

    .venv/bin/python -m bench.handoff_latency [--samples 30] [--modes single scaled] [--tree PATH]

Latencies are measured from the start of the HTTP send to the arrival of the websocket event
at the other side (customer on hub 1, agent on hub 2 in the scaled mode). The console is the
supervisor's: an agent's console lists only its skill groups' chats, and the angry messages hand
off to several groups. `--tree` runs the hubs of another checkout on this one's Rasa stack (the
before/after comparison, bench/before_after.py). Samples run one after
another: this is the delivery path, not a load test. Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import psycopg2

from bench.common import (
    BENCH_PASSWORDS,
    TARGETS,
    fresh_pg_database,
    hub_env,
    machine_info,
    queued,
    seed_orders,
    summarize_ms,
    verdict,
    wait_event,
    write_result,
)
from bot.stack import ROOT, HubService, start_stack

ANGRY = ("气死我了！你们这什么垃圾服务，等了三天还没发货！！", "太过分了！！退款到现在都没到，我要投诉！",
         "你们是骗子吧？！钱扣了订单却没有，气死了！！")
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def agent_message(text: str) -> Callable[[dict], bool]:
    return lambda e: (e.get("type") == "message" and e["message"].get("author") == "agent"
                      and e["message"].get("text") == text)


async def one_sample(session: aiohttp.ClientSession, customer_hub: str, agent_hub: str,
                     agent_token: str, aws: aiohttp.ClientWebSocketResponse, i: int) -> dict[str, Any]:
    """One full handoff round trip; returns latencies (s) or the error seen."""
    async with session.post(f"{customer_hub}/api/conversations", json={"channel": "web"}) as resp:
        info = await resp.json()
    cid, token = info["conversation_id"], info["token"]
    ws_url = f"{customer_hub.replace('http', 'ws', 1)}/ws/customer?conversation_id={cid}&token={token}"
    auth = {"Authorization": f"Bearer {agent_token}"}
    async with session.ws_connect(ws_url) as cws:
        t0 = time.perf_counter()
        send = asyncio.create_task(session.post(
            f"{customer_hub}/api/conversations/{cid}/messages",
            headers={"Authorization": f"Bearer {token}"},
            json={"text": ANGRY[i % len(ANGRY)], "client_msg_id": f"h-{i}"}))
        t_queue = await wait_event(aws, queued(cid))
        resp = await send
        resp.release()
        if t_queue is None:
            return {"error": "not_queued"}
        async with session.post(f"{agent_hub}/api/agent/conversations/{cid}/claim", headers=auth) as r:
            if r.status != 200:
                return {"error": f"claim_{r.status}"}
        text = f"您好，我是客服，马上为您处理 #{i}"
        t1 = time.perf_counter()
        async with session.post(f"{agent_hub}/api/agent/conversations/{cid}/messages", headers=auth,
                                json={"text": text, "internal": False}) as r:
            r.release()
        t_reply = await wait_event(cws, agent_message(text))
        async with session.post(f"{agent_hub}/api/agent/conversations/{cid}/close", headers=auth) as r:
            r.release()
        if t_reply is None:
            return {"error": "reply_not_delivered", "handoff_s": t_queue - t0}
        return {"handoff_s": t_queue - t0, "reply_s": t_reply - t1}


CONSOLE_USER = "supervisor"


def start_hub(env: dict[str, str], log_path: Path, tree: Path) -> HubService:
    hub = HubService(env, log_path, tree=tree)
    hub.start(60)
    return hub


async def measure(customer_hub: str, agent_hub: str, samples: int, warmup: int = 3) -> dict[str, Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        async with session.post(f"{agent_hub}/api/agent/login",
                                json={"username": CONSOLE_USER, "password": BENCH_PASSWORDS[CONSOLE_USER],
                                      "bearer": True}) as r:
            if r.status != 200:
                raise RuntimeError(f"agent login failed: {r.status} {await r.text()}")
            token = (await r.json())["token"]
        auth = {"Authorization": f"Bearer {token}"}
        async with session.post(f"{agent_hub}/api/agent/presence", headers=auth, json={"status": "online"}) as r:
            r.release()
        ws_url = f"{agent_hub.replace('http', 'ws', 1)}/ws/agent?token={token}"
        handoff, reply, errors = [], [], {}
        async with session.ws_connect(ws_url) as aws:
            for i in range(warmup + samples):
                got = await one_sample(session, customer_hub, agent_hub, token, aws, i)
                if i < warmup:
                    continue
                if "error" in got:
                    errors[got["error"]] = errors.get(got["error"], 0) + 1
                if "handoff_s" in got:
                    handoff.append(got["handoff_s"])
                if "reply_s" in got:
                    reply.append(got["reply_s"])
    return {"handoff": summarize_ms(handoff), "agent_reply": summarize_ms(reply), "errors": errors}


def run(samples: int, modes: Sequence[str], model_arg: str | None = None, tree: Path = ROOT) -> dict[str, Any]:
    from bench.load_hub import pick_model

    model = pick_model(model_arg)
    out: dict[str, Any] = {"setup": {"samples": samples, "warmup": 3, "model": model.name, "hub_tree": str(tree),
                                     "console": CONSOLE_USER}, "modes": {}}
    with tempfile.TemporaryDirectory(prefix="kefu-bench-ho-") as tmp_s:
        tmp = Path(tmp_s)
        orders_url = f"sqlite:///{tmp / 'orders.db'}"
        seed_orders(orders_url)
        base_env = hub_env(f"sqlite:///{tmp / 'hub.db'}", orders_url)
        stack = start_stack(model, env=base_env, log_dir=tmp / "logs", tracker_db=tmp / "trackers.db", workers=1)
        try:
            if "single" in modes:
                hub = start_hub({**base_env, "RASA_URL": stack.rasa_url}, tmp / "logs" / "hub-single.log", tree)
                try:
                    res = asyncio.run(measure(hub.url, hub.url, samples))
                finally:
                    hub.stop()
                out["modes"]["single"] = {"hubs": 1, "store": "sqlite", "fan_out": "in-process", **res}
                _print("single (1 hub, SQLite)", res)
            if "scaled" in modes:
                try:
                    with fresh_pg_database(PG_ADMIN, "kefu_bench") as pg:
                        env = hub_env(pg, orders_url, {"REDIS_URL": REDIS_URL})
                        hubs = []
                        try:
                            for k in (1, 2):
                                hubs.append(start_hub({**env, "RASA_URL": stack.rasa_url},
                                                      tmp / "logs" / f"hub{k}.log", tree))
                            res = asyncio.run(measure(hubs[0].url, hubs[1].url, samples))
                        finally:
                            for hub in hubs:
                                hub.stop()
                    out["modes"]["scaled"] = {"hubs": 2, "store": "postgresql", "fan_out": "redis",
                                              "customer_on": "hub1", "agent_on": "hub2", **res}
                    _print("scaled (2 hubs, PostgreSQL + Redis)", res)
                except psycopg2.OperationalError as exc:
                    out["modes"]["scaled"] = {"not_available": str(exc)}
        finally:
            stack.stop()
    return out


def _print(label: str, res: dict[str, Any]) -> None:
    h, r = res["handoff"], res["agent_reply"]
    print(f"  {label}: handoff p50 {h['p50_ms']} / p99 {h['p99_ms']} ms "
          f"({verdict(h['p99_ms'], TARGETS['handoff_p99_ms_max'])} p99 <= 100); agent reply p50 {r['p50_ms']} / "
          f"p99 {r['p99_ms']} ms ({verdict(r['p99_ms'], TARGETS['agent_reply_p99_ms_max'])} p99 <= 100); "
          f"errors {res['errors']}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--modes", nargs="+", choices=("single", "scaled"), default=["single", "scaled"])
    ap.add_argument("--model", help="model archive (default: the model for the current data)")
    ap.add_argument("--tree", type=Path, default=ROOT, help="checkout whose hubs run (default: this one)")
    ap.add_argument("--out", default="handoff_latency", help="result file name (bench/results/<out>.json)")
    args = ap.parse_args(argv)
    if args.samples <= 0:
        ap.error("--samples must be positive")
    print(f"[handoff_latency] machine: {machine_info()['cpu_count']} cores, load {machine_info()['loadavg_1_5_15']}")
    path = write_result(args.out, run(args.samples, args.modes, args.model, args.tree.resolve()))
    print(f"[handoff_latency] -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
