"""WeChat callback: response time under concurrent senders and the passive-reply share.

    .venv/bin/python -m bench.wechat_load [--levels 10 50] [--rasa-workers 1] [--model PATH]

The real stack (action server, Rasa, one hub with the WeChat channel on at `/wechat/callback`,
plaintext mode) and a stand-in for WeChat's customer-service API on loopback. Each simulated
WeChat user (an openid) pushes the load_hub conversation script (greeting, FAQ, order question,
phone tail, thanks) as signed text-message XML, one message after the other, the way WeChat
pushes a user's messages. Measured per push: time until the callback's HTTP answer, and whether
it was a passive reply (the bot's answer inside the HTTP response) or `success` (the answer
follows through the customer-service API, counted by the stand-in). WeChat waits 5 s per push;
a push without an answer by then counts as `timeout` (WeChat would push it again).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import secrets
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.common import (
    TARGETS,
    LocalWebApp,
    hub_env,
    machine_info,
    process_cpu_seconds,
    seed_orders,
    summarize_ms,
    verdict,
    write_result,
)
from bench.load_hub import build_scripts, pick_model
from bot.stack import start_stack

TOKEN = "bench-wechat-token"
ACCOUNT = "gh_kefu_bench"
WECHAT_TIMEOUT_S = 5.0


def signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's callback signature: sha1 of the sorted, concatenated token/timestamp/nonce."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce))).encode()).hexdigest()


def text_push(openid: str, content: str, msg_id: int) -> str:
    """A plaintext text-message push as WeChat sends it."""
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def classify_answer(status: int, body: str) -> str:
    """`passive` (reply XML), `success` (answer follows via the API) or `http_<status>`."""
    if status != 200:
        return f"http_{status}"
    text = body.strip()
    if text in ("", "success"):
        return "success"
    return "passive" if "<Content>" in text else "unexpected_body"


class FakeCustomerServiceApi(LocalWebApp):
    """WeChat's access-token and customer-service message endpoints, counting what is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)

    async def _token(self, _request: web.Request) -> web.Response:
        return web.json_response({"access_token": "bench-token", "expires_in": 7200})

    async def _send(self, request: web.Request) -> web.Response:
        await request.read()
        self.sent += 1
        return web.json_response({"errcode": 0, "errmsg": "ok"})


async def _user(session: aiohttp.ClientSession, callback: str, turns: list[str], ids: Any,
                latencies: list[float], kinds: dict[str, int], deadline: float) -> None:
    openid = "o" + uuid.uuid4().hex[:27]
    for text in turns:
        if time.monotonic() > deadline:
            kinds["deadline"] = kinds.get("deadline", 0) + 1
            return
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        params = {"timestamp": timestamp, "nonce": nonce, "signature": signature(TOKEN, timestamp, nonce),
                  "openid": openid}
        t0 = time.perf_counter()
        try:
            async with session.post(callback, params=params, data=text_push(openid, text, next(ids)).encode(),
                                    headers={"Content-Type": "text/xml"},
                                    timeout=aiohttp.ClientTimeout(total=WECHAT_TIMEOUT_S)) as resp:
                kind = classify_answer(resp.status, await resp.text())
        except asyncio.TimeoutError:
            kind = "timeout"
        except aiohttp.ClientError:
            kind = "failed"
        elapsed = time.perf_counter() - t0
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind in ("passive", "success"):
            latencies.append(elapsed)


async def run_level(callback: str, scripts: list[list[list[str]]], budget_s: float,
                    api: FakeCustomerServiceApi) -> dict[str, Any]:
    latencies: list[float] = []
    kinds: dict[str, int] = {}
    ids = iter(range(int(time.time() * 1000), 10**15))
    sent0, cpu0 = api.sent, process_cpu_seconds()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        deadline = time.monotonic() + budget_s
        t0 = time.perf_counter()
        await asyncio.gather(*(_user(session, callback, convs[0], ids, latencies, kinds, deadline)
                               for convs in scripts))
        wall = time.perf_counter() - t0
    await asyncio.sleep(1.0)  # replies that went through the API after a "success"
    answered = kinds.get("passive", 0) + kinds.get("success", 0)
    return {"users": len(scripts), "pushes": sum(kinds.values()), "answered": answered,
            "wall_s": round(wall, 2), "pushes_per_s": round(answered / wall, 1) if wall else None,
            **summarize_ms(latencies), "kinds": kinds,
            "passive_share": round(kinds.get("passive", 0) / answered, 3) if answered else None,
            "api_messages_sent": api.sent - sent0, "generator_cpu_s": round(process_cpu_seconds() - cpu0, 2)}


async def _bench(hub_url: str, callback_path: str, orders: Sequence[tuple[str, str]], levels: Sequence[int],
                 budget_s: float, api: FakeCustomerServiceApi) -> list[dict[str, Any]]:
    callback = hub_url + callback_path
    await run_level(callback, build_scripts(2, 1, orders, seed=7), 120, api)  # warm-up
    rows = []
    for n in levels:
        row = await run_level(callback, build_scripts(n, 1, orders), budget_s, api)
        print(f"  N={n:<4} pushes={row['pushes']:<5} p50={row['p50_ms']} p99={row['p99_ms']} ms  "
              f"passive share {row['passive_share']}  kinds={row['kinds']}", flush=True)
        rows.append(row)
    return rows


async def _run_async(model: Path, levels: Sequence[int], budget_s: float, rasa_workers: int,
                     tmp: Path) -> dict[str, Any]:
    api = FakeCustomerServiceApi()
    await api.start()
    orders_url = f"sqlite:///{tmp / 'orders.db'}"
    orders = seed_orders(orders_url)
    callback_path = "/wechat/callback"
    env = hub_env(f"sqlite:///{tmp / 'hub.db'}", orders_url, {
        "WECHAT_TOKEN": TOKEN, "WECHAT_APPID": "wxbench", "WECHAT_APPSECRET": "bench-secret",
        "WECHAT_API_BASE": api.url, "WECHAT_ENCRYPT_MODE": "plain", "WECHAT_CALLBACK_PATH": callback_path,
        "WECHAT_CREDENTIALS": str(tmp / "no-credentials.yml")})
    stack = await asyncio.to_thread(functools.partial(
        start_stack, model, env=env, log_dir=tmp / "logs", tracker_db=tmp / "trackers.db", workers=rasa_workers))
    try:
        hub = await asyncio.to_thread(stack.add_hub, env, tmp / "logs" / "hub.log")
        rows = await _bench(hub.url, callback_path, orders, levels, budget_s, api)
    finally:
        await asyncio.to_thread(stack.stop)
        await api.stop()
    return {"rows": rows, "reply_budget_s": 3.5, "callback_path": callback_path}


def run(levels: Sequence[int], budget_s: float, model_arg: str | None, rasa_workers: int) -> dict[str, Any]:
    model = pick_model(model_arg)
    with tempfile.TemporaryDirectory(prefix="kefu-bench-wx-") as tmp:
        body = asyncio.run(_run_async(model, levels, budget_s, rasa_workers, Path(tmp)))
    rows = body["rows"]
    worst = max(rows, key=lambda r: r["p99_ms"] or 0) if rows else {}
    callback = {k: worst.get(k) for k in ("users", "n", "p50_ms", "p95_ms", "p99_ms", "max_ms", "passive_share")}
    return {"available": True, "model": model.name,
            "setup": {"levels": list(levels), "turns_per_user": 5, "mode": "plain", "rasa_workers": rasa_workers,
                      "wechat_timeout_s": WECHAT_TIMEOUT_S, "reply_budget_s": body["reply_budget_s"],
                      "hub_store": "sqlite", "tracker_store": "sqlite"},
            "rows": rows, "callback": callback,
            "target_callback_p99_ms": TARGETS["wechat_callback_p99_ms_max"],
            "verdict": verdict(callback.get("p99_ms"), TARGETS["wechat_callback_p99_ms_max"])}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--budget", type=float, default=180.0, help="seconds per level before it stops itself")
    ap.add_argument("--model", help="model archive (default: the model for the current data)")
    ap.add_argument("--rasa-workers", type=int, default=1)
    args = ap.parse_args(argv)
    if any(n <= 0 for n in args.levels) or args.rasa_workers <= 0:
        ap.error("levels and workers must be positive")
    print(f"[wechat_load] machine: {machine_info()['cpu_count']} cores, load {machine_info()['loadavg_1_5_15']}")
    result = run(args.levels, args.budget, args.model, args.rasa_workers)
    path = write_result("wechat", result)
    cb = result["callback"]
    print(f"[wechat_load] callback p99 {cb['p99_ms']} ms at {cb['users']} users, passive share "
          f"{cb['passive_share']} (target <= 1000 ms: {result['verdict']}) -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
