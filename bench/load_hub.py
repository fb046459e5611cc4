"""Latency and throughput: N customers through the hub's widget API vs straight to Rasa.

    .venv/bin/python -m bench.load_hub [--levels 10 50 100 200] [--conversations 1] [--rasa-workers 2]

One asyncio + aiohttp process drives everything (it reports its own CPU time, so a starved
generator is visible). Each simulated customer holds realistic multi-turn conversations
(greeting, an FAQ, an order question with phone-tail verification, thanks; calm texts only, so
nothing is handed off), first through the hub (`POST /api/conversations/{id}/messages` with the
customer websocket open), then the same conversations straight to Rasa's REST webhook. Reply
latency is the time from sending a turn to its synchronous answer. With `--rasa-workers N` the
hub gets all N Rasa URLs and the direct path picks the Rasa for each conversation the way the
hub does (`handoff.rasa_client.pick_server`). Figures only, no pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    TARGETS,
    hub_env,
    machine_info,
    process_cpu_seconds,
    ratio,
    rss_mb,
    seed_orders,
    summarize_ms,
    verdict,
    write_result,
)
from bot.stack import start_stack, venv_bin

FAQS = ("退款一般多久能到账？", "运费怎么算", "你们客服几点上班", "支持哪些付款方式", "七天无理由退货怎么弄")
GREETS = ("你好", "您好", "在吗", "hi 你好")
THANKS = ("谢谢", "好的谢谢", "多谢了")
SEED = 20261123


def conversation_script(rng: random.Random, order: tuple[str, str]) -> list[str]:
    """One calm multi-turn conversation: greet, FAQ, order question, verification, thanks."""
    order_id, tail = order
    return [
        rng.choice(GREETS),
        rng.choice(FAQS),
        rng.choice((f"我的订单{order_id}到哪了", f"帮我查下订单{order_id}的物流")),
        tail,
        rng.choice(THANKS),
    ]


def build_scripts(n_customers: int, conversations: int, orders: Sequence[tuple[str, str]],
                  seed: int = SEED) -> list[list[list[str]]]:
    """Deterministic scripts: customers x conversations x turns."""
    rng = random.Random(seed)
    return [[conversation_script(rng, orders[(c * conversations + k) % len(orders)])
             for k in range(conversations)] for c in range(n_customers)]


class Tally:
    """Latencies and errors of one run."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.ws_events = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def _hub_customer(session: aiohttp.ClientSession, hub: str, convs: list[list[str]],
                        tally: Tally, deadline: float) -> None:
    for turns in convs:
        try:
            async with session.post(f"{hub}/api/conversations", json={"channel": "web"}) as resp:
                info = await resp.json()
                if resp.status != 201:
                    tally.error(f"create_{resp.status}")
                    continue
        except (aiohttp.ClientError, asyncio.TimeoutError):
            tally.error("create_failed")
            continue
        cid, token = info["conversation_id"], info["token"]
        ws_url = f"{hub.replace('http', 'ws', 1)}/ws/customer?conversation_id={cid}&token={token}"
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with session.ws_connect(ws_url) as ws:
                reader = asyncio.create_task(_count_ws(ws, tally))
                for i, text in enumerate(turns):
                    if time.monotonic() > deadline:
                        tally.error("deadline")
                        break
                    t0 = time.perf_counter()
                    try:
                        async with session.post(f"{hub}/api/conversations/{cid}/messages", headers=headers,
                                                json={"text": text, "client_msg_id": f"b-{i}"}) as resp:
                            body = await resp.json()
                            if resp.status != 200 or not body.get("replies"):
                                tally.error(f"turn_{resp.status}" if resp.status != 200 else "no_reply")
                                continue
                    except (aiohttp.ClientError, asyncio.TimeoutError):
                        tally.error("turn_failed")
                        continue
                    tally.latencies.append(time.perf_counter() - t0)
                reader.cancel()
        except (aiohttp.ClientError, asyncio.TimeoutError):
            tally.error("ws_failed")


async def _count_ws(ws: aiohttp.ClientWebSocketResponse, tally: Tally) -> None:
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT and '"message"' in msg.data:
            tally.ws_events += 1


async def _rasa_customer(session: aiohttp.ClientSession, rasa: str, convs: list[list[str]],
                         tally: Tally, deadline: float) -> None:
    from handoff.rasa_client import parse_rasa_urls, pick_server

    servers = parse_rasa_urls(rasa)
    for turns in convs:
        sender = f"bench-{uuid.uuid4().hex[:12]}"
        server = servers[pick_server(sender, servers)]
        for text in turns:
            if time.monotonic() > deadline:
                tally.error("deadline")
                break
            t0 = time.perf_counter()
            try:
                async with session.post(f"{server}/webhooks/rest/webhook",
                                        json={"sender": sender, "message": text}) as resp:
                    body = await resp.json()
                    if resp.status != 200 or not body:
                        tally.error(f"turn_{resp.status}" if resp.status != 200 else "no_reply")
                        continue
            except (aiohttp.ClientError, asyncio.TimeoutError):
                tally.error("turn_failed")
                continue
            tally.latencies.append(time.perf_counter() - t0)


async def _sample_rss(pids: dict[str, int], peak: dict[str, float]) -> None:
    """Peak resident memory of each server process while a run is going."""
    while True:
        for name, pid in pids.items():
            mb = rss_mb(pid)
            if mb is not None:
                peak[name] = max(peak.get(name, 0.0), mb)
        await asyncio.sleep(0.5)


async def run_level(target: str, url: str, scripts: list[list[list[str]]], budget_s: float,
                    pids: dict[str, int] | None = None) -> dict[str, Any]:
    """Run all customers of one level concurrently against `hub` or `rasa`; bounded by budget_s."""
    tally = Tally()
    peak: dict[str, float] = {}
    sampler = asyncio.create_task(_sample_rss(pids or {}, peak))
    conn = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    cpu0 = process_cpu_seconds()
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
        deadline = time.monotonic() + budget_s
        worker = _hub_customer if target == "hub" else _rasa_customer
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(session, url, convs, tally, deadline) for convs in scripts))
        wall = time.perf_counter() - t0
    sampler.cancel()
    return {
        "target": target,
        "customers": len(scripts),
        "turns": len(tally.latencies),
        "wall_s": round(wall, 2),
        "turns_per_s": round(len(tally.latencies) / wall, 1) if wall else None,
        **summarize_ms(tally.latencies),
        "errors": tally.errors,
        "ws_message_events": tally.ws_events if target == "hub" else None,
        "generator_cpu_s": round(process_cpu_seconds() - cpu0, 2),
        "peak_rss_mb": peak,
    }


async def warm_up(hub: str, rasa: str, orders: Sequence[tuple[str, str]]) -> None:
    """A few sequential conversations on both paths so model graphs, DB pools and caches are hot."""
    scripts = build_scripts(2, 1, orders, seed=SEED + 1)
    await run_level("rasa", rasa, scripts, 120)
    await run_level("hub", hub, scripts, 120)


async def bench(hub: str, rasa: str, orders: Sequence[tuple[str, str]], levels: Sequence[int],
                conversations: int, budget_s: float, pids: dict[str, int]
                ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    await warm_up(hub, rasa, orders)
    memory: dict[str, Any] = {"idle_after_warmup_mb": {k: rss_mb(p) for k, p in pids.items()}}
    rows = []
    for n in levels:
        scripts = build_scripts(n, conversations, orders)
        for target, url in (("rasa", rasa), ("hub", hub)):
            row = await run_level(target, url, scripts, budget_s, pids)
            print(f"  N={n:<4} {target:<4} turns={row['turns']:<5} {row['turns_per_s']} turns/s  "
                  f"p50={row['p50_ms']} p95={row['p95_ms']} p99={row['p99_ms']} ms  errors={row['errors']}  "
                  f"gen_cpu={row['generator_cpu_s']} s", flush=True)
            rows.append(row)
    memory["peak_under_load_mb"] = {
        k: max((r["peak_rss_mb"].get(k, 0.0) for r in rows), default=None) for k in pids}
    return rows, memory


def overhead(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hub / direct Rasa ratios per level (p50, p99, turns/s)."""
    out = []
    by = {(r["customers"], r["target"]): r for r in rows}
    for n in sorted({r["customers"] for r in rows}):
        hub, rasa = by.get((n, "hub")), by.get((n, "rasa"))
        if hub and rasa:
            out.append({
                "customers": n,
                "p50_ratio": ratio(hub["p50_ms"], rasa["p50_ms"]),
                "p99_ratio": ratio(hub["p99_ms"], rasa["p99_ms"]),
                "throughput_ratio": ratio(rasa["turns_per_s"], hub["turns_per_s"]),
            })
    return out


def pick_model(path: str | None) -> Path:
    """The given model, else the one for the current data (trained if missing)."""
    from bot.runtime import ensure_model

    if path:
        model = Path(path)
        if not model.is_file():
            raise SystemExit(f"model not found: {model}")
        return model
    return ensure_model(quiet=True)


def run(levels: Sequence[int], conversations: int, budget_s: float, model_arg: str | None = None,
        rasa_workers: int = 1, stock_rasa: bool = False) -> dict[str, Any]:
    model = pick_model(model_arg)
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp_s:
        tmp = Path(tmp_s)
        orders_url = f"sqlite:///{tmp / 'orders.db'}"
        orders = seed_orders(orders_url)
        env = hub_env(f"sqlite:///{tmp / 'hub.db'}", orders_url)
        stack = start_stack(model, env=env, log_dir=tmp / "logs", tracker_db=tmp / "trackers.db",
                            rasa_cmd=[venv_bin("rasa")] if stock_rasa else None, workers=rasa_workers)
        rasa_urls = ",".join(stack.rasa_urls)
        try:
            hub = stack.add_hub(env, tmp / "logs" / "hub.log")
            hub_url = hub.url
            pids = {"actions": stack.processes[0].pid, "hub": hub.pid}
            pids.update({"rasa" if i == 0 else f"rasa-{i + 1}": p.pid
                         for i, p in enumerate(stack.processes[1:1 + rasa_workers])})
            rows, memory = asyncio.run(bench(hub_url, rasa_urls, orders, levels, conversations,
                                             budget_s, pids))
        finally:
            stack.stop()
    ratios = overhead(rows)
    at100 = next((r for r in rows if r["customers"] == 100 and r["target"] == "hub"), None)
    worst = max((r["p50_ratio"] or 0 for r in ratios), default=None)
    summary = {
        "hub_overhead_p50_ratio_worst": worst,
        "hub_overhead_target": TARGETS["hub_overhead_ratio_max"],
        "hub_overhead_verdict": verdict(worst, TARGETS["hub_overhead_ratio_max"]),
        "hub_turns_per_s_at_100": at100 and at100["turns_per_s"],
        "hub_p99_ms_at_100": at100 and at100["p99_ms"],
        "throughput_verdict_at_100": verdict(at100 and at100["turns_per_s"],
                                             TARGETS["bot_turns_per_s_min_at_100"], higher_is_better=True),
        "p99_verdict_at_100": verdict(at100 and at100["p99_ms"], TARGETS["p99_ms_max_at_100"]),
    }
    return {"setup": {"levels": list(levels), "conversations_per_customer": conversations,
                      "turns_per_conversation": 5, "budget_s_per_run": budget_s, "seed": SEED,
                      "hub_store": "sqlite", "tracker_store": "sqlite", "think_time_s": 0,
                      "rasa_workers": rasa_workers,
                      "rasa_launcher": "rasa (stock)" if stock_rasa else "python -m bot.rasa_server"},
            "model": model.name, "memory": memory, "rows": rows, "overhead": ratios, "summary": summary}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", type=int, nargs="+", default=[10, 50, 100, 200])
    ap.add_argument("--conversations", type=int, default=1, help="conversations per customer")
    ap.add_argument("--budget", type=float, default=240.0, help="seconds per run before it stops itself")
    ap.add_argument("--model", help="model archive (default: the model for the current data)")
    ap.add_argument("--rasa-workers", type=int, default=1, help="Rasa server processes (sticky per conversation)")
    ap.add_argument("--stock-rasa", action="store_true", help="plain `rasa run` (before/after comparisons)")
    ap.add_argument("--out", default="load_hub", help="result file name (bench/results/<out>.json)")
    args = ap.parse_args(argv)
    if any(n <= 0 for n in args.levels) or args.conversations <= 0 or args.rasa_workers <= 0:
        ap.error("levels and conversations must be positive")
    print(f"[load_hub] machine: {machine_info()['cpu_count']} cores, load {machine_info()['loadavg_1_5_15']}")
    result = run(args.levels, args.conversations, args.budget, args.model, args.rasa_workers, args.stock_rasa)
    path = write_result(args.out, result)
    s = result["summary"]
    print(f"[load_hub] hub overhead (p50 ratio, worst level) {s['hub_overhead_p50_ratio_worst']} "
          f"(target <= {TARGETS['hub_overhead_ratio_max']}: {s['hub_overhead_verdict']}); at 100 customers "
          f"{s['hub_turns_per_s_at_100']} turns/s (target >= 150: {s['throughput_verdict_at_100']}), "
          f"p99 {s['hub_p99_ms_at_100']} ms (target <= 200: {s['p99_verdict_at_100']}) -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
