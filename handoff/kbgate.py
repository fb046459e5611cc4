"""The gate a retrained model must pass before the running Rasa servers get it.

    python -m handoff.kbgate --model M --changes changes.json --out gate.json [--mode touched|full]

It serves the new model on a throw-away Rasa server and action server over a freshly seeded
shop (never the live ones: the old model keeps answering customers meanwhile), checks that the
model's domain carries the edited texts, and plays conversation tests of ``tests/conversations/``
with their checks (``bench.dialogue``, the same code as the end-to-end suite).

Which conversations: ``full`` plays all of them (about 8 minutes on 2 cores). ``touched`` (the
default) plays those that check a fact the edited answers stated or now state (a number, 72小时,
人工 …: the turns whose ``any``/``none`` strings occur in an old or new text), plus the first
``--smoke`` conversations of every file, so handoff, verification and confirmation are always
exercised. A conversation marked ``known_gap`` fails today and is left out. Exit 0: passed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from handoff.kbdata import escape_braces

ROOT = Path(__file__).resolve().parent.parent


def _strings(conv: dict[str, Any]) -> list[str]:
    return [str(s) for turn in conv.get("turns") or [] for field in ("any", "none") for s in turn.get(field) or []]


def select(conversations: list[tuple[str, dict[str, Any]]], changes: dict[str, dict[str, str]], mode: str,
           smoke: int) -> list[tuple[str, dict[str, Any]]]:
    """The conversations the gate plays, in file order (see the module's description)."""
    playable = [(name, conv) for name, conv in conversations if not conv.get("known_gap")]
    if mode == "full":
        return playable
    texts = [t for change in changes.values() for t in (change.get("before", ""), change.get("after", ""))]
    chosen: list[tuple[str, dict[str, Any]]] = []
    per_file: dict[str, int] = {}
    for name, conv in playable:
        group = name.split(":", 1)[0]
        touched = any(s and any(s in text for text in texts) for s in _strings(conv))
        if touched or per_file.get(group, 0) < smoke:
            chosen.append((name, conv))
            if not touched:
                per_file[group] = per_file.get(group, 0) + 1
    return chosen


def _domain_problems(rasa_url: str, changes: dict[str, dict[str, str]]) -> list[str]:
    """Edited responses the served model does not carry as written."""
    request = urllib.request.Request(f"{rasa_url}/domain", headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        responses = json.loads(resp.read()).get("responses") or {}
    problems = []
    for key, change in changes.items():
        served = [v.get("text") for v in responses.get(key) or []]
        if served != [escape_braces(change["after"])]:
            problems.append(f"{key}: the model's domain does not carry the new text")
    return problems


def run(model: Path, changes: dict[str, dict[str, str]], mode: str, smoke: int) -> dict[str, Any]:
    from bench.dialogue import ShopSnapshot, load_conversations, run_conversation
    from bot.stack import start_stack

    started = time.monotonic()
    chosen = select(load_conversations(), changes, mode, smoke)
    print(f"[gate] {len(chosen)} conversations ({mode}) for {', '.join(sorted(changes)) or 'no change'}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="kefu-kbgate-"))
    db_url = f"sqlite:///{tmp / 'shop.db'}"
    subprocess.run([sys.executable, "-m", "bot.orders.seed"], cwd=ROOT, env={**os.environ, "DATABASE_URL": db_url},
                   check=True, stdout=subprocess.DEVNULL)
    snapshot = ShopSnapshot(db_url, tmp)
    print("[gate] starting a Rasa server with the new model", flush=True)
    env = {"DATABASE_URL": db_url, "REDIS_URL": None, "TRACKER_DATABASE_URL": None}
    stack = start_stack(model, env=env, log_dir=tmp / "logs", tracker_db=tmp / "trackers.db",  # type: ignore[arg-type]
                        workers=1)
    failures: list[dict[str, Any]] = []
    try:
        domain = _domain_problems(stack.rasa_url, changes)
        for i, (name, conv) in enumerate(chosen, 1):
            snapshot.restore()
            transcript, problems = run_conversation(conv, stack.rasa_url, db_url)
            print(f"[gate] {i}/{len(chosen)} {'FAIL' if problems else 'ok  '} {name}", flush=True)
            if problems:
                failures.append({"name": name, "problems": problems, "transcript": transcript[-3:]})
    finally:
        stack.stop()
    return {"mode": mode, "selected": len(chosen), "passed": len(chosen) - len(failures), "failures": failures,
            "domain_problems": domain, "seconds": round(time.monotonic() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--changes", type=Path, required=True, help="JSON: key -> {before, after}")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--mode", choices=("touched", "full"), default="touched")
    parser.add_argument("--smoke", type=int, default=1)
    args = parser.parse_args(argv)
    changes = json.loads(args.changes.read_text(encoding="utf-8"))
    result = run(args.model, changes, args.mode, args.smoke)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    ok = not result["failures"] and not result["domain_problems"]
    print(f"[gate] {'passed' if ok else 'FAILED'}: {result['passed']} / {result['selected']} conversations"
          + (f"; {'; '.join(result['domain_problems'])}" if result["domain_problems"] else ""), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
