"""Train the stock Rasa pipeline and the project's pipeline on the same data; compare them.

Usage:
    .venv/bin/python bench/nlu_compare.py [--seeds 1 2 3] [--config config.yml]
        [--stock bench/configs/stock.yml] [--nlu data/nlu] [--domain domain.yml]
        [--test tests/data/nlu_test.tsv tests/data/heldout_test.tsv]
        [--tune tests/data/nlu_dev.tsv] [--seeds-out bench/results/nlu_seeds.json]
        [--out bench/results/nlu.json]
    .venv/bin/python bench/nlu_compare.py --resummarize bench/results/nlu_seeds.json

For each seed, both pipelines are trained NLU-only with `rasa train nlu` (a subprocess, so each
training gets a clean TensorFlow) with that `random_seed` on DIETClassifier and
ResponseSelector (nothing else changes), then loaded in-process with `Agent.load` and scored on
every test file with the scoring code of bench/nlu_common.py. The stock config gets the
project's epochs and fallback thresholds so the comparison is about the pipeline, not about
training longer. Per figure and test file the seeds file holds mean, min and max over the
seeds for both pipelines and whether the project is ahead by more than the spread (its worst
seed beats the stock pipeline's best). Seeds run one after the other and the seeds file is
rewritten after each model, so a run cut short keeps its whole seeds (`--resummarize`).

`--tune` sweeps the first seed's project model's fallback threshold and ambiguity threshold on
the dev file from cached parse results (no retraining): this is how config.yml's thresholds are
chosen; `--seeds 42 --tune tests/data/nlu_dev.tsv` is the single run with config.yml's own seed.
The test files are never used for tuning. `--out` keeps the single-run format (first seed,
first test file) that bench/run_all.py and bench/plots.py read.
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
    format_spread,
    format_verdict,
    frange,
    load_examples,
    prediction_from_parse,
    score,
    seed_summary,
    seed_table_markdown,
    sweep_thresholds,
)

REPO = Path(__file__).resolve().parent.parent
THRESHOLDS = frange(0.3, 0.8, 0.05)
AMBIGUITIES = frange(0.0, 0.2, 0.02)
# components given the run's seed (the others are deterministic or take none)
SEEDED = frozenset({"DIETClassifier", "ResponseSelector"})


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


def with_seed(cfg: dict[str, Any], seed: int) -> dict[str, Any]:
    """Copy of a config with `random_seed` set on every component that takes one."""
    out = copy.deepcopy(cfg)
    for comp in _components(out):
        if _short(comp.get("name")) in SEEDED or "random_seed" in comp:
            comp["random_seed"] = seed
    return out


def _write_yaml(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _machine() -> dict[str, Any]:
    try:
        sys.path.insert(0, str(REPO))
        from bench.common import machine_info

        return machine_info()
    except Exception as exc:  # the figures matter more than the machine record
        return {"error": repr(exc)}


def _print_sweep(rows: list[dict[str, Any]], best: dict[str, Any], current: dict[str, Any],
                 tune: str, n_dev: int, config: str) -> None:
    print(f"\n== threshold sweep on {tune} ({n_dev} rows, project model, first seed) ==")
    print(f"  current in {config}: threshold={current['threshold']} "
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


def _rel(path: str) -> str:
    """A path inside the repository as written from its root, so result files compare."""
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return path


def _dump(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")


def summarize(per_seed: list[dict[str, Any]], test_files: Sequence[str],
              names: Sequence[str] = ("stock", "project")
              ) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Mean/min/max per figure and test file over the seeds that were scored; prints them."""
    summaries: dict[str, Any] = {}
    for path in test_files:
        reports = {name: [e["models"][name]["test"][path] for e in per_seed
                          if "test" in e["models"].get(name, {})] for name in names}
        summaries[path] = seed_summary(reports)
    times = {name: [e["models"][name]["train_seconds"] for e in per_seed
                    if name in e["models"]] for name in names}
    seeds = [e["seed"] for e in per_seed]
    for path in test_files:
        print(f"\n== {path}, seeds {seeds}: mean [min–max] % ==")
        print(f"  {'':<34}{'stock':>22}{'project':>22}  ahead beyond spread")
        for row in summaries[path].values():
            cells = "".join(f"{format_spread(row[n]):>22}" for n in ("stock", "project"))
            verdict = format_verdict(row["project_ahead_beyond_spread"])
            print(f"  {row['label']:<34}{cells}  {verdict}")
    for name, secs in times.items():
        print(f"  {name}: training {secs} s")
    return summaries, times


def resummarize(path: Path) -> int:
    """Rebuild the summary of a seeds file, e.g. one a cut-short run left partial."""
    data = json.loads(path.read_text(encoding="utf-8"))
    per_seed = data.get("per_seed") or []
    # only seeds where every pipeline was scored
    whole = [e for e in per_seed if e["models"] and all("test" in m for m in e["models"].values())]
    if not whole:
        print(f"error: no scored seed in {path}", file=sys.stderr)
        return 2
    names = list(whole[0]["models"])
    files = list(whole[0]["models"][names[0]]["test"])
    summaries, times = summarize(whole, files, names)
    data.update({"seeds": [e["seed"] for e in whole], "per_seed": whole,
                 "dropped_seeds": [e["seed"] for e in per_seed if e not in whole],
                 "test_files": files, "train_seconds": times, "summary": summaries,
                 "markdown": seed_table_markdown(summaries)})
    data.pop("partial", None)
    data.setdefault("machine", _machine())
    _dump(path, data)
    print(f"\nsummary rewritten in {path}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.resummarize:
        return resummarize(Path(args.resummarize))
    tests: dict[str, list[Any]] = {}
    try:
        for path in args.test:
            tests[path] = load_examples(path)
        dev = load_examples(args.tune) if args.tune else None
    except (OSError, EvalFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for p in (args.config, args.stock, args.nlu, args.domain):
        if not Path(p).exists():
            print(f"error: {p} does not exist", file=sys.stderr)
            return 2
    seeds = list(dict.fromkeys(args.seeds))
    args.test = [_rel(t) for t in args.test]
    tests = {_rel(k): v for k, v in tests.items()}
    first_test = args.test[0]

    project_cfg = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
    stock_cfg = yaml.safe_load(Path(args.stock).read_text(encoding="utf-8")) or {}
    settings = training_settings(project_cfg)
    stock_aligned = align_stock(stock_cfg, settings)

    work = Path(args.keep_models) if args.keep_models else Path(tempfile.mkdtemp(prefix="nlucmp-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"stock config aligned with {args.config}: {settings}; seeds {seeds}")

    names = [n for n in ("stock", "project") if not args.only or n == args.only]
    base = {"stock": stock_aligned, "project": project_cfg}
    # One seed after the other, stock then project, so a cut-short run still has whole seeds.
    per_seed: list[dict[str, Any]] = []
    seeds_out = Path(args.seeds_out)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    results: dict[str, Any] = {"test_file": first_test, "tune_file": args.tune,
                               "nlu_data": args.nlu, "aligned_settings": settings,
                               "seed": seeds[0], "models": {}}
    project_parses_dev: list[dict[str, Any]] | None = None
    failed = False
    for i, seed in enumerate(seeds):
        entry: dict[str, Any] = {"seed": seed, "models": {}}
        per_seed.append(entry)
        for name in names:
            cfg_path = _write_yaml(work / f"{name}_seed{seed}.yml", with_seed(base[name], seed))
            tag = f"{name}_seed{seed}"
            print(f"[{tag}] training {cfg_path} on {args.nlu} ...", flush=True)
            info = train(cfg_path, Path(args.nlu), Path(args.domain), work, tag)
            model_out = {k: v for k, v in info.items() if k != "model"}
            entry["models"][name] = model_out
            if not info["ok"]:
                failed = True
                print(f"[{tag}] training FAILED after {info['train_seconds']} s:\n"
                      f"{info['error']}")
                continue
            print(f"[{tag}] trained in {info['train_seconds']} s, "
                  f"model {_mb(info['model_bytes'])}", flush=True)
            texts = [ex.text for exs in tests.values() for ex in exs]
            want_dev = name == "project" and dev is not None and i == 0
            if want_dev:
                texts += [ex.text for ex in dev]
            parses = parse_with_model(info["model"], texts)
            model_out["test"] = {}
            offset = 0
            for path, exs in tests.items():
                chunk = parses[offset:offset + len(exs)]
                offset += len(exs)
                report = score(exs, [prediction_from_parse(p) for p in chunk])
                # a pipeline without an anger detector has no anger figures, not zero ones
                report["has_emotion"] = any("emotion" in p for p in chunk)
                model_out["test"][path] = report
                if args.verbose:
                    print(format_report(report, f"[{tag}] on {path}"))
            if want_dev:
                project_parses_dev = parses[offset:]
            if i == 0:
                results["models"][name] = dict(model_out, test=model_out["test"][first_test])
            _dump(seeds_out, {"partial": True, "started": started, "seeds": seeds,
                              "test_files": args.test, "config": args.config,
                              "stock": args.stock, "aligned_settings": settings,
                              "per_seed": per_seed})
            if not args.keep_models:
                Path(info["model"]).unlink(missing_ok=True)

    summaries, times = summarize(per_seed, args.test, names)
    if len(seeds) == 1 and all("test" in m for m in results["models"].values()):
        print(f"\n== {first_test}, seed {seeds[0]} ==")
        print(format_side_by_side({n: m["test"] for n, m in results["models"].items()}))

    payload = {"started": started, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "machine": _machine(), "seeds": seeds, "test_files": args.test,
               "nlu_data": args.nlu, "config": args.config, "stock": args.stock,
               "aligned_settings": settings,
               "seeded_components": sorted(SEEDED),
               "train_seconds": times, "summary": summaries, "per_seed": per_seed,
               "markdown": seed_table_markdown(summaries) if summaries else None}
    _dump(seeds_out, payload)

    if dev is not None and project_parses_dev is not None:
        rows = sweep_thresholds(dev, project_parses_dev, THRESHOLDS, AMBIGUITIES)
        best = best_thresholds(rows)
        current = {k: settings.get(k) for k in ("threshold", "ambiguity_threshold")}
        results["tuning"] = {"file": args.tune, "current": current, "best": best, "grid": rows}
        _print_sweep(rows, best, current, args.tune, len(dev), args.config)

    if args.out:
        _dump(Path(args.out), results)
    print(f"\nfigures written to {seeds_out}" + (f" and {args.out}" if args.out else "")
          + (f"; models kept in {work}" if args.keep_models else ""))
    return 0 if not failed and all(
        "test" in m for e in per_seed for m in e["models"].values()) else 1


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(REPO / "config.yml"), help="project pipeline config")
    ap.add_argument("--stock", default=str(REPO / "bench/configs/stock.yml"))
    ap.add_argument("--nlu", default=str(REPO / "data/nlu"))
    ap.add_argument("--domain", default=str(REPO / "domain.yml"))
    ap.add_argument("--test", nargs="+", default=[str(REPO / "tests/data/nlu_test.tsv"),
                                                  str(REPO / "tests/data/heldout_test.tsv")],
                    help="held-out files to score on (reporting only)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3],
                    help="random_seed of DIET and ResponseSelector, one training per seed")
    ap.add_argument("--tune", default=None,
                    help="dev file for the threshold sweep (project model of the first seed), "
                         "e.g. tests/data/nlu_dev.tsv")
    ap.add_argument("--no-tune", dest="tune", action="store_const", const=None)
    ap.add_argument("--only", choices=("stock", "project"), help="train and score one pipeline")
    ap.add_argument("--seeds-out", default=str(REPO / "bench/results/nlu_seeds.json"),
                    help="per-seed reports and the mean/min/max summary")
    ap.add_argument("--out", default=str(REPO / "bench/results/nlu.json"),
                    help="also write the first seed's models on the first test file (and the "
                         "sweep) in the single-run format of bench/results/nlu.json")
    ap.add_argument("--keep-models", help="directory to keep the trained models in")
    ap.add_argument("--resummarize", metavar="SEEDS_JSON",
                    help="no training: rebuild the summary of a (partial) seeds file")
    ap.add_argument("-v", "--verbose", action="store_true", help="full table per model")
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
