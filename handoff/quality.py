"""The seeds' quality figures (KPIs with their targets), as pure functions over stored rows.

``records/quality.py`` reads the rows; this module only counts, so every rule is here and unit
tested. The rules, where the seeds leave them open:

- A figure counts each thing on the shop's day it happened (``HUB_TIMEZONE``): a handoff on the
  day it entered the queue, a conversation on the day it started, a rating on the day it was given.
- A customer is the signed customer id, else the channel's id of the person (the widget's visitor
  id, the WeChat openid), else the conversation itself.
- First response: queue entry → first agent reply, for handoffs queued in working hours ("online").
  A handoff never answered counts as missed once its customer waited longer than the limit.
- Resolution: a handoff an agent ended (closed, or returned to the bot) is resolved when the same
  customer does not come back to the queue on the same topic within 48 h. The topic is the
  handoff's skill group (orders, refunds, payments, account, general): the hub stores no finer topic.
- A complaint is a handoff for anger (reason ``angry``). It is repeated when the same customer
  complains again within 7 days after it.
- Bot self-service: of the conversations in which the customer wrote, those never handed off.
- Handling time: assignment → end, for handoffs an agent ended.
- By agent: a handoff belongs to the agent who first took it, a rating to that agent too.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from handoff.router import within_hours

RESOLUTION_WINDOW = 48 * 3600.0
COMPLAINT_WINDOW = 7 * 86400.0
COMPLAINT_REASON = "angry"
AGENT_ENDS = ("close", "return_to_bot")  # handoff.state.Cause values of an agent ending the chat
MAX_DAYS = 366


@dataclass(frozen=True)
class Target:
    """One configurable target: the seeds' default and the values a supervisor may set."""

    label: str
    default: float | None
    low: float
    high: float
    nullable: bool = True


TARGETS: dict[str, Target] = {
    "first_response_seconds": Target("首次响应时限（秒）", 30, 1, 86400, nullable=False),
    "first_response_rate": Target("首次响应达标率", 0.95, 0, 1),
    "resolution_rate": Target("解决率", 0.85, 0, 1),
    "repeat_complaint_rate": Target("重复投诉率", 0.05, 0, 1),
    "csat_avg": Target("满意度", 4.5, 1, 5),
    "nps": Target("NPS", 30, -100, 100),
    "self_service_rate": Target("机器人自助率", None, 0, 1),
    "handoff_rate": Target("转人工率", None, 0, 1),
    "handling_seconds": Target("平均处理时长（秒）", None, 1, 86400),
}


@dataclass(frozen=True)
class Figure:
    """A figure: its unit (seconds, rate 0–1, score 1–5, nps −100–100), its target's key, and
    whether the value must be at least (True) or at most (False) the target."""

    key: str
    label: str
    unit: str
    target: str
    at_least: bool


FIGURES: tuple[Figure, ...] = (
    Figure("first_response_avg", "平均首次响应", "seconds", "first_response_seconds", False),
    Figure("first_response_rate", "首次响应达标率", "rate", "first_response_rate", True),
    Figure("resolution_rate", "解决率", "rate", "resolution_rate", True),
    Figure("repeat_complaint_rate", "重复投诉率", "rate", "repeat_complaint_rate", False),
    Figure("csat_avg", "满意度", "score", "csat_avg", True),
    Figure("nps", "NPS", "nps", "nps", True),
    Figure("self_service_rate", "机器人自助率", "rate", "self_service_rate", True),
    Figure("handoff_rate", "转人工率", "rate", "handoff_rate", False),
    Figure("handling_avg", "平均处理时长", "seconds", "handling_seconds", False),
)
BOT_ONLY = ("self_service_rate", "handoff_rate")  # not an agent's figure
AGENT_FIGURES = tuple(f for f in FIGURES if f.key not in BOT_ONLY)
REASON_LABELS = {
    "requested": "客户要求人工", "angry": "客户情绪激动", "not_understood": "机器人无法理解", "urgent": "紧急问题",
    "verification_failed": "身份验证未通过", "bot_unavailable": "机器人不可用", "offline_message": "非工作时间留言",
}


class RangeError(ValueError):
    """A date range the figures cannot be asked for."""


def parse_range(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """``YYYY-MM-DD`` to ``YYYY-MM-DD`` (both included; default: the last 7 days up to today)."""
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=6)
    except (TypeError, ValueError):
        raise RangeError("dates must look like 2026-06-18") from None
    if first > last:
        raise RangeError("from is after to")
    if (last - first).days + 1 > MAX_DAYS:
        raise RangeError(f"at most {MAX_DAYS} days at once")
    return first, last


def day_start(day: date, tz: str) -> float:
    """Epoch of the shop's midnight starting ``day``."""
    return datetime.combine(day, dtime(0), tzinfo=ZoneInfo(tz)).timestamp()


def local_day(epoch: float, tz: str) -> date:
    return datetime.fromtimestamp(epoch, ZoneInfo(tz)).date()


def days_of(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def customer_key(customer_id: str | None, channel: str | None, external_id: str | None,
                 conversation_id: str) -> str:
    """Who the customer is, as far as the hub can tell (the same rule as the queue's one place per customer)."""
    if customer_id:
        return "c:" + customer_id
    if external_id:
        return f"x:{channel}:{external_id}"
    return "v:" + conversation_id


def targets_with(overrides: dict[str, float | None]) -> dict[str, float | None]:
    """The seeds' defaults, with what supervisors set."""
    return {key: overrides[key] if key in overrides else t.default for key, t in TARGETS.items()}


def check_target(key: str, value: Any) -> float | None:
    """A target value a supervisor may set, else ``ValueError`` saying why."""
    spec = TARGETS.get(key)
    if spec is None:
        raise ValueError(f"unknown target {key!r}")
    if value is None:
        if not spec.nullable:
            raise ValueError(f"{key} needs a number")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float)
                                                                          and not math.isfinite(value)):
        raise ValueError(f"{key} must be a number")
    if not spec.low <= value <= spec.high:
        raise ValueError(f"{key} must be between {spec.low:g} and {spec.high:g}")
    return float(value)


# -- the figures -------------------------------------------------------------------------------


def ended_by_agent(h: dict[str, Any]) -> bool:
    """Closed or handed back by an agent (rows from before the end cause was stored: any
    assigned, closed handoff)."""
    if h.get("assigned_at") is None or h.get("closed_at") is None:
        return False
    return h.get("end_cause") in AGENT_ENDS or h.get("end_cause") is None


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def first_response(handoffs: Iterable[dict[str, Any]], limit: float, online: Callable[[float], bool],
                   now: float) -> tuple[float | None, float | None, int, int]:
    """(average seconds to the first reply, share within ``limit``, answered, counted)."""
    waits: list[float] = []
    counted = met = 0
    for h in handoffs:
        if not online(h["queued_at"]):
            continue
        if h.get("first_response_at") is not None:
            wait = max(0.0, h["first_response_at"] - h["queued_at"])
            waits.append(wait)
            counted += 1
            met += wait <= limit
        elif (h.get("closed_at") or now) - h["queued_at"] > limit:
            counted += 1  # left (or still waiting) unanswered beyond the limit: missed
    return _mean(waits), _ratio(met, counted), len(waits), counted


class Later:
    """Each customer's handoffs in queue order, to ask what came after one."""

    def __init__(self, handoffs: Iterable[dict[str, Any]]) -> None:
        self.by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for h in sorted(handoffs, key=lambda h: h["queued_at"]):
            self.by_customer[h["customer"]].append(h)

    def any(self, h: dict[str, Any], after: float, within: float, same: Callable[[dict[str, Any]], bool]) -> bool:
        return any(o["id"] != h["id"] and after < o["queued_at"] <= after + within and same(o)
                   for o in self.by_customer.get(h["customer"], ()))


def resolution(handoffs: Iterable[dict[str, Any]], later: Later) -> tuple[float | None, int]:
    """(share resolved, handoffs an agent ended)."""
    ended = [h for h in handoffs if ended_by_agent(h)]
    back = sum(later.any(h, h["closed_at"], RESOLUTION_WINDOW, lambda o, h=h: o["skill"] == h["skill"]) for h in ended)
    return _ratio(len(ended) - back, len(ended)), len(ended)


def repeat_complaints(handoffs: Iterable[dict[str, Any]], later: Later) -> tuple[float | None, int]:
    """(share of complaints followed by another within 7 days, complaints)."""
    complaints = [h for h in handoffs if h["reason"] == COMPLAINT_REASON]
    again = sum(later.any(h, h["queued_at"], COMPLAINT_WINDOW, lambda o: o["reason"] == COMPLAINT_REASON)
                for h in complaints)
    return _ratio(again, len(complaints)), len(complaints)


def nps(answers: Sequence[int]) -> float | None:
    """% promoters (9–10) − % detractors (0–6)."""
    if not answers:
        return None
    promoters = sum(1 for a in answers if a >= 9)
    detractors = sum(1 for a in answers if a <= 6)
    return (promoters - detractors) / len(answers) * 100


def met(figure: Figure, value: float | None, target: float | None) -> bool | None:
    """Whether a value meets its target; None without a value or a target."""
    if value is None or target is None:
        return None
    return value >= target - 1e-9 if figure.at_least else value <= target + 1e-9


def _figure(figure: Figure, value: float | None, count: int, targets: dict[str, float | None]) -> dict[str, Any]:
    target = targets.get(figure.target)
    return {"value": value, "count": count, "target": target, "met": met(figure, value, target)}


def block(handoffs: Sequence[dict[str, Any]], ratings: Sequence[dict[str, Any]],
          conversations: Sequence[dict[str, Any]] | None, later: Later, targets: dict[str, float | None],
          online: Callable[[float], bool], now: float) -> dict[str, Any]:
    """Every figure of one set of rows (a day, an agent, the whole range); ``conversations``
    None for an agent (the bot's figures are not theirs)."""
    limit = float(targets["first_response_seconds"] or TARGETS["first_response_seconds"].default or 30)
    frt_avg, frt_rate, answered, counted = first_response(handoffs, limit, online, now)
    resolved, ended = resolution(handoffs, later)
    repeated, complaints = repeat_complaints(handoffs, later)
    scores = [r["score"] for r in ratings]
    answers = [r["nps"] for r in ratings if r.get("nps") is not None]
    handling = [h["closed_at"] - h["assigned_at"] for h in handoffs if ended_by_agent(h)]
    values: dict[str, tuple[float | None, int]] = {
        "first_response_avg": (frt_avg, answered),
        "first_response_rate": (frt_rate, counted),
        "resolution_rate": (resolved, ended),
        "repeat_complaint_rate": (repeated, complaints),
        "csat_avg": (_mean(scores), len(scores)),
        "nps": (nps(answers), len(answers)),
        "handling_avg": (_mean(handling), len(handling)),
    }
    out: dict[str, Any] = {"handoffs": len(handoffs)}
    if conversations is not None:
        total = len(conversations)
        handed = sum(1 for c in conversations if c["reasons"])
        values["self_service_rate"] = (_ratio(total - handed, total), total)
        values["handoff_rate"] = (_ratio(handed, total), total)
        by_reason: dict[str, int] = defaultdict(int)
        for c in conversations:
            for reason in set(c["reasons"]):
                by_reason[reason] += 1
        out["conversations"] = total
        out["handoffs_by_reason"] = {r: {"count": n, "rate": n / total} for r, n in sorted(by_reason.items())}
    chosen = FIGURES if conversations is not None else AGENT_FIGURES
    out["figures"] = {f.key: _figure(f, *values[f.key], targets) for f in chosen}
    out["missed"] = [k for k, v in out["figures"].items() if v["met"] is False]
    return out


def report(facts: dict[str, Any], first: date, last: date, tz: str, hours: tuple[dtime, dtime],
           targets: dict[str, float | None], agents: Sequence[dict[str, Any]], now: float) -> dict[str, Any]:
    """The figures of ``first``..``last`` (shop days): the whole range, each day, each agent.

    ``facts``: ``handoffs`` (queued from the range's start up to 7 days after it, so what came
    after each one is known; each with its ``customer``), ``ratings`` given in the range, and
    ``conversations`` started in the range in which the customer wrote (each with the ``reasons``
    of its handoffs)."""
    start, end = day_start(first, tz), day_start(last + timedelta(days=1), tz)
    zone = ZoneInfo(tz)

    def online(at: float) -> bool:
        return within_hours(datetime.fromtimestamp(at, zone), hours)

    later = Later(facts["handoffs"])
    handoffs = [h for h in facts["handoffs"] if start <= h["queued_at"] < end]
    ratings = [r for r in facts["ratings"] if start <= r["created_at"] < end]
    conversations = [c for c in facts["conversations"] if start <= c["created_at"] < end]

    def by_day(rows: Sequence[dict[str, Any]], field: str) -> dict[date, list[dict[str, Any]]]:
        out: dict[date, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            out[local_day(row[field], tz)].append(row)
        return out

    h_day, r_day, c_day = by_day(handoffs, "queued_at"), by_day(ratings, "created_at"), by_day(conversations, "created_at")
    def final(until: date) -> bool:  # every follow-up window of these days has passed
        return now >= day_start(until + timedelta(days=1), tz) + COMPLAINT_WINDOW

    days = [{"date": d.isoformat(), "final": final(d), **block(h_day[d], r_day[d], c_day[d], later, targets, online, now)}
            for d in days_of(first, last)]
    names = {a["id"]: a["display_name"] for a in agents}
    h_agent: dict[int, list[dict[str, Any]]] = defaultdict(list)
    r_agent: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for h in handoffs:
        if h.get("agent_id") is not None:
            h_agent[h["agent_id"]].append(h)
    for r in ratings:
        if r.get("agent_id") is not None:
            r_agent[r["agent_id"]].append(r)
    by_agent = [{"agent_id": aid, "display_name": names.get(aid, f"#{aid}"), "final": final(last),
                 **block(h_agent[aid], r_agent[aid], None, later, targets, online, now)}
                for aid in sorted(set(h_agent) | set(r_agent))]
    return {
        "from": first.isoformat(), "to": last.isoformat(), "timezone": tz,
        "targets": targets_out(targets),
        "figures": [{"key": f.key, "label": f.label, "unit": f.unit, "target": f.target,
                     "at_least": f.at_least} for f in FIGURES],
        "totals": {"final": final(last), **block(handoffs, ratings, conversations, later, targets, online, now)},
        "days": days,
        "agents": by_agent,
    }


def targets_out(targets: dict[str, float | None]) -> list[dict[str, Any]]:
    return [{"key": k, "label": t.label, "value": targets.get(k), "default": t.default, "low": t.low,
             "high": t.high, "nullable": t.nullable} for k, t in TARGETS.items()]


# -- CSV ---------------------------------------------------------------------------------------

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """Numbers as numbers; text starting like a formula gets a leading apostrophe, so Excel and
    WPS show it instead of running it (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _shown(figure: Figure, value: float | None) -> float | None:
    """A value as the console shows it: rates in percent."""
    if value is None:
        return None
    if figure.unit == "rate":
        return round(value * 100, 1)
    return round(value, 2)


def _column(figure: Figure) -> str:
    unit = {"seconds": "（秒）", "rate": "（%）", "score": "（满分5）", "nps": ""}[figure.unit]
    return figure.label + unit


def csv_rows(rep: dict[str, Any], by: str) -> list[list[Any]]:
    """The table of a report, by day or by agent, with the whole range and the targets below."""
    agents = by == "agent"
    figures = AGENT_FIGURES if agents else FIGURES
    reasons = sorted({r for d in rep["days"] for r in d.get("handoffs_by_reason", {})}) if not agents else []
    head = ["客服" if agents else "日期"] + ([] if agents else ["会话数"]) + ["转人工数"]
    head += [_column(f) for f in figures]
    head += [f"转人工率·{REASON_LABELS.get(r, r)}（%）" for r in reasons]
    head.append("未达标")
    labels = {f.key: f.label for f in FIGURES}

    def row(name: str, b: dict[str, Any]) -> list[Any]:
        out: list[Any] = [name] + ([] if agents else [b.get("conversations")]) + [b["handoffs"]]
        out += [_shown(f, b["figures"][f.key]["value"]) for f in figures]
        by_reason = b.get("handoffs_by_reason", {})
        out += [round(100 * by_reason[r]["rate"], 1) if r in by_reason else (0.0 if b.get("conversations") else None)
                for r in reasons]
        out.append("、".join(labels[k] for k in b["missed"] if k in b["figures"]))
        return out

    rows = [head]
    rows += [row(a["display_name"], a) for a in rep["agents"]] if agents else [row(d["date"], d) for d in rep["days"]]
    rows.append(row(f"合计 {rep['from']}～{rep['to']}", rep["totals"]) if not agents
                else row(f"全部 {rep['from']}～{rep['to']}", {**rep["totals"], "conversations": None}))
    targets = {t["key"]: t["value"] for t in rep["targets"]}
    rows.append(["目标"] + ([] if agents else [None]) + [None]
                + [_shown(f, targets.get(f.target)) for f in figures] + [None] * len(reasons) + [None])
    return rows


def to_csv(rows: Sequence[Sequence[Any]]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel opens the Chinese headers correctly."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for r in rows:
        writer.writerow([csv_cell(v) for v in r])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
