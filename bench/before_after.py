"""Hub benchmarks of two checkouts side by side in one run: the base commit and this one.

    git worktree add --detach ../kefu-base d3bc75f
    .venv/bin/python -m bench.before_after --base ../kefu-base [--suites hub_queue handoff_latency wechat_load load_hub]

Each suite runs once per checkout, back to back, the order alternating between suites (base
first, then this one; then this one first, …) so a drift of the shared machine's load does not
always favour the same side. `wechat_load` and `load_hub` are each checkout's own script and
stack (its hub, the same model); `hub_queue` (new) and `handoff_latency` are this checkout's
scripts driving the other checkout's hubs (`--tree`), see ``DRIVEN``. A checkout's own result files are left as they were; the figures
go to `bench/results/hub_before_after.json` and a table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import NO_CUSTOMER_LIMITS, RESULTS, machine_info, write_result
from bot.stack import ROOT

# bench.common.hub_env switches the customer-side limits off; the base checkout's does not, so
# they are also switched off in the environment both checkouts' hubs inherit.

SUITES: dict[str, tuple[list[str], str]] = {  # module arguments, result file
    "hub_queue": (["--waiting", "20", "100", "--out", "hub_queue_{label}"], "hub_queue_{label}"),
    "handoff_latency": (["--samples", "30", "--out", "handoff_latency_{label}"], "handoff_latency_{label}"),
    "wechat_load": (["--levels", "10", "50"], "wechat"),
    "load_hub": (["--levels", "10", "50", "--out", "load_hub_{label}"], "load_hub_{label}"),
}


# Run from this checkout with --tree: hub_queue is new, and handoff_latency's console is now the
# supervisor's (an agent's console lists only its groups' chats since the scope rules, so most
# handoffs of the base script never reach it). The Rasa stack is this checkout's for both.
DRIVEN = ("hub_queue", "handoff_latency")


def _commit(tree: Path) -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True,
                          text=True, check=True).stdout.strip()


def run_suite(suite: str, tree: Path, label: str) -> dict[str, Any]:
    """One suite on one checkout; its result, with the checkout's result file restored."""
    args, result = SUITES[suite]
    args = [a.format(label=label) for a in args]
    driven = suite in DRIVEN
    result_file = (RESULTS if driven else tree / "bench" / "results") / f"{result.format(label=label)}.json"
    cmd = [sys.executable, "-m", f"bench.{suite}", *args]
    cwd = tree
    if driven:  # this checkout's script, the other checkout's hubs
        cmd += ["--tree", str(tree)]
        cwd = ROOT
    kept = result_file.read_bytes() if result_file.exists() else None
    started = time.time()
    print(f"[before_after] {suite} on {label} ({tree})", flush=True)
    proc = subprocess.run(cmd, cwd=cwd, env={**os.environ, **NO_CUSTOMER_LIMITS, "PYTHONUNBUFFERED": "1"})
    try:
        body = (json.loads(result_file.read_text(encoding="utf-8"))
                if proc.returncode == 0 and result_file.exists() else None)
    finally:
        if kept is not None:
            result_file.write_bytes(kept)
        elif result_file.exists():
            result_file.unlink()
    return {"exit": proc.returncode, "seconds": round(time.time() - started, 1), "result": body}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="checkout of the base commit")
    ap.add_argument("--suites", nargs="+", choices=sorted(SUITES), default=list(SUITES))
    ap.add_argument("--out", default="hub_before_after")
    args = ap.parse_args(argv)
    trees = {"base": args.base.resolve(), "new": ROOT}
    setup = {"base": {"tree": str(trees["base"]), "commit": _commit(trees["base"])},
             "new": {"tree": str(ROOT), "commit": _commit(ROOT)}, "machine_at_start": machine_info(),
             "environment": NO_CUSTOMER_LIMITS}
    previous = RESULTS / f"{args.out}.json"
    suites: dict[str, Any] = {}
    if previous.exists():  # a rerun of some suites keeps the others' figures (and their setup)
        suites = json.loads(previous.read_text(encoding="utf-8")).get("suites", {})
    out: dict[str, Any] = {"setup": setup, "suites": suites}
    for i, suite in enumerate(args.suites):
        order = ("base", "new") if i % 2 == 0 else ("new", "base")
        out["suites"][suite] = {"order": list(order), "setup": setup}
        for label in order:
            out["suites"][suite][label] = run_suite(suite, trees[label], label)
        write_result(args.out, out)  # partial results survive a later failure
    out["setup"]["machine_at_end"] = machine_info()
    path = write_result(args.out, out)
    print(f"[before_after] -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
