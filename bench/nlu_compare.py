"""Train the stock Rasa pipeline and the project's pipeline on the same data; compare them.

Usage:
    .venv/bin/python bench/nlu_compare.py [--config config.yml] [--stock bench/configs/stock.yml]
        [--nlu data/nlu] [--domain domain.yml] [--test tests/data/nlu_test.tsv]
        [--tune tests/data/nlu_dev.tsv | --no-tune] [--out bench/results/nlu.json]

Both models are trained NLU-only with `rasa train nlu` (a subprocess, so each training gets a
clean TensorFlow), then loaded in-process with `Agent.load` and scored on the test file with the
scoring code of bench/nlu_common.py. The stock config gets the project's epochs and fallback
thresholds so the comparison is about the pipeline, not about training longer.

`--tune` sweeps the project model's FallbackClassifier threshold and ambiguity threshold on the
dev file from cached parse results (no retraining): this is how config.yml's thresholds are
chosen. The test file is never used for tuning.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nlu_common import (  # noqa: E402
    EvalFileError,
    best_thresholds,
    format_report,
    format_side_by_side,
    frange,
    load_examples,
    prediction_from_parse,
    score,
    sweep_thresholds,
)

REPO = Path(__file__).resolve().parent.parent
THRESHOLDS = frange(0.3, 0.8, 0.05)
AMBIGUITIES = frange(0.0, 0.2, 0.02)


# --------------------------------------------------------------------------- config alignment


def _components(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in cfg.get("pipeline") or [] if isinstance(c, dict)]


def _short(name: Any) -> str:
    return str(name).rsplit(".", 1)[-1]


def training_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """Epochs of the intent classifier / response selector and the fallback thresholds."""
    found: dict[str, Any] = {}
    for comp in _components(cfg):
        name = _short(comp.get("name"))
        if name == "ResponseSelector" and "epochs" in comp:
            found.setdefault("selector_epochs", comp["epochs"])
        elif name.endswith("FallbackClassifier"):
            for key in ("threshold", "ambiguity_threshold"):
                if key in comp:
                    found.setdefault(key, comp[key])
        elif "epochs" in comp and "Classifier" in name:
            found.setdefault("classifier_epochs", comp["epochs"])
    return found


def align_stock(stock: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """Copy of the stock config with the project's epochs and fallback thresholds applied."""
    out = copy.deepcopy(stock)
    for comp in _components(out):
        name = _short(comp.get("name"))
        if name == "DIETClassifier" and "classifier_epochs" in settings:
            comp["epochs"] = settings["classifier_epochs"]
        elif name == "ResponseSelector" and "selector_epochs" in settings:
            comp["epochs"] = settings["selector_epochs"]
        elif name == "FallbackClassifier":
            for key in ("threshold", "ambiguity_threshold"):
                if key in settings:
                    comp[key] = settings[key]
    return out


# --------------------------------------------------------------------------- train / load / parse


def train(config: Path, nlu: Path, domain: Path, out_dir: Path, name: str) -> dict[str, Any]:
    """Train one NLU model in a subprocess, cold; returns path, seconds, size or the error tail."""
    log = out_dir / f"{name}.train.log"
    cmd = [sys.executable, "-m", "rasa", "train", "nlu", "--config", str(config),
           "--nlu", str(nlu), "--domain", str(domain), "--out", str(out_dir),
           "--fixed-model-name", name]
    # A fresh training cache: Rasa would otherwise reuse components trained earlier in
    # .rasa/cache and report a few seconds for a model it did not train.
    cache = Path(tempfile.mkdtemp(prefix=f"rasa-cache-{name}-"))
    env = dict(os.environ, RASA_CACHE_DIRECTORY=str(cache), PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    t0 = time.perf_counter()
    try:
        with log.open("w", encoding="utf-8") as fh:
            proc = subprocess.run(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, env=env)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    seconds = time.perf_counter() - t0
    model = out_dir / f"{name}.tar.gz"
    if proc.returncode != 0 or not model.exists():
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
        return {"ok": False, "error": "\n".join(tail), "train_seconds": round(seconds, 1)}
    return {"ok": True, "model": str(model), "train_seconds": round(seconds, 1),
            "model_bytes": model.stat().st_size}


def parse_with_model(model_path: str, texts: Sequence[str]) -> list[dict[str, Any]]:
    """Load a model in-process and parse texts exactly as `/model/parse` would."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from rasa.core.agent import Agent
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)  # one debug line per message otherwise
    configure_structlog(logging.WARNING)
    agent = Agent.load(model_path)
    loop = asyncio.new_event_loop()
    try:
        return [loop.run_until_complete(agent.parse_message(t)) for t in texts]
    finally:
        loop.close()


# --------------------------------------------------------------------------- main


def _mb(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 1e6:.1f} MB"


def run(args: argparse.Namespace) -> int:
    try:
        test = load_examples(args.test)
        dev = load_examples(args.tune) if args.tune else None
    except (OSError, EvalFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for p in (args.config, args.stock, args.nlu, args.domain):
        if not Path(p).exists():
            print(f"error: {p} does not exist", file=sys.stderr)
            return 2

    project_cfg = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
    stock_cfg = yaml.safe_load(Path(args.stock).read_text(encoding="utf-8")) or {}
    settings = training_settings(project_cfg)

    results: dict[str, Any] = {"test_file": args.test, "tune_file": args.tune,
                               "nlu_data": args.nlu, "aligned_settings": settings,
                               "models": {}}
    work = Path(args.keep_models) if args.keep_models else Path(tempfile.mkdtemp(prefix="nlucmp-"))
    work.mkdir(parents=True, exist_ok=True)
    aligned = work / "stock_aligned.yml"
    aligned.write_text(yaml.safe_dump(align_stock(stock_cfg, settings), allow_unicode=True,
                                      sort_keys=False), encoding="utf-8")
    print(f"stock config aligned with {args.config}: {settings}")

    plan = [("stock", aligned), ("project", Path(args.config))]
    if args.only:
        plan = [p for p in plan if p[0] == args.only]
    reports: dict[str, dict[str, Any]] = {}
    project_parses_dev: list[dict[str, Any]] | None = None
    for name, cfg_path in plan:
        print(f"[{name}] training {cfg_path} on {args.nlu} ...", flush=True)
        info = train(cfg_path, Path(args.nlu), Path(args.domain), work, name)
        results["models"][name] = {k: v for k, v in info.items() if k != "model"}
        if not info["ok"]:
            print(f"[{name}] training FAILED after {info['train_seconds']} s:\n{info['error']}")
            continue
        print(f"[{name}] trained in {info['train_seconds']} s, model {_mb(info['model_bytes'])}")
        texts = [ex.text for ex in test]
        if name == "project" and dev is not None:
            texts += [ex.text for ex in dev]
        parses = parse_with_model(info["model"], texts)
        test_parses, dev_parses = parses[:len(test)], parses[len(test):]
        report = score(test, [prediction_from_parse(p) for p in test_parses])
        reports[name] = report
        results["models"][name]["test"] = report
        if name == "project" and dev is not None:
            project_parses_dev = dev_parses
        if args.verbose:
            print(format_report(report, f"[{name}] on {args.test}"))

    if reports:
        print(f"\n== {args.test} ({len(test)} rows) ==")
        print(format_side_by_side(reports))
        print("")
        for name in reports:
            m = results["models"][name]
            print(f"  {name}: training {m['train_seconds']} s, model {_mb(m.get('model_bytes'))}")

    if dev is not None and project_parses_dev is not None:
        rows = sweep_thresholds(dev, project_parses_dev, THRESHOLDS, AMBIGUITIES)
        best = best_thresholds(rows)
        current = {k: settings.get(k) for k in ("threshold", "ambiguity_threshold")}
        results["tuning"] = {"file": args.tune, "current": current, "best": best,
                             "grid": rows}
        print(f"\n== threshold sweep on {args.tune} ({len(dev)} rows, project model) ==")
        print(f"  current in {args.config}: threshold={current['threshold']} "
              f"ambiguity_threshold={current['ambiguity_threshold']}")
        top = sorted(rows, key=lambda r: (-r["macro_f1"], -(r["oos_recall"] or 0)))[:8]
        print(f"  {'thr':>5}{'amb':>6}{'macroF1%':>10}{'acc%':>7}{'OOS rec%':>10}{'in-rej%':>9}")
        for r in top:
            print(f"  {r['threshold']:>5.2f}{r['ambiguity_threshold']:>6.2f}"
                  f"{100 * r['macro_f1']:>10.1f}{100 * r['intent_accuracy']:>7.1f}"
                  f"{100 * (r['oos_recall'] or 0):>10.1f}"
                  f"{100 * (r['in_scope_rejected_rate'] or 0):>9.1f}")
        cur = next((r for r in rows if (r["threshold"], r["ambiguity_threshold"])
                    == (current["threshold"], current["ambiguity_threshold"])), None)
        if cur:
            print(f"  current pair: macro-F1 {100 * cur['macro_f1']:.1f} %, "
                  f"OOS recall {100 * (cur['oos_recall'] or 0):.1f} %")
        print(f"  best: threshold={best['threshold']} ambiguity_threshold="
              f"{best['ambiguity_threshold']} (macro-F1 {100 * best['macro_f1']:.1f} %, "
              f"OOS recall {100 * (best['oos_recall'] or 0):.1f} %)")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nfigures written to {out}" + (f"; models kept in {work}" if args.keep_models else ""))
    return 0 if reports and all(m["ok"] for m in results["models"].values()) else 1


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(REPO / "config.yml"), help="project pipeline config")
    ap.add_argument("--stock", default=str(REPO / "bench/configs/stock.yml"))
    ap.add_argument("--nlu", default=str(REPO / "data/nlu"))
    ap.add_argument("--domain", default=str(REPO / "domain.yml"))
    ap.add_argument("--test", default=str(REPO / "tests/data/nlu_test.tsv"))
    ap.add_argument("--tune", default=str(REPO / "tests/data/nlu_dev.tsv"),
                    help="dev file for the threshold sweep of the project model")
    ap.add_argument("--no-tune", dest="tune", action="store_const", const=None)
    ap.add_argument("--only", choices=("stock", "project"), help="train and score one model")
    ap.add_argument("--out", default=str(REPO / "bench/results/nlu.json"))
    ap.add_argument("--keep-models", help="directory to keep the trained models in")
    ap.add_argument("-v", "--verbose", action="store_true", help="full table per model")
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
