"""PNG plots of bench/results/*.json for bench/README.md (matplotlib, no display needed).

    .venv/bin/python -m bench.plots

Each plot is drawn only when its result file exists and holds data, so a partial run still
plots what it measured.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import RESULTS

# Headline NLU figures where higher is better (the rest, lower is better).
NLU_HIGHER = ("intent_accuracy", "macro_f1", "anger_f1", "order_id_f1", "oos_recall")
NLU_LOWER = ("in_scope_rejected_rate", "fallback_rate")


def load(name: str, results: Path = RESULTS) -> dict[str, Any] | None:
    path = results / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def per_intent_f1(nlu: dict[str, Any]) -> list[tuple[str, float | None, float | None]]:
    """(intent, stock F1, project F1) for every intent either model was scored on, sorted."""
    models = nlu.get("models", {})

    def table(name: str) -> dict[str, Any]:
        return ((models.get(name) or {}).get("test") or {}).get("per_intent") or {}

    stock, project = table("stock"), table("project")
    return [(intent, (stock.get(intent) or {}).get("f1"), (project.get(intent) or {}).get("f1"))
            for intent in sorted(set(stock) | set(project))]


def nlu_headline(nlu: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Headline figures of both models side by side, and whether the project is ahead on each."""
    out: dict[str, dict[str, Any]] = {}
    tests = {name: ((nlu.get("models", {}).get(name) or {}).get("test") or {}) for name in ("stock", "project")}

    def figure(test: dict[str, Any], key: str) -> float | None:
        if key.endswith("_f1") and key[:-3] in ("anger", "order_id"):
            return (test.get(key[:-3]) or {}).get("f1")
        return test.get(key)

    for key in (*NLU_HIGHER, *NLU_LOWER):
        s, p = figure(tests["stock"], key), figure(tests["project"], key)
        ahead = None if s is None or p is None else (p > s if key in NLU_HIGHER else p < s)
        out[key] = {"stock": s, "project": p, "project_ahead": ahead}
    return out


def load_series(load_hub: dict[str, Any], target: str, key: str) -> tuple[list[int], list[float]]:
    """x = customers, y = `key` for one target (hub|rasa), skipping missing values."""
    rows = sorted((r for r in load_hub.get("rows", []) if r.get("target") == target),
                  key=lambda r: r["customers"])
    pts = [(r["customers"], r[key]) for r in rows if r.get(key) is not None]
    return [x for x, _ in pts], [y for _, y in pts]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_nlu(nlu: dict[str, Any], out: Path) -> Path | None:
    rows = per_intent_f1(nlu)
    if not rows:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(12, 5))
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r[1] or 0 for r in rows], width=0.4, label="stock Rasa")
    ax.bar([x + 0.2 for x in xs], [r[2] or 0 for r in rows], width=0.4, label="project pipeline")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([r[0] for r in rows], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("F1 (held-out test split)")
    ax.set_ylim(0, 1.05)
    ax.set_title("Per-intent F1: stock Rasa vs project pipeline")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_load(load_hub: dict[str, Any], out: Path) -> Path | None:
    if not load_hub.get("rows"):
        return None
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for target, label in (("rasa", "direct Rasa REST"), ("hub", "through the hub")):
        for key, style in (("p50_ms", "-o"), ("p99_ms", "--s")):
            x, y = load_series(load_hub, target, key)
            ax1.plot(x, y, style, label=f"{label} {key[:3]}")
        x, y = load_series(load_hub, target, "turns_per_s")
        ax2.plot(x, y, "-o", label=label)
    ax1.axhline(200, color="grey", linestyle=":", label="target p99 200 ms")
    ax1.set_xlabel("concurrent customers")
    ax1.set_ylabel("reply latency (ms)")
    ax1.set_yscale("log")
    ax1.legend(fontsize=7)
    ax1.set_title("Reply latency")
    ax2.axhline(150, color="grey", linestyle=":", label="target 150 turns/s")
    ax2.set_xlabel("concurrent customers")
    ax2.set_ylabel("bot turns per second")
    ax2.legend(fontsize=7)
    ax2.set_title("Throughput")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_handoff(handoff: dict[str, Any], out: Path) -> Path | None:
    modes = [(name, m) for name, m in (handoff.get("modes") or {}).items() if "handoff" in m]
    if not modes:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    labels, vals = [], []
    for name, m in modes:
        for part in ("handoff", "agent_reply"):
            for q in ("p50_ms", "p99_ms"):
                labels.append(f"{name}\n{part}\n{q[:3]}")
                vals.append(m[part].get(q) or 0)
    ax.bar(range(len(vals)), vals, color=["C0", "C0", "C1", "C1"] * len(modes))
    ax.set_xticks(range(len(vals)))
    ax.set_xticklabels(labels, fontsize=7)
    ax.axhline(100, color="grey", linestyle=":", label="target p99 100 ms")
    ax.set_ylabel("ms (HTTP send -> websocket event)")
    ax.set_title("Handoff and agent-reply delivery")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: Sequence[str] | None = None, results: Path = RESULTS) -> list[Path]:
    made = []
    for name, fn, png in (("nlu", plot_nlu, "nlu_f1.png"), ("load_hub", plot_load, "load_hub.png"),
                          ("handoff_latency", plot_handoff, "handoff.png")):
        data = load(name, results)
        path = fn(data, results / png) if data else None
        print(f"[plots] {png}: {'written' if path else 'no data'}")
        if path:
            made.append(path)
    return made


if __name__ == "__main__":
    main()
