"""Run every benchmark, write bench/results/*.json and the PNG plots; print a targets table.

    .venv/bin/python -m bench.run_all [--skip-nlu] [--no-train] [--levels 10 50 100 200]
        [--samples 30] [--model PATH] [--rasa-workers 2]

Order: NLU comparison (bench/nlu_compare.py, slow: trains two NLU models), cost (a full timed
training whose model then serves the rest), load test, handoff latency, WeChat, one long
conversation (stock switches vs the launcher), scale-out
(bench/scale.py: needs PostgreSQL, Redis and haproxy), plots. One
benchmark failing is recorded and the others still run; the exit code is 0 either way because
benchmarks report figures, they do not pass or fail.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from bench.common import REPO, RESULTS, TARGETS, machine_info, verdict


def _step(name: str, fn: Callable[[], Any], failures: dict[str, str]) -> None:
    print(f"\n=== {name} ===", flush=True)
    t0 = time.monotonic()
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
        failures[name] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    print(f"=== {name}: {time.monotonic() - t0:.0f} s ===", flush=True)


def run_nlu() -> None:
    subprocess.run([sys.executable, str(REPO / "bench" / "nlu_compare.py")], cwd=REPO, check=True)


def targets_table() -> list[tuple[str, str, str, str]]:
    """(figure, measured, target, verdict) rows from whatever result files exist."""
    from bench.plots import load, nlu_headline

    rows: list[tuple[str, str, str, str]] = []
    lh = load("load_hub") or {}
    s = lh.get("summary") or {}
    rows.append(("hub overhead (p50 hub / direct, worst level)", str(s.get("hub_overhead_p50_ratio_worst")),
                 f"<= {TARGETS['hub_overhead_ratio_max']}", s.get("hub_overhead_verdict", "n/a")))
    rows.append(("bot turns/s, 100 customers, via hub", str(s.get("hub_turns_per_s_at_100")),
                 ">= 150", s.get("throughput_verdict_at_100", "n/a")))
    rows.append(("p99 reply ms, 100 customers, via hub", str(s.get("hub_p99_ms_at_100")),
                 "<= 200", s.get("p99_verdict_at_100", "n/a")))
    for mode, m in ((load("handoff_latency") or {}).get("modes") or {}).items():
        for part, key in (("handoff", "handoff_p99_ms_max"), ("agent_reply", "agent_reply_p99_ms_max")):
            v = (m.get(part) or {}).get("p99_ms")
            rows.append((f"{part} p99 ms ({mode})", str(v), f"<= {TARGETS[key]:.0f}", verdict(v, TARGETS[key])))
    wc = load("wechat") or {}
    rows.append(("WeChat callback p99 ms", str(wc.get("callback", {}).get("p99_ms") if wc.get("available") else
                                               "not available"), "<= 1000",
                 verdict(wc.get("callback", {}).get("p99_ms"), TARGETS["wechat_callback_p99_ms_max"])))
    tr = ((load("cost") or {}).get("training") or {})
    rows.append(("full training s", str(tr.get("wall_s")), "<= 180", tr.get("verdict", "n/a")))
    sc = load("scale") or {}
    rows.append(("throughput ratio, 2 vs 1 of each process", str(sc.get("scaling_ratio_1_to_2")), "-", "n/a"))
    check = (sc.get("failover") or {}).get("check") or {}
    rows.append(("failover: acknowledged messages lost / unanswered",
                 f"{check.get('lost')} / {(check.get('outcome') or {}).get('unanswered')}", "0 / 0",
                 "met" if check and check.get("lost") == 0 and check["outcome"]["unanswered"] == 0 else "n/a"))
    launcher = ((load("long_conversation") or {}).get("variants") or {}).get("launcher") or {}
    growth = (launcher.get("wall_ms") or {}).get("growth")
    rows.append(("200-turn conversation: last ten turns / first ten (wall)", str(growth), "<= 1.2",
                 verdict(growth, 1.2)))
    rss = ((load("cost") or {}).get("memory_after_load_mb") or {}).get("launcher")
    rows.append(("Rasa resident MB after model load (launcher)", str(rss), "<= 800",
                 verdict(rss, TARGETS["rasa_rss_mb_max"])))
    nlu = load("nlu")
    if nlu:
        for key, fig in nlu_headline(nlu).items():
            rows.append((f"NLU {key} (stock -> project)", f"{_f(fig['stock'])} -> {_f(fig['project'])}",
                         "project ahead", {True: "met", False: "missed", None: "n/a"}[fig["project_ahead"]]))
    return rows


def _f(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-nlu", action="store_true", help="keep the existing bench/results/nlu.json")
    ap.add_argument("--no-train", action="store_true", help="skip the timed full training")
    ap.add_argument("--levels", type=int, nargs="+", default=[10, 50, 100, 200])
    ap.add_argument("--samples", type=int, default=30, help="handoff samples per mode")
    ap.add_argument("--model", help="model archive for the servers (default: the current data's)")
    ap.add_argument("--skip-scale", action="store_true", help="keep the existing bench/results/scale.json")
    ap.add_argument("--rasa-workers", type=int, default=2,
                    help="Rasa server processes behind the hub in the load and WeChat runs (one per core)")
    args = ap.parse_args(argv)
    info = machine_info()
    print(f"[run_all] {info['cpu_count']} cores, load {info['loadavg_1_5_15']}, commit {info['git_commit']}")
    failures: dict[str, str] = {}

    from bench import cost, handoff_latency, load_hub, long_conversation, plots, wechat_load

    if not args.skip_nlu:
        _step("nlu_compare", run_nlu, failures)
    _step("cost", lambda: cost.main((["--train"] if not args.no_train else [])
                                    + (["--model", args.model] if args.model else [])), failures)
    model = ["--model", args.model] if args.model else []
    workers = ["--rasa-workers", str(args.rasa_workers)]
    _step("load_hub", lambda: load_hub.main(["--levels", *map(str, args.levels), *model, *workers]), failures)
    _step("handoff_latency", lambda: handoff_latency.main(["--samples", str(args.samples), *model]), failures)
    _step("wechat", lambda: wechat_load.main([*model, *workers]), failures)
    _step("long_conversation", lambda: long_conversation.main(model), failures)
    if not args.skip_scale:
        from bench import scale

        _step("scale", lambda: scale.main(model), failures)

    def refresh_cost_memory() -> None:
        path = RESULTS / "cost.json"
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            data["memory"] = cost.memory_from_load_test()
            path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    _step("cost memory", refresh_cost_memory, failures)
    _step("plots", lambda: plots.main([]), failures)
    print("\n=== figures vs targets ===")
    for fig, measured, target, v in targets_table():
        print(f"  {fig:<52} {measured:<22} target {target:<14} {v}")
    if failures:
        print(f"\n[run_all] benchmarks that did not complete: {failures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
