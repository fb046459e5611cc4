"""What a turn costs as a conversation grows: one long FAQ conversation straight to Rasa.

    .venv/bin/python -m bench.long_conversation [--turns 200] [--model PATH]
        [--variant NAME:KEY=VALUE,...]

Each variant starts its own stack (`bot.stack`, one Rasa process, nothing else running in it),
then one customer sends `--turns` calm FAQ questions and thanks in one conversation, one at a
time. Per turn: wall time and the CPU seconds the Rasa process spent on it (/proc, so what
else runs on the machine does not count). Reported: median of turns 1-10 and of the last ten,
their ratio, and the same for CPU. Default variants: `stock` (`RASA_TURN_SAVERS=0`) and
`launcher` (the launcher as `make run` starts it). Writes `bench/results/long_conversation.json`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from bench.common import cpu_seconds, hub_env, machine_info, ratio, seed_orders, write_result
from bench.load_hub import FAQS, THANKS, pick_model
from bot.stack import start_stack

DEFAULT_VARIANTS = ("stock:RASA_TURN_SAVERS=0", "launcher:")
WINDOW = 10


def script(turns: int) -> list[str]:
    """FAQ questions and thanks in turn: nothing hands off, nothing is asked back."""
    cycle = [*FAQS, *THANKS]
    return [cycle[i % len(cycle)] for i in range(turns)]


def parse_variant(spec: str) -> tuple[str, dict[str, str]]:
    name, _, pairs = spec.partition(":")
    env = dict(pair.split("=", 1) for pair in pairs.split(",") if pair)
    return name, env


def run_variant(model: Path, turns: int, env_extra: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kefu-long-") as tmp_s:
        tmp = Path(tmp_s)
        orders_url = f"sqlite:///{tmp / 'orders.db'}"
        seed_orders(orders_url)
        env = {**hub_env(f"sqlite:///{tmp / 'hub.db'}", orders_url), **env_extra}
        stack = start_stack(model, env=env, log_dir=tmp / "logs", tracker_db=tmp / "trackers.db", workers=1)
        wall_ms: list[float] = []
        cpu_ms: list[float] = []
        try:
            rasa_pid = stack.processes[1].pid
            url = f"{stack.rasa_url}/webhooks/rest/webhook"
            with requests.Session() as http:
                for text in script(3):  # warm-up on another conversation
                    http.post(url, json={"sender": "warm-up", "message": text}, timeout=60)
                for text in script(turns):
                    c0, t0 = cpu_seconds(rasa_pid, children=True) or 0.0, time.perf_counter()
                    reply = http.post(url, json={"sender": "long", "message": text}, timeout=60)
                    wall_ms.append(1000.0 * (time.perf_counter() - t0))
                    cpu_ms.append(1000.0 * ((cpu_seconds(rasa_pid, children=True) or 0.0) - c0))
                    reply.raise_for_status()
        finally:
            stack.stop()
    first = slice(0, WINDOW)
    last = slice(turns - WINDOW, turns)
    out: dict[str, Any] = {"env": env_extra}
    for name, series in (("wall_ms", wall_ms), ("rasa_cpu_ms", cpu_ms)):
        head, tail = statistics.median(series[first]), statistics.median(series[last])
        out[name] = {"turns_1_10": round(head, 1), f"turns_{turns - WINDOW + 1}_{turns}": round(tail, 1),
                     "growth": ratio(tail, head),
                     "per_turn": [round(v, 1) for v in series]}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--turns", type=int, default=200)
    ap.add_argument("--model")
    ap.add_argument("--variant", action="append", help="NAME:KEY=VALUE,... (repeatable)")
    args = ap.parse_args(argv)
    model = pick_model(args.model)
    result: dict[str, Any] = {"machine": machine_info(), "model": model.name, "turns": args.turns,
                              "variants": {}}
    for spec in args.variant or DEFAULT_VARIANTS:
        name, env = parse_variant(spec)
        row = run_variant(model, args.turns, env)
        result["variants"][name] = row
        print(name, {k: {kk: vv for kk, vv in v.items() if kk != "per_turn"}
                     for k, v in row.items() if k != "env"}, flush=True)
    write_result("long_conversation", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
