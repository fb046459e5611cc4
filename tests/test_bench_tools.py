"""Pure helpers of bench/: percentiles, ratios, scripts, NLU side-by-side, result files."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from bench.common import percentile, ratio, rss_mb, summarize_ms, verdict, write_result
from bench.load_hub import build_scripts, conversation_script, overhead
from bench.plots import load_series, nlu_headline, per_intent_f1


@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy(q: float) -> None:
    rng = random.Random(q)
    data = [rng.expovariate(1.0) for _ in range(257)]
    assert percentile(data, q) == pytest.approx(float(np.percentile(data, q)))


def test_percentile_edges() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    with pytest.raises(ValueError, match="0..100"):
        percentile([1.0], 101)


def test_summarize_ms_converts_seconds() -> None:
    s = summarize_ms([0.010, 0.020, 0.030])
    assert s["n"] == 3 and s["p50_ms"] == 20.0 and s["max_ms"] == 30.0
    assert summarize_ms([])["p99_ms"] is None


def test_ratio_and_verdict() -> None:
    assert ratio(12.0, 10.0) == 1.2
    assert ratio(1.0, 0.0) is None and ratio(None, 1.0) is None
    assert verdict(1.19, 1.2) == "met" and verdict(1.3, 1.2) == "missed"
    assert verdict(160, 150, higher_is_better=True) == "met"
    assert verdict(None, 1) == "n/a"


def test_scripts_are_deterministic_calm_and_verify_the_order() -> None:
    orders = [("2026112300001", "1234"), ("2026112300002", "5678")]
    a, b = build_scripts(3, 2, orders), build_scripts(3, 2, orders)
    assert a == b and len(a) == 3 and all(len(c) == 2 for c in a)
    turns = conversation_script(random.Random(1), orders[1])
    assert len(turns) == 5
    assert "2026112300002" in turns[2] and turns[3] == "5678"
    assert not any("!" in t or "！" in t for t in turns)


def test_overhead_pairs_levels() -> None:
    rows = [{"customers": 10, "target": "rasa", "p50_ms": 100.0, "p99_ms": 200.0, "turns_per_s": 50.0},
            {"customers": 10, "target": "hub", "p50_ms": 110.0, "p99_ms": 300.0, "turns_per_s": 40.0},
            {"customers": 50, "target": "hub", "p50_ms": 1.0, "p99_ms": 1.0, "turns_per_s": 1.0}]
    assert overhead(rows) == [{"customers": 10, "p50_ratio": 1.1, "p99_ratio": 1.5, "throughput_ratio": 1.25}]
    assert load_series({"rows": rows}, "hub", "p50_ms") == ([10, 50], [110.0, 1.0])


def _nlu(stock: dict, project: dict) -> dict:
    return {"models": {"stock": {"test": stock}, "project": {"test": project}}}


def test_nlu_side_by_side() -> None:
    nlu = _nlu({"per_intent": {"greet": {"f1": 0.5}}, "macro_f1": 0.6, "fallback_rate": 0.1,
                "anger": {"f1": 0.2}},
               {"per_intent": {"greet": {"f1": 0.9}, "refund": {"f1": 0.8}}, "macro_f1": 0.7,
                "fallback_rate": 0.2, "anger": {"f1": 0.9}})
    assert per_intent_f1(nlu) == [("greet", 0.5, 0.9), ("refund", None, 0.8)]
    head = nlu_headline(nlu)
    assert head["macro_f1"]["project_ahead"] is True
    assert head["fallback_rate"]["project_ahead"] is False  # lower is better
    assert head["anger_f1"] == {"stock": 0.2, "project": 0.9, "project_ahead": True}
    assert head["oos_recall"]["project_ahead"] is None


def test_write_result_records_the_machine(tmp_path) -> None:
    path = write_result("x", {"value": 1}, out_dir=tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["value"] == 1 and data["benchmark"] == "x"
    assert data["machine"]["cpu_count"] >= 1 and data["machine"]["packages"]["rasa"]


def test_rss_of_this_process_and_of_a_missing_one() -> None:
    import os

    assert rss_mb(os.getpid()) > 1
    assert rss_mb(2**22 + 12345) is None


def test_plots_written_from_results_and_skipped_without(tmp_path) -> None:
    from bench.plots import main as plots_main

    assert plots_main([], results=tmp_path) == []
    nlu = _nlu({"per_intent": {"greet": {"f1": 0.5}}}, {"per_intent": {"greet": {"f1": 0.9}}})
    (tmp_path / "nlu.json").write_text(json.dumps(nlu), encoding="utf-8")
    made = plots_main([], results=tmp_path)
    assert [p.name for p in made] == ["nlu_f1.png"]
    assert made[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_profile_buckets_pick_the_most_specific_part() -> None:
    from bench.profile_turn import breakdown, classify

    handle = "handle_message (rasa/core/processor.py:157)"
    ted = "predict_action_probabilities (rasa/core/policies/ted_policy.py:900)"
    tf = "__call__ (tensorflow/python/eager/def_function.py:10)"
    assert classify(["serve (sanic/server/runners.py:155)", handle, ted, tf]) == "policy: TEDPolicy (TF)"
    validate = "_validate_action_result (rasa/core/actions/action.py:704)"
    assert classify([handle, validate, "iter_errors (jsonschema/validators.py:30)"]).startswith("jsonschema")
    # py-spy cuts very deep stacks: a jsonschema-only stack is still validation
    assert classify(["iter_errors (jsonschema/validators.py:30)"]).startswith("jsonschema")
    assert classify(["process (rasa/nlu/selectors/response_selector.py:531)",
                     "_predict (rasa/nlu/classifiers/diet_classifier.py:978)"]) == "NLU: ResponseSelector (TF)"
    assert classify(["select (selectors.py:469)"]).startswith("other")
    lines = [f"{handle};{ted} 3", f"{handle};{validate} 5", "", "garbage"]
    assert breakdown(lines) == {"jsonschema validation of action results": 5, "policy: TEDPolicy (TF)": 3}


def test_wechat_signature_and_answers() -> None:
    import hashlib

    from bench.wechat_load import classify_answer, signature, text_push

    assert signature("tok", "123", "abc") == hashlib.sha1(b"123abctok").hexdigest()
    assert classify_answer(200, "success") == "success" and classify_answer(200, "") == "success"
    assert classify_answer(200, "<xml><Content><![CDATA[hi]]></Content></xml>") == "passive"
    assert classify_answer(500, "x") == "http_500"
    xml = text_push("o1", "你好", 7)
    assert "<FromUserName><![CDATA[o1]]></FromUserName>" in xml and "<MsgId>7</MsgId>" in xml


def test_the_shop_fingerprint_covers_every_table_a_chat_may_write(tmp_path) -> None:
    """The end-to-end suites (tests/e2e/test_questions_change_nothing.py, the conversation
    files' `db:` checks) compare this fingerprint: every shop table is either in it or named
    here as one a chat never changes, and a new exchange or a change of its status shows."""
    from datetime import datetime, timezone

    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from bench.dialogue import FINGERPRINT_QUERIES, shop_fingerprint
    from bot.orders.db import make_engine
    from bot.orders.models import Base, Exchange
    from bot.orders.seed import DEMO_ORDERS, seed
    from bot.orders.service import OrderService

    never_written = {"shop_customers", "shop_order_items", "shop_tracking_events", "shop_promotions",
                     "shop_complaints"}  # complaints are records of the contact, not shop data
    queried = {t for t in Base.metadata.tables if any(f" {t}" in q for q in FINGERPRINT_QUERIES)}
    assert queried == set(Base.metadata.tables) - never_written

    now = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = make_engine(url)
    seed(engine, now=now)
    start = shop_fingerprint(url)
    filed = OrderService(engine, now=lambda: now).request_exchange(DEMO_ORDERS["delivered"], reason="换XL")
    assert filed.ok
    with_exchange = shop_fingerprint(url)
    assert with_exchange != start
    with Session(engine) as s, s.begin():
        s.execute(update(Exchange).where(Exchange.id == filed.data["exchange_id"]).values(status="处理中"))
    assert shop_fingerprint(url) != with_exchange
    engine.dispose()
