"""Where a bot turn's CPU goes: the load_hub conversation mix straight to Rasa, with py-spy
sampling the Rasa server and /proc counting CPU seconds of Rasa and the action server.

    .venv/bin/python -m bench.profile_turn [--customers 20] [--duration 40] [--model PATH]
        [--env KEY=VALUE ...] [--label NAME]

Needs `py-spy` (dev only: `pip install py-spy`). Writes `bench/results/profiles/<label>.txt`
(the breakdown), `<label>.svg` (flame graph) and `bench/results/profile_<label>.json`. The
breakdown attributes every sample to one bucket (see `BUCKETS`): cross-cutting costs (logging,
jsonschema) wherever they occur, otherwise the most specific Rasa/project part on the stack,
so TensorFlow time under DIET counts as DIET.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.common import RESULTS, cpu_seconds, hub_env, seed_orders, write_result
from bench.load_hub import build_scripts, pick_model, run_level
from bot.stack import start_stack

PROFILES = RESULTS / "profiles"

# (bucket, pattern on "function (file:line)"): a sample goes to the first bucket in this order
# that has a frame on its stack. Cross-cutting costs first, then the specific parts, then the
# generic layers they run inside.
CROSS_CUTTING: list[tuple[str, str]] = [
    ("logging", r"\(logging/__init__\.py|structlog"),
    ("jsonschema validation of action results", r"_validate_action_result|jsonschema/"),
]
BUCKETS: list[tuple[str, str]] = [
    ("tracker store: retrieve", r"^(retrieve|_retrieve|retrieve_full_tracker|get_or_create_tracker|"
                                r"fetch_tracker_and_update_session) \("),
    ("lock store", r"lock_store\.py"),
    ("NLU: ChineseNormalizer (ours)", r"bot/nlu/normalizer\.py"),
    ("NLU: ChineseTokenizer (ours, jieba)", r"bot/nlu/tokenizer\.py"),
    ("NLU: SpacyRuleEntityExtractor (ours)", r"bot/nlu/entities\.py"),
    ("NLU: AngerDetector (ours)", r"bot/nlu/anger\.py"),
    ("NLU: SiblingAwareFallbackClassifier (ours)", r"bot/nlu/fallback\.py"),
    ("NLU: RegexFeaturizer", r"regex_featurizer\.py"),
    ("NLU: CountVectorsFeaturizer", r"count_vectors_featurizer\.py"),
    ("NLU: ResponseSelector (TF)", r"response_selector\.py"),
    ("NLU: DIETClassifier (TF)", r"diet_classifier\.py"),
    ("policy: HandoffPolicy (ours)", r"bot/policy\.py"),
    ("policy: TEDPolicy (TF)", r"ted_policy\.py"),
    ("policy: RulePolicy", r"rule_policy\.py"),
    ("policy: MemoizationPolicy", r"memoization\.py"),
    ("policy: ensemble / featurisation", r"ensemble\.py|featurizers/tracker_featurizers|single_state_featurizer"),
    ("action server call: tracker serialisation", r"current_state \(rasa/shared/core/trackers|_action_call_format"),
    ("action server call: HTTP", r"EndpointConfig\.request|aiohttp"),
    ("graph runner (other)", r"rasa/engine/"),
    ("tracker store: save", r"rasa/core/tracker_store|save_tracker \("),
    ("processor (other)", r"rasa/core/processor\.py"),
    ("HTTP server (sanic)", r"sanic/"),
]
_ORDERED = [(name, re.compile(p)) for name, p in [*CROSS_CUTTING, *BUCKETS]]


def classify(frames: Sequence[str]) -> str:
    """One bucket for one sampled stack (frames root first): the first bucket in list order
    with a frame anywhere on the stack, so nested costs go to the most specific part."""
    for name, pat in _ORDERED:
        if any(pat.search(f) for f in frames):
            return name
    return "other (event loop, TF runtime threads, GC)"


def breakdown(collapsed_lines: Iterable[str]) -> dict[str, int]:
    """Sample counts per bucket from py-spy's collapsed (`-f raw`) output."""
    counts: Counter[str] = Counter()
    for line in collapsed_lines:
        line = line.rstrip()
        if not line or " " not in line:
            continue
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        counts[classify(stack.split(";"))] += int(n)
    return dict(counts.most_common())


def _format(counts: dict[str, int], header: str) -> str:
    total = sum(counts.values()) or 1
    lines = [header, f"{'bucket':<48} {'samples':>8} {'share':>7}"]
    lines += [f"{name:<48} {n:>8} {100.0 * n / total:>6.1f}%" for name, n in counts.items()]
    return "\n".join(lines) + "\n"


def run(model: Path, customers: int, duration: float, env_extra: dict[str, str], label: str,
        rate: int, py_spy: str | None, keep_raw: Path | None = None) -> dict[str, Any]:
    PROFILES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kefu-prof-") as tmp_s:
        tmp = Path(tmp_s)
        orders_url = f"sqlite:///{tmp / 'orders.db'}"
        orders = seed_orders(orders_url)
        env = {**hub_env(f"sqlite:///{tmp / 'hub.db'}", orders_url), **env_extra}
        stack = start_stack(model, env=env, log_dir=tmp / "logs", tracker_db=tmp / "trackers.db", workers=1)
        try:
            actions_pid, rasa_pid = stack.processes[0].pid, stack.processes[1].pid
            asyncio.run(run_level("rasa", stack.rasa_url, build_scripts(2, 1, orders, seed=1), 120))
            scripts = build_scripts(customers, 50, orders)
            raw = tmp / "raw.txt"
            svg = PROFILES / f"{label}.svg"
            spies = [
                subprocess.Popen([py_spy, "record", "-p", str(rasa_pid), "-r", str(rate), "-d",
                                  str(int(duration)), "-f", fmt, "-o", str(out), "--nonblocking"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for fmt, out in (("raw", raw), ("flamegraph", svg))
            ] if py_spy else []
            cpu0 = {"rasa": cpu_seconds(rasa_pid, children=True), "actions": cpu_seconds(actions_pid, children=True)}
            t0 = time.monotonic()
            row = asyncio.run(run_level("rasa", stack.rasa_url, scripts, duration))
            wall = time.monotonic() - t0
            cpu1 = {"rasa": cpu_seconds(rasa_pid, children=True), "actions": cpu_seconds(actions_pid, children=True)}
            for spy in spies:
                spy.wait(timeout=120)
        finally:
            stack.stop()
        counts: dict[str, int] = {}
        if py_spy and raw.exists():
            text = raw.read_text(encoding="utf-8", errors="replace")
            counts = breakdown(text.splitlines())
            if keep_raw is not None:
                shutil.copy(raw, keep_raw)
    turns = row["turns"]
    cpu_ms = {k: round(1000.0 * ((cpu1[k] or 0) - (cpu0[k] or 0)) / turns, 1) if turns else None for k in cpu0}
    result = {"label": label, "customers": customers, "duration_s": duration, "env": env_extra,
              "model": model.name, "wall_s": round(wall, 1), "load": row,
              "cpu_ms_per_turn": cpu_ms, "samples": counts}
    header = (f"# {label}: {customers} customers straight to Rasa for {duration:.0f} s, "
              f"{turns} turns, {row['turns_per_s']} turns/s, p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms;\n"
              f"# CPU ms per turn: rasa {cpu_ms['rasa']}, action server {cpu_ms['actions']}; "
              f"env {env_extra or '{}'}; load average {os.getloadavg()}")
    (PROFILES / f"{label}.txt").write_text(_format(counts, header), encoding="utf-8")
    write_result(f"profile_{label}", result)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=20)
    ap.add_argument("--duration", type=float, default=40.0)
    ap.add_argument("--rate", type=int, default=50, help="py-spy samples per second")
    ap.add_argument("--model")
    ap.add_argument("--label", default="rasa_turn")
    ap.add_argument("--env", nargs="*", default=[], help="KEY=VALUE for the Rasa and action servers")
    ap.add_argument("--keep-raw", type=Path, help="copy py-spy's collapsed stacks here")
    ap.add_argument("--no-spy", action="store_true", help="only count CPU seconds")
    args = ap.parse_args(argv)
    env_extra = dict(kv.split("=", 1) for kv in args.env)
    py_spy = None if args.no_spy else (shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"))
    result = run(pick_model(args.model), args.customers, args.duration, env_extra, args.label, args.rate, py_spy,
                 args.keep_raw)
    print((PROFILES / f"{args.label}.txt").read_text(encoding="utf-8"))
    print(f"[profile_turn] cpu ms/turn {result['cpu_ms_per_turn']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
