"""The hub's queue with many customers waiting: what each change costs and who hears of it.

    .venv/bin/python -m bench.hub_queue [--waiting 20 100] [--stores sqlite postgresql] [--tree PATH]

Only the hub is measured: a stand-in bot answers at once, and hands off when asked (转人工),
so a customer's message puts the chat in the queue within one bot call. For W waiting
customers, each with the widget's websocket open, and an agent console:

- bot turn (10): a new customer's message answered by the bot (the path every customer message
  in bot mode takes; nothing in the queue changes);
- join (10): one more customer hands off (to the back of the queue); handoff latency
  (send → the console's queue event listing it) and the `queue` events the others receive;
- presence no-op (10): an agent who is not online switches between away and offline (the online
  count, hence every estimate, stays); latency and `queue` events to the waiting customers;
- tail leaves / head leaves (10 each): the supervisor claims the newest / the oldest waiting
  chat; claim latency and `queue` events to the others (a head claim moves everyone up);
- auto-assignment (a hub with `HUB_ASSIGN=auto`, W waiting, every agent offline): the three
  agents come online one by one; the presence request returns after the round it starts, so its
  latency is the round's; chats assigned.

For each: hub CPU ms per action (/proc of the hub process). `--tree` runs the hub of another
checkout (the before/after comparison, bench/before_after.py). Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.common import (
    BENCH_PASSWORDS,
    LocalWebApp,
    cpu_seconds,
    hub_env,
    machine_info,
    queued,
    summarize_ms,
    wait_event,
    write_result,
)
from bot.stack import ROOT, HubService

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
ACTIONS = 10  # of each kind per run
SETTLE_S = 0.3  # after an action, for its websocket events to arrive
ROOMY = {"HUB_OPEN_PER_ADDRESS": "0", "HUB_QUEUE_PER_ADDRESS": "0", "HUB_TICKETS_PER_ADDRESS": "0",
         "HUB_TYPING_PER_ADDRESS": "0", "HUB_RATE_LIMIT": "100000", "HUB_AGENT_AWAY_AFTER": "0"}


class StandInBot(LocalWebApp):
    """Answers like Rasa's REST channel, at once: a short text and a handoff payload for
    转人工, an echo with a button for anything else."""

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/webhooks/rest/webhook", self._webhook)

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        if "转人工" not in body.get("message", ""):  # an ordinary turn: one answer with a button
            return web.json_response([{"recipient_id": body["sender"], "text": f"收到：{body['message']}",
                                       "buttons": [{"title": "查订单", "payload": "/order_status"}]}])
        return web.json_response([
            {"recipient_id": body["sender"], "text": "好的，正在为您转接人工客服。"},
            {"recipient_id": body["sender"], "custom": {"handoff": {
                "reason": "requested", "priority": "normal", "skill": "general", "summary": "客户要求人工"}}}])


class Waiting:
    """One waiting customer: its conversation and the queue events its websocket got."""

    def __init__(self, cid: str, token: str) -> None:
        self.cid, self.token = cid, token
        self.queue_events = 0
        self.agent_joined = 0
        self.task: asyncio.Task[None] | None = None

    async def listen(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            kind = json.loads(msg.data).get("type")
            if kind == "queue":
                self.queue_events += 1
            elif kind == "agent_joined":
                self.agent_joined += 1


class Run:
    def __init__(self, session: aiohttp.ClientSession, hub: HubService) -> None:
        self.session, self.hub = session, hub
        self.customers: list[Waiting] = []
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.tokens: dict[str, str] = {}

    async def login(self, name: str) -> str:
        async with self.session.post(f"{self.hub.url}/api/agent/login", json={
                "username": name, "password": BENCH_PASSWORDS[name], "bearer": True}) as r:
            if r.status != 200:
                raise RuntimeError(f"login {name}: {r.status} {await r.text()}")
            self.tokens[name] = (await r.json())["token"]
            return self.tokens[name]

    async def call(self, name: str, method: str, path: str, body: dict | None = None) -> int:
        async with self.session.request(method, self.hub.url + path, json=body,
                                        headers={"Authorization": f"Bearer {self.tokens[name]}"}) as r:
            await r.read()
            return r.status

    async def join(self) -> Waiting:
        async with self.session.post(f"{self.hub.url}/api/conversations", json={"channel": "web"}) as r:
            info = await r.json()
        who = Waiting(info["conversation_id"], info["token"])
        ws = await self.session.ws_connect(
            f"{self.hub.ws_url}/ws/customer?conversation_id={who.cid}&token={who.token}")
        self.sockets.append(ws)
        who.task = asyncio.create_task(who.listen(ws))
        await asyncio.sleep(0.05)  # the socket's first state frames
        return who

    async def hand_off(self, who: Waiting) -> None:
        async with self.session.post(f"{self.hub.url}/api/conversations/{who.cid}/messages",
                                     headers={"Authorization": f"Bearer {who.token}"},
                                     json={"text": "转人工"}) as r:
            if r.status != 200:
                raise RuntimeError(f"handoff: {r.status} {await r.text()}")
        self.customers.append(who)

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for who in self.customers:
            if who.task is not None:
                who.task.cancel()


async def drain(ws: aiohttp.ClientWebSocketResponse) -> None:
    while True:
        try:
            msg = await ws.receive(timeout=0.01)
        except asyncio.TimeoutError:
            return
        if msg.type != aiohttp.WSMsgType.TEXT:
            return


def _summary(latencies: list[float], events: list[int], cpu_s: float, n: int) -> dict[str, Any]:
    return {**summarize_ms(latencies), "queue_events_to_others_per_action": round(statistics.mean(events), 1)
            if events else None, "hub_cpu_ms_per_action": round(1000 * cpu_s / n, 1) if n else None}


async def manual_run(hub: HubService, waiting: int) -> dict[str, Any]:
    """Join, tail leave, head leave and presence no-op with `waiting` customers in the queue."""
    # no connection limit: every waiting customer holds a websocket
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60),
                                     connector=aiohttp.TCPConnector(limit=0)) as session:
        run = Run(session, hub)
        for name in ("supervisor", "agent1", "agent2"):
            await run.login(name)
        await run.call("agent1", "POST", "/api/agent/presence", {"status": "online"})
        await run.call("agent2", "POST", "/api/agent/presence", {"status": "away"})
        await run.call("supervisor", "POST", "/api/agent/presence", {"status": "offline"})
        console = await session.ws_connect(f"{hub.ws_url}/ws/agent?token={run.tokens['agent1']}")
        for _ in range(waiting):
            await run.hand_off(await run.join())
        await asyncio.sleep(SETTLE_S)
        await drain(console)
        out: dict[str, Any] = {"waiting": waiting}

        async def measure(kind: str, action: Any) -> None:
            latencies, events = [], []
            cpu0 = cpu_seconds(hub.pid)
            for _ in range(ACTIONS):
                others = list(run.customers)
                before = {w.cid: w.queue_events for w in others}
                latency = await action()
                await asyncio.sleep(SETTLE_S)
                await drain(console)
                if latency is not None:
                    latencies.append(latency)
                events.append(sum(w.queue_events - before[w.cid] for w in others if w in run.customers))
            out[kind] = _summary(latencies, events, cpu_seconds(hub.pid) - cpu0, ACTIONS)

        async def join() -> float | None:
            who = await run.join()
            t0 = time.perf_counter()
            send = asyncio.create_task(run.hand_off(who))
            seen = await wait_event(console, queued(who.cid))
            await send
            return seen - t0 if seen is not None else None

        async def claim(index: int) -> float | None:
            who = run.customers.pop(index)
            t0 = time.perf_counter()
            status = await run.call("supervisor", "POST", f"/api/agent/conversations/{who.cid}/claim")
            if status != 200:
                raise RuntimeError(f"claim: {status}")
            return time.perf_counter() - t0

        flip = {"status": "away"}

        async def presence_noop() -> float:
            flip["status"] = "offline" if flip["status"] == "away" else "away"
            t0 = time.perf_counter()
            await run.call("agent2", "POST", "/api/agent/presence", dict(flip))
            return time.perf_counter() - t0

        async def bot_turn() -> float:
            who = await run.join()
            t0 = time.perf_counter()
            async with session.post(f"{hub.url}/api/conversations/{who.cid}/messages",
                                    headers={"Authorization": f"Bearer {who.token}"}, json={"text": "你好"}) as r:
                await r.read()
            return time.perf_counter() - t0

        await measure("bot_turn", bot_turn)
        await measure("join", join)
        await measure("presence_noop", presence_noop)
        await measure("tail_leaves", lambda: claim(-1))
        await measure("head_leaves", lambda: claim(0))
        await console.close()
        await run.close()
    return out


async def auto_run(hub: HubService, waiting: int) -> dict[str, Any]:
    """With HUB_ASSIGN=auto: agents come online to a full queue; each request runs a round."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120),
                                     connector=aiohttp.TCPConnector(limit=0)) as session:
        run = Run(session, hub)
        for name in ("supervisor", "agent1", "agent2"):
            await run.login(name)
            await run.call(name, "POST", "/api/agent/presence", {"status": "offline"})
        for _ in range(waiting):
            await run.hand_off(await run.join())
        await asyncio.sleep(SETTLE_S)
        latencies = []
        cpu0 = cpu_seconds(hub.pid)
        for name in ("agent1", "agent2", "supervisor"):
            t0 = time.perf_counter()
            await run.call(name, "POST", "/api/agent/presence", {"status": "online"})
            latencies.append(time.perf_counter() - t0)
        await asyncio.sleep(SETTLE_S)
        cpu = cpu_seconds(hub.pid) - cpu0
        assigned = sum(1 for w in run.customers if w.agent_joined)
        await run.close()
    return {"waiting": waiting, "rounds": len(latencies), **summarize_ms(latencies), "assigned": assigned,
            "hub_cpu_ms_per_round": round(1000 * cpu / len(latencies), 1)}


def _store_urls(store: str, tmp: Path, name: str) -> Any:
    from contextlib import nullcontext

    from bench.common import fresh_pg_database

    if store == "sqlite":
        return nullcontext(f"sqlite:///{tmp / (name + '.db')}")
    return fresh_pg_database(PG_ADMIN, "kefu_bench_q")


def run(levels: Sequence[int], stores: Sequence[str], tree: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"setup": {"actions": ACTIONS, "settle_s": SETTLE_S, "tree": str(tree),
                                     "bot": "stand-in (hands off at once)"}, "runs": []}

    async def main() -> None:
        bot = StandInBot()
        await bot.start()
        try:
            with tempfile.TemporaryDirectory(prefix="kefu-bench-q-") as tmp_s:
                tmp = Path(tmp_s)
                for store in stores:
                    for waiting in levels:
                        for mode in ("manual", "auto"):
                            name = f"{store}-{waiting}-{mode}"
                            with _store_urls(store, tmp, name) as url:
                                env = hub_env(url, f"sqlite:///{tmp / 'no-shop.db'}", {
                                    **ROOMY, "RASA_URL": bot.url, "HUB_ASSIGN": mode})
                                hub = HubService(env, tmp / f"{name}.log", fresh_log=True, tree=tree)
                                await asyncio.to_thread(hub.start, 60)
                                try:
                                    res = await (manual_run(hub, waiting) if mode == "manual"
                                                 else auto_run(hub, waiting))
                                finally:
                                    await asyncio.to_thread(hub.stop)
                            row = {"store": store, "assign": mode, **res}
                            out["runs"].append(row)
                            print(f"  {name}: {json.dumps(row, ensure_ascii=False)}", flush=True)
        finally:
            await bot.stop()

    asyncio.run(main())
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--waiting", type=int, nargs="+", default=[20, 100])
    ap.add_argument("--stores", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"])
    ap.add_argument("--tree", type=Path, default=ROOT, help="checkout whose hub runs (default: this one)")
    ap.add_argument("--out", default="hub_queue", help="result file name (bench/results/<out>.json)")
    args = ap.parse_args(argv)
    if min(args.waiting) < 2 * ACTIONS:  # tail and head leaves each take ACTIONS customers away
        ap.error(f"--waiting must be at least {2 * ACTIONS}")
    print(f"[hub_queue] machine: {machine_info()['cpu_count']} cores, load {machine_info()['loadavg_1_5_15']}")
    path = write_result(args.out, run(args.waiting, args.stores, args.tree.resolve()))
    print(f"[hub_queue] -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
