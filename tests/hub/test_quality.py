"""The quality figures against a real hub process: a known day of chats (tests/hub/quality_day.py,
written with the hub's repositories at chosen times) gives every figure, by day and by agent, as
worked out by hand, on SQLite and on PostgreSQL; the CSV says the same; targets change what is
marked missed; and only supervisors get any of it."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import requests

from tests.conftest import BACKENDS
from tests.services import fresh_pg_database, require_services

from .conftest import PASSWORDS, HubProcess
from .quality_day import (
    EXPECTED_AGENTS,
    EXPECTED_DAY,
    EXPECTED_SIDES,
    HOURS,
    TZ,
    build_known_day,
    known_day,
)

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('quality') / 'hub.db'}"
        return
    require_services()
    with fresh_pg_database("hub_quality") as url:
        yield url


@pytest.fixture(scope="module")
def day_hub(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, date, dict[str, str]]]:
    hub = HubProcess({"HUB_DATABASE_URL": database, "RASA_URL": "http://127.0.0.1:9",
                      "HUB_WORKING_HOURS": HOURS, "HUB_TIMEZONE": TZ}, tmp_path_factory.mktemp("quality-hub") / "hub.log")
    try:
        day = known_day()
        ids = build_known_day(database, day)
        yield hub, day, ids
    finally:
        hub.stop()


def token(hub: HubProcess, username: str) -> dict[str, str]:
    r = requests.post(f"{hub.url}/api/agent/login", timeout=10,
                      json={"username": username, "password": PASSWORDS[username], "bearer": True})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def close(actual: Any, expected: Any, path: str = "$") -> None:
    """Equal, numbers to 1e-9."""
    if isinstance(expected, float) or isinstance(actual, float):
        assert actual is not None and math.isclose(actual, expected, abs_tol=1e-9), f"{path}: {actual} != {expected}"
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), f"{path}: {actual} != {expected}"
        for k in expected:
            close(actual[k], expected[k], f"{path}.{k}")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def without(block: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k not in keys}


def test_every_figure_of_a_known_day(day_hub: tuple[HubProcess, date, dict[str, str]]) -> None:
    hub, day, ids = day_hub
    sup = token(hub, "supervisor")
    r = requests.get(f"{hub.url}/api/supervisor/figures", params={"from": day.isoformat(), "to": day.isoformat()},
                     headers=sup, timeout=10)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert (rep["from"], rep["to"], rep["timezone"]) == (day.isoformat(), day.isoformat(), TZ)
    close(rep["totals"], EXPECTED_DAY)
    [only] = rep["days"]
    close(without(only, "date"), EXPECTED_DAY)
    agents = {a["display_name"]: a for a in rep["agents"]}
    assert set(agents) == {"客服 小李", "客服 小陈"}
    close(without(agents["客服 小李"], "agent_id", "display_name"), EXPECTED_AGENTS["agent1"])
    close(without(agents["客服 小陈"], "agent_id", "display_name"), EXPECTED_AGENTS["agent2"])

    # three days: the sides hold conv0 (queued the evening before, closed after midnight) and conv10
    r = requests.get(f"{hub.url}/api/supervisor/figures", headers=sup, timeout=10,
                     params={"from": (day - timedelta(days=1)).isoformat(), "to": (day + timedelta(days=1)).isoformat()})
    rep3 = r.json()
    assert [d["date"] for d in rep3["days"]] == [(day + timedelta(days=i)).isoformat() for i in (-1, 0, 1)]
    close(without(rep3["days"][1], "date"), EXPECTED_DAY)
    for offset, want in EXPECTED_SIDES.items():
        got = rep3["days"][offset + 1]
        assert (got["conversations"], got["handoffs"]) == (want["conversations"], want["handoffs"])
        close(got["figures"]["first_response_avg"]["value"], float(want["first_response_avg"]))
        close(got["figures"]["handling_avg"]["value"], float(want["handling_avg"]))
        assert got["figures"]["resolution_rate"]["value"] == 1.0 and got["missed"] == []
    assert rep3["totals"]["handoffs"] == 8 and rep3["totals"]["conversations"] == 10

    # the chat queued after the same customer's complaint was flagged with it
    r = requests.get(f"{hub.url}/api/agent/conversations/{ids['conv3']}", headers=sup, timeout=10).json()
    conv4 = requests.get(f"{hub.url}/api/agent/conversations/{ids['conv4']}", headers=sup, timeout=10).json()
    assert r["recent_complaint_at"] is None and conv4["recent_complaint_at"] == r["queued_at"]


def test_csv_says_what_the_figures_say(day_hub: tuple[HubProcess, date, dict[str, str]]) -> None:
    hub, day, _ = day_hub
    sup = token(hub, "supervisor")
    params = {"from": (day - timedelta(days=1)).isoformat(), "to": day.isoformat()}
    r = requests.get(f"{hub.url}/api/supervisor/figures.csv", params=params, headers=sup, timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    head = rows[0]
    assert head[:3] == ["日期", "会话数", "转人工数"] and head[-1] == "未达标"
    by_day = {row[0]: dict(zip(head, row, strict=True)) for row in rows[1:]}
    d = by_day[day.isoformat()]
    assert d["会话数"] == "8" and d["转人工数"] == "6"
    assert d["平均首次响应（秒）"] == "31.25" and d["首次响应达标率（%）"] == "40.0"
    assert d["解决率（%）"] == "80.0" and d["重复投诉率（%）"] == "50.0" and d["满意度（满分5）"] == "4.25"
    assert d["NPS"] == "33.33" and d["机器人自助率（%）"] == "25.0" and d["平均处理时长（秒）"] == "564.0"
    assert d["转人工率·客户情绪激动（%）"] == "25.0" and d["转人工率·机器人无法理解（%）"] == "12.5"
    assert d["未达标"] == "平均首次响应、首次响应达标率、解决率、重复投诉率、满意度"
    assert rows[-1][0] == "目标" and dict(zip(head, rows[-1], strict=True))["满意度（满分5）"] == "4.5"
    assert rows[-2][0].startswith("合计")

    r = requests.get(f"{hub.url}/api/supervisor/figures.csv", params={**params, "by": "agent"}, headers=sup, timeout=10)
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][0] == "客服" and "机器人自助率（%）" not in rows[0]
    agent2 = dict(zip(rows[0], next(row for row in rows if row[0] == "客服 小陈"), strict=True))
    assert agent2["NPS"] == "-100.0" and agent2["解决率（%）"] == "50.0"


def test_targets_decide_what_is_missed(day_hub: tuple[HubProcess, date, dict[str, str]]) -> None:
    hub, day, _ = day_hub
    sup = token(hub, "supervisor")
    got = requests.get(f"{hub.url}/api/supervisor/targets", headers=sup, timeout=10).json()["targets"]
    defaults = {t["key"]: t["value"] for t in got}
    assert defaults == {"first_response_seconds": 30, "first_response_rate": 0.95, "resolution_rate": 0.85,
                        "repeat_complaint_rate": 0.05, "csat_avg": 4.5, "nps": 30, "self_service_rate": None,
                        "handoff_rate": None, "handling_seconds": None}
    r = requests.put(f"{hub.url}/api/supervisor/targets", headers=sup, timeout=10,
                     json={"targets": {"csat_avg": 4.2, "nps": None, "self_service_rate": 0.5,
                                       "first_response_seconds": 60}})
    assert r.status_code == 200, r.text
    q = {"from": day.isoformat(), "to": day.isoformat()}
    totals = requests.get(f"{hub.url}/api/supervisor/figures", params=q, headers=sup, timeout=10).json()["totals"]
    f = totals["figures"]
    assert f["csat_avg"]["met"] is True and f["csat_avg"]["target"] == 4.2
    assert f["nps"]["met"] is None and f["nps"]["target"] is None
    assert f["self_service_rate"]["met"] is False
    # a 60 s limit: conv3 (50 s) and conv6 (40 s) meet it; conv5 waited 120 s unanswered
    close(f["first_response_rate"]["value"], 4 / 5)
    assert f["first_response_avg"]["met"] is True
    assert totals["missed"] == ["first_response_rate", "resolution_rate", "repeat_complaint_rate", "self_service_rate"]
    for bad in ({"targets": {"csat_avg": 9}}, {"targets": {"nps": 10**400}}, {"targets": {"csat_avg": True}},
                {"targets": {"csat_avg": "4"}}, {"targets": {"nope": 1}}, {"targets": {}}, {"targets": []},
                {"targets": {"first_response_seconds": None}}, {"targets": {"csat_avg\u0000": 1}}, []):
        r = requests.put(f"{hub.url}/api/supervisor/targets", headers=sup, timeout=10, json=bad)
        assert r.status_code == 400, (bad, r.status_code, r.text)
    r = requests.put(f"{hub.url}/api/supervisor/targets", headers={**sup, "Content-Type": "application/json"},
                     timeout=10, data=b'{"targets": {"nps": NaN}}')
    assert r.status_code == 400
    after = {t["key"]: t["value"] for t in requests.get(f"{hub.url}/api/supervisor/targets", headers=sup,
                                                          timeout=10).json()["targets"]}
    assert after["csat_avg"] == 4.2 and after["nps"] is None
    back = {k: defaults[k] for k in ("csat_avg", "nps", "self_service_rate", "first_response_seconds")}
    assert requests.put(f"{hub.url}/api/supervisor/targets", headers=sup, timeout=10,
                        json={"targets": back}).status_code == 200


def test_only_supervisors_get_figures(day_hub: tuple[HubProcess, date, dict[str, str]]) -> None:
    hub, day, _ = day_hub
    agent = token(hub, "agent1")
    q = {"from": day.isoformat(), "to": day.isoformat()}
    for method, path, body in (("GET", "/api/supervisor/figures", None), ("GET", "/api/supervisor/figures.csv", None),
                               ("GET", "/api/supervisor/targets", None),
                               ("PUT", "/api/supervisor/targets", {"targets": {"csat_avg": 1}})):
        r = requests.request(method, hub.url + path, params=q, json=body, headers=agent, timeout=10)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"]["code"] == "forbidden"
        assert requests.request(method, hub.url + path, params=q, json=body, timeout=10).status_code == 401
    # a customer's conversation token opens their conversation, nothing of the agents'
    conv = requests.post(f"{hub.url}/api/conversations", json={"channel": "web"}, timeout=10).json()
    r = requests.get(f"{hub.url}/api/supervisor/figures", params=q, timeout=10,
                     headers={"Authorization": f"Bearer {conv['token']}"})
    assert r.status_code == 401
    sup = token(hub, "supervisor")
    assert requests.get(f"{hub.url}/api/supervisor/targets", headers=sup, timeout=10).json()["targets"][4]["value"] == 4.5


@pytest.mark.parametrize("query", [{"from": "2026-13-01"}, {"from": "2026-06-18", "to": "2026-06-17"},
                                   {"from": "2020-01-01", "to": "2026-01-01"}, {"to": "x" * 5000},
                                   {"from": "2026-06-18\u0000"}, {"by": "week"}, {"from": "99999-01-01"}])
def test_bad_ranges_are_refused(day_hub: tuple[HubProcess, date, dict[str, str]], query: dict[str, str]) -> None:
    hub, _, _ = day_hub
    sup = token(hub, "supervisor")
    path = "/api/supervisor/figures.csv" if "by" in query else "/api/supervisor/figures"
    r = requests.get(hub.url + path, params=query, headers=sup, timeout=10)
    assert r.status_code in (400, 414), (query, r.text)


def test_the_nps_answer_is_checked_before_anything_is_stored(day_hub: tuple[HubProcess, date, dict[str, str]]) -> None:
    hub, _, _ = day_hub
    conv = requests.post(f"{hub.url}/api/conversations", json={"channel": "web"}, timeout=10).json()
    auth = {"Authorization": f"Bearer {conv['token']}"}
    url = f"{hub.url}/api/conversations/{conv['conversation_id']}/csat"
    for nps in ("9", True, 11, -1, 10**30, 9.5, [9]):
        r = requests.post(url, json={"score": 5, "nps": nps}, headers=auth, timeout=10)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_nps", (nps, r.text)
    # a valid answer, but no rating was asked for this conversation: refused, nothing stored
    for body in ({"score": 5, "nps": 0}, {"score": 5, "nps": None}, {"score": 5}):
        assert requests.post(url, json=body, headers=auth, timeout=10).status_code == 409
