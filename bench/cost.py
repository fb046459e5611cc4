"""Cost: full training time, model size, model load time, resident memory per process.

    .venv/bin/python -m bench.cost [--train] [--model PATH]

`--train` runs a full `rasa train` (NLU + core) of the current data into a temporary folder
(the models/ cache is left alone) and times it; without it the training figure is omitted.
Load time and resident memory are measured in a fresh interpreter (importing Rasa/TensorFlow,
then `Agent.load`), once as stock Rasa and once with the launcher's `install()`, one after the
other in the same run, so the memory the launcher saves (JAX not imported) is a like-for-like
figure.
Idle / under-load memory of the action server, Rasa server and hub come from the load test
(bench/results/load_hub.json), measured there from /proc while the processes ran.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import REPO, RESULTS, TARGETS, machine_info, verdict, write_result

LOAD_PROBE = """
import json, os, sys, time, asyncio
t0 = time.perf_counter()
applied = []
if os.environ.get("BENCH_LAUNCHER") == "1":
    from bot.rasa_server import install
    applied = install()
from rasa.core.agent import Agent
from rasa.engine.graph import GraphNode
def rss():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
rss_import = rss()
components = {}
load_component = GraphNode._load_component
def measured_load(self, **kwargs):
    before = rss()
    load_component(self, **kwargs)
    components[self._component_class.__name__] = round(rss() - before, 1)
GraphNode._load_component = measured_load
t1 = time.perf_counter()
agent = Agent.load(os.environ["BENCH_MODEL"])
t2 = time.perf_counter()
asyncio.run(agent.parse_message("你好"))
t3 = time.perf_counter()
texts = json.loads(os.environ.get("BENCH_TEXTS", "[]"))
async def parse_all():
    return [await agent.parse_message(text) for text in texts]
parses = asyncio.run(parse_all())
# a file, not stdout: a line of ~200 KB on a pipe can be split by anything else writing there
open(os.environ["BENCH_OUT"], "w", encoding="utf-8").write(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_parse_s": t3 - t2,
                                 "rss_after_load_mb": rss(), "rss_after_import_mb": rss_import,
                                 "rss_per_component_mb": {k: v for k, v in components.items() if v >= 1},
                                 "applied": applied,
                                 "jax_imported": "jax" in sys.modules,
                                 "parses": parses}, ensure_ascii=False, default=str))
"""

# The launcher settings both probes share, so only the import of unused packages differs.
PROBE_ENV = {"TF_INTRA_OP_PARALLELISM_THREADS": "1", "TF_INTER_OP_PARALLELISM_THREADS": "1"}


def time_training(out_dir: Path) -> dict[str, Any]:
    """Full `rasa train` of the current config and data; wall time and exit status."""
    from bot.stack import venv_bin

    cmd = [venv_bin("rasa"), "train", "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
           "--out", str(out_dir), "--fixed-model-name", "bench", "--force"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    model = out_dir / "bench.tar.gz"
    if proc.returncode != 0 or not model.exists():
        return {"ok": False, "wall_s": round(wall, 1), "error": proc.stdout[-1500:] + proc.stderr[-1500:]}
    return {"ok": True, "wall_s": round(wall, 1), "model_mb": round(model.stat().st_size / 1e6, 1),
            "verdict": verdict(wall, TARGETS["training_s_max"])}


def adopt_model(trained: Path, hash_before: str) -> Path | None:
    """Install the timed model as the current data's cached model (what `ensure_model` would
    train) so the servers benchmarked next do not train a second time; only when the training
    inputs did not change while it trained."""
    import os

    from bot.runtime import model_hash, model_path

    target = model_path()
    if model_hash() != hash_before or not trained.exists():
        return None
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(trained, target.with_suffix(".part"))
        os.replace(target.with_suffix(".part"), target)
    return target


def probe_load(model: Path, launcher: bool = False, texts: Sequence[str] = ()) -> dict[str, Any]:
    """Import + load + first parse of a model in a fresh interpreter, stock Rasa or with the
    launcher's `install()` (bot/rasa_server.py) first; `texts` are parsed after and returned
    under "parses" (for comparing the two)."""
    import os

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "probe.json"
        env = {**os.environ, **PROBE_ENV, "BENCH_MODEL": str(model), "BENCH_LAUNCHER": "1" if launcher else "0",
               "BENCH_TEXTS": json.dumps(list(texts), ensure_ascii=False), "PYTHONPATH": str(REPO),
               "BENCH_OUT": str(out)}
        proc = subprocess.run([sys.executable, "-c", LOAD_PROBE], cwd=REPO, capture_output=True, text=True,
                              env=env, timeout=600)
        if proc.returncode == 0 and out.exists():
            data = json.loads(out.read_text(encoding="utf-8"))
            return {k: round(v, 2) if isinstance(v, float) else v for k, v in data.items()}
    return {"error": (proc.stderr or proc.stdout)[-1500:]}


def probe_both(model: Path, texts: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """Stock Rasa and the launcher loading the same model, one after the other (not in
    parallel: two loads at once on two cores would distort the load times)."""
    return {"stock": probe_load(model, False, texts), "launcher": probe_load(model, True, texts)}


EVAL_FILES = ("tests/data/nlu_test.tsv", "tests/data/heldout_test.tsv", "tests/data/nlu_dev.tsv",
              "tests/data/heldout_dev.tsv")


def eval_texts() -> list[str]:
    """Every message of the four evaluation files (the parses both probes must agree on)."""
    texts: list[str] = []
    for name in EVAL_FILES:
        for line in (REPO / name).read_text(encoding="utf-8").splitlines():
            text = line.split("\t", 1)[0].strip()
            if text and not text.startswith("#") and text != "text":
                texts.append(text)
    return texts


def _essence(parse: dict[str, Any]) -> Any:
    """What a parse decides: intent and ranking with confidences (6 places), the FAQ answer,
    entities, emotion and our components' extra fields."""
    def rounded(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, 6)
        if isinstance(value, dict):
            return {k: rounded(v) for k, v in value.items() if k not in ("text_tokens", "id")}
        if isinstance(value, list):
            return [rounded(v) for v in value]
        return value

    return rounded({k: v for k, v in parse.items() if k != "text"})


def compare_parses(stock: Sequence[dict[str, Any]], launcher: Sequence[dict[str, Any]],
                   texts: Sequence[str]) -> dict[str, Any]:
    """How many of the texts got the very same parse from both probes, and the first few that did not."""
    different = [t for t, a, b in zip(texts, stock, launcher, strict=False) if _essence(a) != _essence(b)]
    return {"texts": len(texts), "identical": len(texts) - len(different) if len(stock) == len(launcher) == len(texts)
            else None, "different": different[:10]}


def memory_from_load_test(path: Path = RESULTS / "load_hub.json") -> dict[str, Any] | None:
    """Idle and peak RSS per process as recorded by bench/load_hub.py, if it has run."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return {**(data.get("memory") or {}), "from": "load_hub.json",
            "measured_at_utc": data.get("machine", {}).get("measured_at_utc")}


def run(train: bool, model_arg: str | None) -> dict[str, Any]:
    from bench.load_hub import pick_model

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="kefu-bench-train-") as tmp:
        if train:
            from bot.runtime import model_hash

            print("[cost] full rasa train of the current data ...", flush=True)
            before = model_hash()
            out["training"] = time_training(Path(tmp))
            if out["training"]["ok"]:
                adopted = adopt_model(Path(tmp) / "bench.tar.gz", before)
                out["training"]["cached_as"] = adopted.name if adopted else None
            print(f"[cost] training: {out['training'].get('wall_s')} s (target <= "
                  f"{TARGETS['training_s_max']:.0f} s: {out['training'].get('verdict', 'failed')})", flush=True)
        model = Path(tmp) / "bench.tar.gz" if train and out["training"]["ok"] and not model_arg \
            else pick_model(model_arg)
        out["model"] = {"name": model.name, "size_mb": round(model.stat().st_size / 1e6, 1)}
        texts = eval_texts()
        both = probe_both(model, texts)
        out["load"] = both["launcher"]
        out["load_stock"] = both["stock"]
        out["same_parses"] = compare_parses(both["stock"].pop("parses", []), both["launcher"].pop("parses", []), texts)
        print(f"[cost] parses stock vs launcher: {out['same_parses']}", flush=True)
        stock_rss, launcher_rss = both["stock"].get("rss_after_load_mb"), both["launcher"].get("rss_after_load_mb")
        out["memory_after_load_mb"] = {"stock": stock_rss, "launcher": launcher_rss,
                                       "saved": round(stock_rss - launcher_rss, 1)
                                       if stock_rss and launcher_rss else None}
    print(f"[cost] model {out['model']['size_mb']} MB; load {out['load']}", flush=True)
    print(f"[cost] resident after load (MB): {out['memory_after_load_mb']}", flush=True)
    out["memory"] = memory_from_load_test()
    print(f"[cost] memory (MB): {out['memory']}", flush=True)
    if not train:
        out["training"] = previous_training()
    return out


def previous_training(path: Path = RESULTS / "cost.json") -> dict[str, Any] | None:
    """The last measured training figure, kept (marked as such) when this run does not train."""
    if not path.exists():
        return None
    old = json.loads(path.read_text(encoding="utf-8"))
    training = old.get("training")
    if not training:
        return None
    if "from" not in training:
        training = {**training, "from": "previous run (full training not repeated)",
                    "measured_at_utc": old.get("machine", {}).get("measured_at_utc"),
                    "git_commit": old.get("machine", {}).get("git_commit")}
    return training


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", action="store_true", help="time a full training of the current data")
    ap.add_argument("--model", help="model archive to size and load (default: the current data's)")
    args = ap.parse_args(argv)
    print(f"[cost] machine: {machine_info()['cpu_count']} cores, load {machine_info()['loadavg_1_5_15']}")
    path = write_result("cost", run(args.train, args.model))
    print(f"[cost] -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
