"""The hub's pure rules, tested directly: queue order, ETA, assignment, routing, identity."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from handoff.app import redact
from handoff.auth import hash_password, verify_password
from handoff.identity import IdentityError, sign_identity, verify_identity
from handoff.limits import WindowCounter
from handoff.metrics import handoff_figures, percentile
from handoff.queue import AgentLoad, choose_agent, estimate_wait, next_for_agent, order_queue
from handoff.router import (
    offer_leave_message,
    parse_rasa_reply,
    route_for_mode,
    within_hours,
)
from handoff.service import TEXT_AGENT_JOINED, agent_title, bot_failure_summary, wait_text
from handoff.settings import Settings, parse_hours
from handoff.store import sync_url


def test_queue_orders_by_priority_then_waiting_time() -> None:
    items = [
        {"id": "n-old", "priority": "normal", "queued_at": 1.0},
        {"id": "h-new", "priority": "high", "queued_at": 9.0},
        {"id": "u-new", "priority": "urgent", "queued_at": 10.0},
        {"id": "h-old", "priority": "high", "queued_at": 2.0},
        {"id": "n-new", "priority": "normal", "queued_at": 5.0},
    ]
    assert [i["id"] for i in order_queue(items)] == ["u-new", "h-old", "h-new", "n-old", "n-new"]


def test_eta_uses_median_handling_time_and_parallel_agents() -> None:
    assert estimate_wait(1, [], 1, default_seconds=180) == 180
    assert estimate_wait(3, [100, 200, 300], 2) == 300  # 3 * 200 / 2
    assert estimate_wait(2, [600], 0) == 1200  # nobody online still gives a finite figure
    assert estimate_wait(0, [100], 1) == 0
    assert estimate_wait(1, [1, 2], 1) == 30  # absurdly short samples are clamped


def _agent(aid: int, skills: str, load: int = 0, presence: str = "online", max_chats: int = 3,
           last: float = 0.0) -> AgentLoad:
    return AgentLoad(aid, frozenset(skills.split(",")), presence, load, max_chats, last)


def test_choose_agent_least_busy_of_group_with_room() -> None:
    agents = [
        _agent(1, "orders,general", load=2),
        _agent(2, "orders", load=1),
        _agent(3, "refunds", load=0),
        _agent(4, "orders", load=0, presence="away"),
    ]
    assert choose_agent(agents, "orders") == 2
    assert choose_agent(agents, "refunds") == 3
    full = [_agent(1, "orders", load=3), _agent(3, "refunds", load=0)]
    assert choose_agent(full, "orders") is None  # group online but full: wait for it
    assert choose_agent([_agent(3, "refunds")], "payments") == 3  # nobody of the group online
    assert choose_agent([_agent(1, "orders", last=5.0), _agent(2, "orders", last=1.0)], "orders") == 2
    assert choose_agent([_agent(1, "orders", presence="offline")], "orders") is None


def test_next_for_agent_takes_own_groups_or_orphaned_ones() -> None:
    a1, a2 = _agent(1, "orders"), _agent(2, "refunds")
    queue = [{"id": "r", "skill": "refunds"}, {"id": "o", "skill": "orders"}, {"id": "p", "skill": "payments"}]
    assert next_for_agent(queue, a1, [a1, a2]) == "o"
    assert next_for_agent(queue[:1] + queue[2:], a1, [a1, a2]) == "p"
    assert next_for_agent(queue, _agent(1, "orders", load=3), [a1]) is None


def test_parse_rasa_reply_finds_handoff_buttons_and_failure() -> None:
    turn = parse_rasa_reply([
        {"recipient_id": "c", "text": "好的", "buttons": [{"title": "是", "payload": "/affirm"}]},
        {"recipient_id": "c", "custom": {"handoff": {"reason": "angry", "priority": "high",
                                                     "skill": "refunds", "summary": "s"}, "emotion": "angry"}},
    ])
    assert turn.replies == [{"text": "好的", "buttons": [{"title": "是", "payload": "/affirm"}]}]
    assert turn.handoff is not None
    assert (turn.handoff.reason, turn.handoff.priority, turn.handoff.skill) == ("angry", "high", "refunds")
    assert turn.handoff.emotion == "angry"
    assert parse_rasa_reply([]).failed
    odd = parse_rasa_reply([{"custom": {"handoff": {"reason": "??", "priority": "now", "skill": "x"}}}])
    assert odd.handoff is not None and not odd.failed
    assert (odd.handoff.reason, odd.handoff.priority, odd.handoff.skill) == ("requested", "normal", "general")
    with pytest.raises(ValueError):
        parse_rasa_reply({"text": "not a list"})


def test_route_for_mode() -> None:
    assert route_for_mode("bot") == "rasa"
    assert route_for_mode("closed") == "rasa"
    assert route_for_mode("queued") == "agent"
    assert route_for_mode("agent") == "agent"
    with pytest.raises(ValueError):
        route_for_mode("lost")


def test_working_hours_and_offline_offer() -> None:
    hours = parse_hours("09:00-22:00")
    assert within_hours(datetime(2026, 1, 1, 9, 0), hours)
    assert not within_hours(datetime(2026, 1, 1, 22, 0), hours)
    assert not within_hours(datetime(2026, 1, 1, 3, 0), hours)
    night = parse_hours("22:00-06:00")
    assert within_hours(datetime(2026, 1, 1, 23, 0), night) and within_hours(datetime(2026, 1, 1, 5, 0), night)
    assert parse_hours("00:00-24:00") == (time(0), time.max)
    assert offer_leave_message(0, True) and offer_leave_message(3, False)
    assert not offer_leave_message(1, True)
    with pytest.raises(ValueError):
        parse_hours("nine to five")


def test_settings_database_url_precedence() -> None:
    s = Settings.from_env({"HUB_DATABASE_URL": "postgresql://h/db1", "DATABASE_URL": "postgresql://h/db2"})
    assert s.database_url == "postgresql://h/db1"
    s = Settings.from_env({"DATABASE_URL": "postgresql://h/db2"})
    assert s.database_url == "postgresql://h/db2"
    assert Settings.from_env({}).database_url.startswith("sqlite:///")
    assert sync_url("postgresql+asyncpg://h/db") == "postgresql://h/db"
    with pytest.raises(ValueError):
        Settings.from_env({"HUB_ASSIGN": "random"})


def test_identity_round_trip_and_rejections() -> None:
    token = sign_identity("C001", "secret", name="张三", now=1000, ttl_seconds=60)
    claims = verify_identity(token, "secret", now=1010)
    assert claims["customer_id"] == "C001" and claims["name"] == "张三"
    with pytest.raises(IdentityError, match="expired"):
        verify_identity(token, "secret", now=2000)
    with pytest.raises(IdentityError, match="signature"):
        verify_identity(token, "other-secret", now=1010)
    body, sig = token.split(".")
    forged = sign_identity("C999", "secret", now=1000).split(".")[0] + "." + sig
    with pytest.raises(IdentityError):
        verify_identity(forged, "secret", now=1010)
    with pytest.raises(IdentityError):
        verify_identity("garbage", "secret")


def test_password_hash() -> None:
    stored = hash_password("s3cret")
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert verify_password("s3cret", stored)
    assert not verify_password("wrong", stored)
    assert not verify_password("s3cret", "plain")


def test_window_counter() -> None:
    counter = WindowCounter(3, 10.0)
    assert [counter.hit("k", now=t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert counter.hit("other", now=3)
    assert counter.hit("k", now=10.5)  # the first event left the window


def test_redact_masks_phones_and_tokens() -> None:
    line = "GET /ws/customer?conversation_id=abc&token=SECRET123 from 13812345678 Bearer abc.def"
    out = redact(line)
    assert "SECRET123" not in out and "13812345678" not in out and "abc.def" not in out
    assert "138****5678" in out


def test_stats_figures() -> None:
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == 9
    assert percentile([], 90) is None
    figures = handoff_figures([
        {"reason": "angry", "queued_at": 0, "first_response_at": 10},
        {"reason": "angry", "queued_at": 0, "first_response_at": 30},
        {"reason": "requested", "queued_at": 0, "first_response_at": None},
    ])
    assert figures["handoffs_by_reason"] == {"angry": 2, "requested": 1}
    assert figures["first_response_seconds"]["avg"] == 20


def test_agent_title_never_doubles_the_title() -> None:
    assert agent_title("客服 小李") == "客服 小李"
    assert agent_title("主管 王敏") == "主管 王敏"
    assert agent_title("小李") == "客服 小李"
    assert agent_title(" ") == "人工客服"
    assert TEXT_AGENT_JOINED.format(title=agent_title("客服 小李")) == "客服 小李 已接入，很高兴为您服务。"


def test_wait_text_is_what_the_widget_banner_shows() -> None:
    assert [wait_text(s) for s in (0, 59, 60, 61, 180)] == [
        "不到 1 分钟", "不到 1 分钟", "约 1 分钟", "约 2 分钟", "约 3 分钟"]


def test_bot_failure_summary_is_readable() -> None:
    assert bot_failure_summary("busy: 16 calls in flight") == "智能助手繁忙（busy: 16 calls in flight）"
    assert bot_failure_summary("timeout").startswith("智能助手响应超时")
    assert bot_failure_summary("invalid json") == "智能助手无响应（invalid json）"


def test_window_counter_counts_a_retried_event_once() -> None:
    counter = WindowCounter(2, 10.0)
    assert counter.hit("k", now=0, event_id="m1")
    assert counter.hit("k", now=1, event_id="m1")  # the same message sent again
    assert counter.hit("k", now=2, event_id="m2")
    assert counter.hit("k", now=3, event_id="m1")  # still a retry: passes, not counted
    assert not counter.hit("k", now=4, event_id="m3")
