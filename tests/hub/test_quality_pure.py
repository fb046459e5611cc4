"""The quality figures' arithmetic (handoff.quality), row by row, and its shapes."""

from __future__ import annotations

import csv
import io
from datetime import date, time

import pytest

from handoff import quality, shapes

from .test_shapes import conforms

ALWAYS = (time(0), time.max)


def h(hid: int, customer: str, queued: float, *, reason: str = "requested", skill: str = "orders",
      assigned: float | None = None, reply: float | None = None, closed: float | None = None,
      cause: str | None = "close", agent: int | None = None) -> dict:
    return {"id": hid, "conversation_id": f"c{hid}", "customer": customer, "reason": reason, "skill": skill,
            "queued_at": queued, "assigned_at": assigned, "agent_id": agent, "first_response_at": reply,
            "closed_at": closed, "end_cause": cause}


def test_nps_is_promoters_minus_detractors() -> None:
    assert quality.nps([]) is None
    assert quality.nps([10, 9, 8, 7]) == 50.0
    assert quality.nps([0, 6, 7, 8]) == -50.0
    assert quality.nps([6]) == -100.0


def test_first_response_counts_an_unanswered_wait_beyond_the_limit_as_missed() -> None:
    rows = [h(1, "a", 0, reply=10), h(2, "b", 0, reply=31), h(3, "c", 0, closed=29, cause="ticket"),
            h(4, "d", 0, closed=31, cause="ticket"), h(5, "e", 100)]  # 5: still waiting at now=200
    avg, rate, answered, counted = quality.first_response(rows, 30, lambda t: True, now=200)
    assert (avg, answered, counted) == (20.5, 2, 4) and rate == 1 / 4
    # out of working hours: not counted at all
    assert quality.first_response(rows, 30, lambda t: False, now=200) == (None, None, 0, 0)
    assert quality.first_response([h(1, "a", 0, reply=30)], 30, lambda t: True, 0)[1] == 1.0  # 30 s is in time


def test_resolution_needs_the_same_customer_and_topic_within_48_hours() -> None:
    first = h(1, "a", 0, assigned=5, closed=100)
    later = quality.Later([first, h(3, "b", 200), h(4, "a", 300, skill="refunds")])
    assert quality.resolution([first], later) == (1.0, 1)  # another customer, another topic
    later = quality.Later([first, h(2, "a", 100 + 48 * 3600 + 1)])
    assert quality.resolution([first], later) == (1.0, 1)
    later = quality.Later([first, h(2, "a", 100 + 48 * 3600)])
    assert quality.resolution([first], later) == (0.0, 1)  # exactly 48 h later: back within the window
    # only handoffs an agent ended count; a ticket or a customer who left does not
    assert quality.resolution([h(5, "a", 0, assigned=1, closed=2, cause="ticket"), h(6, "a", 0, closed=3)],
                              quality.Later([])) == (None, 0)


def test_resolution_counts_the_window_from_the_close() -> None:
    first = h(1, "a", 0, assigned=5, closed=100)
    assert quality.resolution([first], quality.Later([first, h(2, "a", 50)])) == (1.0, 1)  # before the close


def test_a_complaint_is_repeated_when_another_follows_within_7_days() -> None:
    day = 86400
    rows = [h(1, "a", 0, reason="angry"), h(2, "a", 7 * day, reason="angry"), h(3, "a", 14 * day + 1, reason="angry"),
            h(4, "b", 0, reason="angry"), h(5, "b", day, reason="requested")]
    later = quality.Later(rows)
    assert quality.repeat_complaints(rows, later) == (1 / 4, 4)


def test_met_follows_the_direction_of_each_figure() -> None:
    by_key = {f.key: f for f in quality.FIGURES}
    assert quality.met(by_key["csat_avg"], 4.5, 4.5) is True
    assert quality.met(by_key["csat_avg"], 4.49, 4.5) is False
    assert quality.met(by_key["repeat_complaint_rate"], 0.05, 0.05) is True
    assert quality.met(by_key["repeat_complaint_rate"], 0.06, 0.05) is False
    assert quality.met(by_key["nps"], None, 30) is None and quality.met(by_key["nps"], 10, None) is None


def test_customers_are_told_apart_as_the_queue_does() -> None:
    assert quality.customer_key("C1", "web", "v1", "x") == "c:C1"
    assert quality.customer_key(None, "wechat", "o1", "x") == "x:wechat:o1"
    assert quality.customer_key("", "web", None, "x") == "v:x"


def test_ranges() -> None:
    today = date(2026, 6, 18)
    assert quality.parse_range(None, None, today) == (date(2026, 6, 12), today)
    assert quality.parse_range("2026-06-01", "2026-06-01", today) == (date(2026, 6, 1),) * 2
    for bad in (("2026-06-02", "2026-06-01"), ("2025-01-01", "2026-06-01"), ("6/1", None), ("\ud800", None)):
        with pytest.raises(quality.RangeError):
            quality.parse_range(*bad, today)
    # days are the shop's: Shanghai's midnight is 16:00 UTC the day before
    assert quality.day_start(date(2026, 6, 18), "Asia/Shanghai") == 1781712000.0
    assert quality.local_day(1781712000.0 - 1, "Asia/Shanghai") == date(2026, 6, 17)


def test_targets() -> None:
    assert quality.targets_with({})["csat_avg"] == 4.5
    assert quality.targets_with({"csat_avg": None})["csat_avg"] is None
    assert quality.check_target("nps", -100) == -100.0
    for key, value in (("nps", 101), ("csat_avg", float("inf")), ("csat_avg", True), ("rate", 1),
                       ("first_response_seconds", None), ("resolution_rate", "0.9"), ("resolution_rate", 10**400)):
        with pytest.raises(ValueError):
            quality.check_target(key, value)


def test_csv_cells_cannot_become_formulas() -> None:
    assert [quality.csv_cell(v) for v in ("=1+1", "+86", "-x", "@SUM(A1)", "\tx", "客服 小李", None, -20, 4.5)] == \
        ["'=1+1", "'+86", "'-x", "'@SUM(A1)", "'\tx", "客服 小李", "", -20, 4.5]
    out = quality.to_csv([["客服", "NPS"], ["=HYPERLINK(\"x\")", -20.0]])
    assert out.startswith("\ufeff".encode())
    assert list(csv.reader(io.StringIO(out.decode("utf-8-sig")))) == [["客服", "NPS"], ["'=HYPERLINK(\"x\")", "-20.0"]]


def test_report_by_day_and_agent_and_its_shape() -> None:
    tz = "Asia/Shanghai"
    d = date(2026, 6, 18)
    t0 = quality.day_start(d, tz) + 10 * 3600
    facts = {
        "handoffs": [h(1, "a", t0, assigned=t0 + 5, reply=t0 + 10, closed=t0 + 65, agent=7, reason="angry"),
                     h(2, "b", t0 + 86400, assigned=t0 + 86405, reply=t0 + 86460, closed=t0 + 86500, agent=8)],
        "ratings": [{"score": 5, "nps": 10, "agent_id": 7, "created_at": t0 + 70},
                    {"score": 2, "nps": None, "agent_id": 8, "created_at": t0 + 86501}],
        "conversations": [{"id": "c1", "created_at": t0, "reasons": ["angry"]},
                          {"id": "c9", "created_at": t0 + 1, "reasons": []},
                          {"id": "c2", "created_at": t0 + 86400, "reasons": ["requested"]}],
    }
    agents = [{"id": 7, "display_name": "=客服"}, {"id": 8, "display_name": "小陈"}]
    rep = quality.report(facts, d, date(2026, 6, 19), tz, ALWAYS, quality.targets_with({}), agents, t0 + 10**6)
    day1, day2 = rep["days"]
    assert (day1["conversations"], day1["handoffs"], day2["conversations"], day2["handoffs"]) == (2, 1, 1, 1)
    assert day1["figures"]["self_service_rate"]["value"] == 0.5 and day2["figures"]["first_response_rate"]["value"] == 0.0
    assert day1["handoffs_by_reason"] == {"angry": {"count": 1, "rate": 0.5}}
    assert [a["display_name"] for a in rep["agents"]] == ["=客服", "小陈"]
    assert rep["agents"][0]["figures"]["handling_avg"]["value"] == 60.0 and "self_service_rate" not in rep["agents"][0]["figures"]
    assert rep["totals"]["figures"]["csat_avg"] == {"value": 3.5, "count": 2, "target": 4.5, "met": False}
    assert "csat_avg" in rep["totals"]["missed"]
    conforms(shapes.figures(rep), {"$ref": "#/components/schemas/Figures"})
    conforms(shapes.targets(quality.targets_out(quality.targets_with({"nps": None}))),
             {"$ref": "#/components/schemas/Targets"})
    rows = quality.csv_rows(rep, "agent")
    assert rows[1][0] == "=客服" and quality.csv_cell(rows[1][0]) == "'=客服"
    # an empty range still lists its days, with no values and nothing marked
    empty = quality.report({"handoffs": [], "ratings": [], "conversations": []}, d, d, tz, ALWAYS,
                           quality.targets_with({}), [], t0)
    assert empty["totals"]["missed"] == [] and empty["days"][0]["figures"]["nps"]["value"] is None
    # until 7 days after a day, a customer may still come back: its figures are not final
    assert empty["totals"]["final"] is False and rep["totals"]["final"] is True
    assert [x["final"] for x in quality.report(facts, d, date(2026, 6, 19), tz, ALWAYS, quality.targets_with({}),
                                               agents, quality.day_start(date(2026, 6, 27), tz) - 1)["days"]] == [True, False]
