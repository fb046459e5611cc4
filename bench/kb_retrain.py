"""How long the knowledge base's retrain takes: a full train against a retrain after a
response-only change, with Rasa's training cache.

    .venv/bin/python -m bench.kb_retrain [--out bench/results/kb_retrain.json] [--cache DIR]

On a copy of the bot (config, domain, data; ``bot/`` linked) it trains once from an empty cache
(the full train), then edits one FAQ answer (``data/nlu``), then one fixed phrase
(``domain.yml``), then nothing, and retrains after each with the cache the first train filled,
exactly as ``handoff.retrain`` runs it (``nice``, deterministic environment). It reports each
wall time and which graph nodes Rasa had to train again (the rest came from the cache).
``--cache`` keeps the filled cache there (e.g. ``.rasa/cache`` of the checkout, so later trains
of the same data start warm); by default a throw-away one is used.
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
    for name in ("config.yml", "domain.yml"):
        shutil.copy(ROOT / name, folder / name)
    shutil.copytree(ROOT / "data", folder / "data")
    (folder / "bot").symlink_to(ROOT / "bot")
    return folder


def train(bot: Path, cache: Path, log: Path) -> dict[str, object]:
    env = {**training_env(), "RASA_CACHE_DIRECTORY": str(cache), "PYTHONWARNINGS": "ignore",
           "PYTHONPATH": str(ROOT), "LOG_LEVEL": "INFO"}
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
    parser.add_argument("--cache", type=Path, help="cache directory to fill (must be empty for a cold start)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kefu-kb-bench-"))
    bot = copy_bot(work / "bot")
    cache = args.cache or work / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    if any(cache.iterdir()):
        raise SystemExit(f"{cache} is not empty: the full train must start from an empty cache")
    runs: dict[str, dict[str, object]] = {}
    steps = [
        ("full_train_empty_cache", None),
        ("faq_answer_changed", {"utter_faq/membership": "亲,会员分V1–V5五个等级。每消费1元得1积分,100积分可抵1元。"}),
        ("fixed_phrase_changed", {"utter_goodbye": "感谢咨询，再见！"}),
        ("nothing_changed", None),
    ]
    for name, texts in steps:
        if texts:
            kbdata.write_texts(bot, texts)
        runs[name] = train(bot, cache, work / f"{name}.log")
        print(f"{name:26s} {runs[name]['seconds']:7.1f} s  trained again: "
              f"{len(runs[name]['trained_components'])} components", flush=True)  # type: ignore[arg-type]
        if name == "full_train_empty_cache":
            full_model = Path(str(runs[name]["model"]))
            from bot.runtime import model_path

            target = model_path(ROOT)
            if not target.exists() and model_path(bot).name == target.name:  # same data: usable as the checkout's model
                target.parent.mkdir(exist_ok=True)
                shutil.copy(full_model, target)
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs while measured)",
        "runs": {k: {key: v[key] for key in ("seconds", "trained_components", "restored_from_cache")}
                 for k, v in runs.items()},
    }
    full = runs["full_train_empty_cache"]["seconds"]
    report["speedup_faq"] = round(full / max(runs["faq_answer_changed"]["seconds"], 0.1), 2)  # type: ignore[operator]
    report["speedup_phrase"] = round(full / max(runs["fixed_phrase_changed"]["seconds"], 0.1), 2)  # type: ignore[operator]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, ensure_ascii=False))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
