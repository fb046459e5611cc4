"""Scoring shared by bench/eval_nlu.py and bench/nlu_compare.py.

Everything here is pure (no I/O apart from `load_examples`) so that the figures the bot is
judged with are computed one way only and can be tested on hand-made predictions.

Evaluation file format (tab separated, `#` starts a comment line):
    text <TAB> intent (a|b when either is right) <TAB> angry 1/0 <TAB> entities (k=v,k=v or empty)
"""

from __future__ import annotations

import statistics
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.nlu.fallback import DEFAULT_SIBLINGS, should_fall_back

FALLBACK = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
RETRIEVAL_INTENT = "faq"
ANGRY = "angry"
ORDER_ID = "order_id"
HUMAN_AGENT = "human_agent"

# The NLU contract (DESIGN.md); files are checked against it so that a typo in a label
# cannot silently create a new class.
CONTRACT_INTENTS: tuple[str, ...] = (
    "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "human_agent",
    "order_status", "logistics", "cancel_order", "modify_order", "refund", "return_exchange",
    "complaint", "invoice", "payment_issue", "account_issue", "promotion", "product_inquiry",
    "out_of_scope",
)
CONTRACT_FAQ_KEYS: tuple[str, ...] = (
    "faq/shipping_fee", "faq/delivery_time", "faq/return_policy", "faq/refund_time",
    "faq/payment_methods", "faq/membership", "faq/working_hours", "faq/warranty",
    # added: the questions shops get beyond the first eight
    "faq/return_shipping", "faq/special_invoice", "faq/invoice_reissue", "faq/coupon",
    "faq/price_protection", "faq/missing_item", "faq/change_size", "faq/contact_merchant",
    "faq/remote_delivery",
)
CONTRACT_LABELS: frozenset[str] = frozenset(CONTRACT_INTENTS + CONTRACT_FAQ_KEYS)


class EvalFileError(ValueError):
    """A line of an evaluation file that cannot be scored; names file and line."""


@dataclass(frozen=True)
class Example:
    """One gold row: `intents` holds every label that counts as right."""

    text: str
    intents: tuple[str, ...]
    angry: bool
    entities: tuple[tuple[str, str], ...] = ()
    line: int = 0

    def entity_values(self, name: str) -> frozenset[str]:
        return frozenset(_norm_value(v) for k, v in self.entities if k == name)


@dataclass(frozen=True)
class Prediction:
    """What the scorer needs from one parse result."""

    intent: str
    angry: bool = False
    order_ids: frozenset[str] = field(default_factory=frozenset)


# --------------------------------------------------------------------------- reading


def parse_line(raw: str, line_no: int = 0, source: str = "<string>",
               allowed: frozenset[str] | None = CONTRACT_LABELS) -> Example | None:
    """Parse one TSV line; None for blank/comment lines, EvalFileError for bad ones."""
    line = raw.rstrip("\r\n")
    if not line.strip() or line.lstrip().startswith("#"):
        return None
    where = f"{source}:{line_no}"
    cols = line.split("\t")
    if len(cols) == 3:
        cols.append("")
    if len(cols) != 4:
        raise EvalFileError(f"{where}: expected 4 tab-separated columns, got {len(cols)}")
    text, intent_col, angry_col, ent_col = cols
    if not text.strip():
        raise EvalFileError(f"{where}: empty text")
    intents = tuple(i.strip() for i in intent_col.split("|"))
    if not all(intents):
        raise EvalFileError(f"{where}: empty intent in {intent_col!r}")
    if allowed is not None:
        unknown = [i for i in intents if i not in allowed]
        if unknown:
            raise EvalFileError(f"{where}: intent(s) not in the NLU contract: {unknown}")
    if angry_col.strip() not in ("0", "1"):
        raise EvalFileError(f"{where}: angry must be 0 or 1, got {angry_col!r}")
    entities: list[tuple[str, str]] = []
    for item in filter(None, (e.strip() for e in ent_col.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise EvalFileError(f"{where}: entity must look like name=value, got {item!r}")
        entities.append((key.strip(), value.strip()))
    return Example(text, intents, angry_col.strip() == "1", tuple(entities), line_no)


def parse_lines(lines: Iterable[str], source: str = "<string>",
                allowed: frozenset[str] | None = CONTRACT_LABELS) -> list[Example]:
    """Parse all lines; collects every bad line into one error so nothing is fixed blind."""
    examples: list[Example] = []
    errors: list[str] = []
    for no, raw in enumerate(lines, start=1):
        try:
            ex = parse_line(raw, no, source, allowed)
        except EvalFileError as exc:
            errors.append(str(exc))
            continue
        if ex is not None:
            examples.append(ex)
    if errors:
        raise EvalFileError("\n".join(errors))
    if not examples:
        raise EvalFileError(f"{source}: no examples")
    return examples


def load_examples(path: str | Path, allowed: frozenset[str] | None = CONTRACT_LABELS
                  ) -> list[Example]:
    """Read an evaluation file (UTF-8)."""
    p = Path(path)
    with p.open(encoding="utf-8") as fh:
        return parse_lines(fh, str(p), allowed)


# --------------------------------------------------------------------------- parse results


def _norm_value(value: Any) -> str:
    """Compare entity values width-insensitively: `２０２４…` and `2024…` are one order."""
    return unicodedata.normalize("NFKC", str(value)).strip()


def _retrieval_key(parse: dict[str, Any], intent: str) -> str:
    """Full `faq/key` name from the response selector, else the bare retrieval intent."""
    selector = parse.get("response_selector") or {}
    for sel_name in (intent, "default"):
        key = (((selector.get(sel_name) or {}).get("response") or {})
               .get("intent_response_key"))
        if key:
            return str(key)
    full = (parse.get("intent") or {}).get("full_retrieval_intent_name")
    return str(full) if full else intent


def label_for(parse: dict[str, Any], intent: str | None) -> str:
    """Turn a predicted intent name into the label scored (retrieval intent -> faq/key)."""
    if not intent:
        return FALLBACK
    if intent == RETRIEVAL_INTENT or intent in (
            (parse.get("response_selector") or {}).get("all_retrieval_intents") or []):
        return _retrieval_key(parse, intent)
    return intent


def predicted_label(parse: dict[str, Any]) -> str:
    """Label of a `/model/parse` result as the model returned it (fallback included)."""
    return label_for(parse, (parse.get("intent") or {}).get("name"))


def predicted_angry(parse: dict[str, Any]) -> bool:
    """Top-level `emotion` field; missing or malformed counts as neutral."""
    emotion = parse.get("emotion")
    return isinstance(emotion, dict) and emotion.get("name") == ANGRY


def predicted_entity_values(parse: dict[str, Any], name: str = ORDER_ID) -> frozenset[str]:
    return frozenset(_norm_value(e.get("value", "")) for e in parse.get("entities") or []
                     if e.get("entity") == name and str(e.get("value", "")).strip())


def prediction_from_parse(parse: dict[str, Any]) -> Prediction:
    return Prediction(predicted_label(parse), predicted_angry(parse),
                      predicted_entity_values(parse, ORDER_ID))


def ranking_without_fallback(parse: dict[str, Any]) -> list[tuple[str, float]]:
    """The classifier's own ranking, i.e. what FallbackClassifier saw before it stepped in."""
    ranking = [(str(r.get("name")), float(r.get("confidence") or 0.0))
               for r in parse.get("intent_ranking") or [] if r.get("name") != FALLBACK]
    if not ranking:
        top = parse.get("intent") or {}
        if top.get("name") and top.get("name") != FALLBACK:
            ranking = [(str(top["name"]), float(top.get("confidence") or 0.0))]
    return ranking


def label_with_fallback(parse: dict[str, Any], threshold: float, ambiguity: float,
                        groups: Iterable[Sequence[str]] = DEFAULT_SIBLINGS) -> str:
    """Re-decide fallback for other thresholds, the way the pipeline's fallback does.

    Same rule as `bot.nlu.fallback` (Rasa's FallbackClassifier when `groups` is empty), so
    thresholds can be swept without retraining.
    """
    ranking = ranking_without_fallback(parse)
    if should_fall_back(ranking, threshold, ambiguity, groups):
        return FALLBACK
    return label_for(parse, ranking[0][0])


# --------------------------------------------------------------------------- scoring


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "support": tp + fn}


def effective_gold(example: Example, predicted: str) -> str:
    """The one gold label a row counts for: the prediction if it is acceptable, else the first."""
    return predicted if predicted in example.intents else example.intents[0]


def score(examples: Sequence[Example], predictions: Sequence[Prediction],
          max_confusions: int = 25) -> dict[str, Any]:
    """All figures for one model on one file.

    Macro-F1 averages over the labels that occur as (effective) gold, so a prediction
    outside them (e.g. `nlu_fallback`) costs recall of the true class but does not add a
    class of its own.
    """
    if len(examples) != len(predictions):
        raise ValueError(f"{len(examples)} examples but {len(predictions)} predictions")
    if not examples:
        raise ValueError("nothing to score")
    gold = [effective_gold(ex, pr.intent) for ex, pr in zip(examples, predictions, strict=True)]
    pred = [pr.intent for pr in predictions]
    correct = sum(g == p for g, p in zip(gold, pred, strict=True))

    labels = sorted(set(gold))
    tp = Counter(g for g, p in zip(gold, pred, strict=True) if g == p)
    fp = Counter(p for g, p in zip(gold, pred, strict=True) if g != p)
    fn = Counter(g for g, p in zip(gold, pred, strict=True) if g != p)
    per_intent = {lab: _prf(tp[lab], fp[lab], fn[lab]) for lab in labels}
    macro_f1 = sum(v["f1"] for v in per_intent.values()) / len(per_intent)

    confusion_counts = Counter((g, p) for g, p in zip(gold, pred, strict=True) if g != p)
    samples: dict[tuple[str, str], list[str]] = {}
    for ex, g, p in zip(examples, gold, pred, strict=True):
        if g != p:
            samples.setdefault((g, p), []).append(ex.text)
    confusions = [
        {"gold": g, "predicted": p, "count": n, "examples": samples[(g, p)][:3]}
        for (g, p), n in sorted(confusion_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ][:max_confusions]

    a_tp = sum(ex.angry and pr.angry for ex, pr in zip(examples, predictions, strict=True))
    a_fp = sum(not ex.angry and pr.angry for ex, pr in zip(examples, predictions, strict=True))
    a_fn = sum(ex.angry and not pr.angry for ex, pr in zip(examples, predictions, strict=True))
    anger = _prf(a_tp, a_fp, a_fn)
    calm = sum(not ex.angry for ex in examples)
    anger["false_alarm_rate"] = a_fp / calm if calm else None
    anger["false_alarms"] = a_fp

    oos_rows = [pr for ex, pr in zip(examples, predictions, strict=True) if OUT_OF_SCOPE in ex.intents]
    oos_hit = sum(pr.intent in (OUT_OF_SCOPE, FALLBACK) for pr in oos_rows)
    in_rows = [pr for ex, pr in zip(examples, predictions, strict=True) if OUT_OF_SCOPE not in ex.intents]
    in_fallback = sum(pr.intent in (OUT_OF_SCOPE, FALLBACK) for pr in in_rows)

    e_tp = e_fp = e_fn = 0
    for ex, pr in zip(examples, predictions, strict=True):
        g_ids = ex.entity_values(ORDER_ID)
        e_tp += len(g_ids & pr.order_ids)
        e_fp += len(pr.order_ids - g_ids)
        e_fn += len(g_ids - pr.order_ids)

    return {
        "n": len(examples),
        "intent_accuracy": correct / len(examples),
        "macro_f1": macro_f1,
        "per_intent": per_intent,
        "confusions": confusions,
        "anger": anger,
        "oos_recall": oos_hit / len(oos_rows) if oos_rows else None,
        "oos_support": len(oos_rows),
        "in_scope_rejected_rate": in_fallback / len(in_rows) if in_rows else None,
        "fallback_rate": sum(p == FALLBACK for p in pred) / len(pred),
        "order_id": _prf(e_tp, e_fp, e_fn),
        "human_request": human_request_figures(examples, predictions),
    }


def human_request_figures(examples: Sequence[Example], predictions: Sequence[Prediction]
                          ) -> dict[str, Any]:
    """Handoff requests judged by the predicted intent alone.

    recall = share of rows whose gold names human_agent that are predicted human_agent;
    false alarms = rows whose gold does not name human_agent but are predicted human_agent.
    """
    pairs = list(zip(examples, predictions, strict=True))
    gold = [pr for ex, pr in pairs if HUMAN_AGENT in ex.intents]
    other = [pr for ex, pr in pairs if HUMAN_AGENT not in ex.intents]
    hits = sum(pr.intent == HUMAN_AGENT for pr in gold)
    alarms = sum(pr.intent == HUMAN_AGENT for pr in other)
    return {"recall": hits / len(gold) if gold else None, "support": len(gold),
            "false_alarms": alarms,
            "false_alarm_rate": alarms / len(other) if other else None}


# --------------------------------------------------------------------------- threshold sweep


def frange(start: float, stop: float, step: float) -> list[float]:
    """Inclusive, rounding-safe float range for threshold grids."""
    n = int(round((stop - start) / step))
    return [round(start + i * step, 6) for i in range(n + 1)]


def sweep_thresholds(examples: Sequence[Example], parses: Sequence[dict[str, Any]],
                     thresholds: Sequence[float], ambiguities: Sequence[float]
                     ) -> list[dict[str, Any]]:
    """Score every (threshold, ambiguity) pair on cached parse results."""
    rows = []
    for thr in thresholds:
        for amb in ambiguities:
            preds = [Prediction(label_with_fallback(p, thr, amb), predicted_angry(p),
                                predicted_entity_values(p)) for p in parses]
            rep = score(examples, preds)
            rows.append({"threshold": thr, "ambiguity_threshold": amb,
                         "macro_f1": rep["macro_f1"], "intent_accuracy": rep["intent_accuracy"],
                         "oos_recall": rep["oos_recall"],
                         "in_scope_rejected_rate": rep["in_scope_rejected_rate"]})
    return rows


def best_thresholds(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Highest macro-F1; ties (to 4 decimals) go to higher OOS recall, then the lower pair.

    The last rule prefers the gentler fallback when nothing is gained by a stricter one.
    """
    if not rows:
        raise ValueError("empty sweep")

    def key(r: dict[str, Any]) -> tuple[float, float, float, float]:
        return (-round(r["macro_f1"], 4), -round(r["oos_recall"] or 0.0, 4),
                r["threshold"], r["ambiguity_threshold"])

    return min(rows, key=key)


# --------------------------------------------------------------------------- printing


def _pct(x: float | None) -> str:
    return "   n/a" if x is None else f"{100 * x:6.1f}"


def summary_lines(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("examples", f"{report['n']:6d}"),
        ("intent accuracy %", _pct(report["intent_accuracy"])),
        ("macro-F1 %", _pct(report["macro_f1"])),
        ("out-of-scope recall %", _pct(report["oos_recall"])),
        ("in-scope rejected %", _pct(report["in_scope_rejected_rate"])),
        ("fallback rate %", _pct(report["fallback_rate"])),
        ("anger precision %", _pct(report["anger"]["precision"])),
        ("anger recall %", _pct(report["anger"]["recall"])),
        ("anger F1 %", _pct(report["anger"]["f1"])),
        ("order_id precision %", _pct(report["order_id"]["precision"])),
        ("order_id recall %", _pct(report["order_id"]["recall"])),
    ]


def format_report(report: dict[str, Any], title: str = "") -> str:
    """Readable table for one model: summary, per-intent figures, top confusions."""
    out = [title] if title else []
    out += [f"  {name:<24}{val}" for name, val in summary_lines(report)]
    out.append("")
    out.append(f"  {'intent':<22}{'prec':>7}{'rec':>7}{'F1':>7}{'n':>5}")
    for lab, v in sorted(report["per_intent"].items(), key=lambda kv: (kv[1]["f1"], kv[0])):
        out.append(f"  {lab:<22}{_pct(v['precision']):>7}{_pct(v['recall']):>7}"
                   f"{_pct(v['f1']):>7}{v['support']:>5}")
    if report["confusions"]:
        out.append("")
        out.append("  confusions (gold -> predicted: count, e.g.)")
        for c in report["confusions"]:
            out.append(f"  {c['gold']} -> {c['predicted']}: {c['count']}  "
                       f"e.g. {c['examples'][0]}")
    return "\n".join(out)


def format_side_by_side(reports: dict[str, dict[str, Any]]) -> str:
    """Compare several models on the same file, one column each."""
    names = list(reports)
    width = max(12, *(len(n) + 2 for n in names))
    out = [f"  {'':<24}" + "".join(f"{n:>{width}}" for n in names)]
    rows = [summary_lines(reports[n]) for n in names]
    for i, (label, _) in enumerate(rows[0]):
        out.append(f"  {label:<24}" + "".join(f"{r[i][1]:>{width}}" for r in rows))
    labels = sorted(set().union(*(reports[n]["per_intent"] for n in names)))
    out.append("")
    out.append(f"  {'F1 % per intent':<24}" + "".join(f"{n:>{width}}" for n in names))
    for lab in labels:
        vals = [reports[n]["per_intent"].get(lab, {}).get("f1") for n in names]
        out.append(f"  {lab:<24}" + "".join(f"{_pct(v):>{width}}" for v in vals))
    return "\n".join(out)


def coverage(examples: Sequence[Example]) -> Counter[str]:
    """How many rows name each label (an `a|b` row counts for both)."""
    return Counter(lab for ex in examples for lab in ex.intents)


# --------------------------------------------------------------------------- several seeds


@dataclass(frozen=True)
class Figure:
    """One headline figure of a report: key, label, where it sits, which way is better."""

    key: str
    label: str
    path: tuple[str, ...]
    higher_is_better: bool = True
    needs_emotion: bool = False


SEED_FIGURES: tuple[Figure, ...] = (
    Figure("intent_accuracy", "intent accuracy", ("intent_accuracy",)),
    Figure("macro_f1", "macro-F1", ("macro_f1",)),
    Figure("oos_recall", "out-of-scope recall", ("oos_recall",)),
    Figure("in_scope_rejected", "in-scope rejected", ("in_scope_rejected_rate",), False),
    Figure("anger_precision", "anger precision", ("anger", "precision"), needs_emotion=True),
    Figure("anger_recall", "anger recall", ("anger", "recall"), needs_emotion=True),
    Figure("anger_false_alarms", "anger false alarms (calm rows)",
           ("anger", "false_alarm_rate"), False, needs_emotion=True),
    Figure("human_recall", "human-request recall", ("human_request", "recall")),
    Figure("human_false_alarms", "human false alarms (other rows)",
           ("human_request", "false_alarm_rate"), False),
    Figure("order_id_precision", "order_id precision", ("order_id", "precision")),
    Figure("order_id_recall", "order_id recall", ("order_id", "recall")),
)


def figure_value(report: dict[str, Any], fig: Figure) -> float | None:
    """A figure of one report; None when it is missing or the model gives no anger signal."""
    if fig.needs_emotion and not report.get("has_emotion", True):
        return None
    value: Any = report
    for part in fig.path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return None if value is None else float(value)


def spread(values: Sequence[float | None]) -> dict[str, Any] | None:
    """Mean, min and max over seeds; None if any seed lacks the figure."""
    if not values or any(v is None for v in values):
        return None
    vals = [float(v) for v in values if v is not None]
    return {"mean": statistics.fmean(vals), "min": min(vals), "max": max(vals), "values": vals}


def ahead_beyond_spread(project: dict[str, Any] | None, stock: dict[str, Any] | None,
                        higher_is_better: bool = True) -> bool | None:
    """Project ahead on every seed: its worst seed beats the stock pipeline's best.

    Higher is better: project min > stock max. Lower is better: project max < stock min.
    None when either side has no figure or fewer than two seeds (no spread to beat).
    """
    if project is None or stock is None or min(len(project["values"]),
                                               len(stock["values"])) < 2:
        return None
    if higher_is_better:
        return project["min"] > stock["max"]
    return project["max"] < stock["min"]


def seed_summary(reports: dict[str, Sequence[dict[str, Any]]],
                 figures: Sequence[Figure] = SEED_FIGURES) -> dict[str, dict[str, Any]]:
    """Per figure: mean/min/max over seeds of `reports["stock"]` and `reports["project"]`
    (one report per seed each) and whether the project is ahead by more than the spread."""
    out: dict[str, dict[str, Any]] = {}
    for fig in figures:
        row: dict[str, Any] = {"label": fig.label, "higher_is_better": fig.higher_is_better}
        for name in ("stock", "project"):
            row[name] = spread([figure_value(r, fig) for r in reports.get(name) or []])
        row["project_ahead_beyond_spread"] = ahead_beyond_spread(
            row["project"], row["stock"], fig.higher_is_better)
        out[fig.key] = row
    return out


def format_spread(agg: dict[str, Any] | None) -> str:
    if agg is None:
        return "—"
    mean, lo, hi = (100 * agg[k] for k in ("mean", "min", "max"))
    if len(agg["values"]) == 1:
        return f"{mean:.1f}"
    return f"{mean:.1f} [{lo:.1f}–{hi:.1f}]"


def format_verdict(v: bool | None) -> str:
    return "—" if v is None else ("yes" if v else "no")


def seed_table_markdown(summaries: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Markdown table: one row per figure, stock and project per test file, % mean [min–max]."""
    files = list(summaries)
    head = "| figure (%) |" + "".join(f" stock: {f} | project: {f} | ahead beyond spread |"
                                     for f in files)
    sep = "|---|" + "---|---|---|" * len(files)
    lines = [head, sep]
    first = summaries[files[0]]
    for key, row in first.items():
        label = row["label"] + ("" if row["higher_is_better"] else " ↓")
        cells = "".join(f" {format_spread(summaries[f][key]['stock'])} | "
                        f"{format_spread(summaries[f][key]['project'])} | "
                        f"{format_verdict(summaries[f][key]['project_ahead_beyond_spread'])} |"
                        for f in files)
        lines.append(f"| {label} |{cells}")
    return "\n".join(lines)
