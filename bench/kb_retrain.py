"""How long the knowledge base's retrain takes: a full train against a retrain after a
response-only change, with Rasa's training cache.

    .venv/bin/python -m bench.kb_retrain [--out bench/results/kb_retrain.json] [--cache DIR]

On a copy of the bot's config, domain and data (the NLU components are imported from this
checkout, so their configuration, which names files under ``bot/``, is the checkout's) it trains
from an empty cache (the full train), then again with nothing changed, after editing one fixed
phrase (``domain.yml``) and after editing one FAQ answer (``data/nlu``), each with the cache
the earlier trains filled, as ``handoff.retrain`` runs it (``nice``, deterministic
environment, in the bot's folder). It reports each wall time and which components Rasa
trained again (the others were restored from the cache). ``--cache`` keeps the cache there,
e.g. the checkout's ``.rasa/cache`` (it must be empty), so later trains of this checkout start
warm; by default it is thrown away.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.runtime import training_env
from handoff import kbdata

ROOT = Path(__file__).resolve().parent.parent
TRAINED = re.compile(r"Starting to train component '([^']+)'")
RESTORED = re.compile(r"Restored component '([^']+)' from cache")


def copy_bot(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("config.yml", "domain.yml"):
        shutil.copy(ROOT / name, folder / name)
    shutil.copytree(ROOT / "data", folder / "data")
    return folder


def train(bot: Path, log: Path) -> dict[str, object]:
    """``rasa train`` in ``bot``: its cache is ``bot/.rasa/cache`` (Rasa's default, entries
    recorded relative to the working directory, as ``make train`` fills the checkout's)."""
    env = {**training_env(), "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT), "LOG_LEVEL": "INFO"}
    env.pop("RASA_CACHE_DIRECTORY", None)
    out = Path(tempfile.mkdtemp(dir=bot))
    started = time.monotonic()
    with open(log, "w", encoding="utf-8") as handle:
        subprocess.run(["nice", "-n", "10", str(Path(sys.executable).parent / "rasa"), "train", "--config", "config.yml",
                        "--domain", "domain.yml", "--data", "data", "--out", str(out), "--fixed-model-name", "model"], cwd=bot, env=env, stdout=handle, stderr=subprocess.STDOUT, check=True)
    seconds = round(time.monotonic() - started, 1)
    text = log.read_text(encoding="utf-8", errors="replace")
    trained, restored = TRAINED.findall(text), RESTORED.findall(text)
    return {"seconds": seconds, "trained_components": trained, "restored_from_cache": len(restored),
            "model": str(out / "model.tar.gz")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "kb_retrain.json")
    parser.add_argument("--cache", type=Path, help="an empty folder to fill as the training cache")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kefu-kb-bench-"))
    bot = copy_bot(work / "bot")
    cache = args.cache.resolve() if args.cache else work / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    if any(cache.iterdir()):
        raise SystemExit(f"{cache} is not empty: the full train must start from an empty cache")
    (bot / ".rasa").mkdir()
    (bot / ".rasa" / "cache").symlink_to(cache)  # Rasa records entries relative to the working directory
    runs: dict[str, dict[str, object]] = {}
    steps = [
        ("full_train_empty_cache", None),
        ("nothing_changed", None),
        ("fixed_phrase_changed", {"utter_goodbye": "感谢咨询，再见！"}),
        ("faq_answer_changed", {"utter_faq/membership": "亲,会员分V1–V5五个等级。每消费1元得1积分,100积分可抵1元。"}),
    ]
    for name, texts in steps:
        if texts:
            kbdata.write_texts(bot, texts)
        runs[name] = train(bot, work / f"{name}.log")
        print(f"{name:26s} {runs[name]['seconds']:7.1f} s  trained again: {runs[name]['trained_components']}",
              flush=True)
    report: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs while measured)",
        "runs": {k: {key: v[key] for key in ("seconds", "trained_components", "restored_from_cache")}
                 for k, v in runs.items()},
    }
    full = float(runs["full_train_empty_cache"]["seconds"])  # type: ignore[arg-type]
    for name in ("nothing_changed", "fixed_phrase_changed", "faq_answer_changed"):
        report[f"speedup_{name}"] = round(full / max(float(runs[name]["seconds"]), 0.1), 2)  # type: ignore[arg-type]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, ensure_ascii=False))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
