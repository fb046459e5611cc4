"""Trains a SMALL model with the real config.yml pipeline (few epochs, tiny fixture
data) and checks real parse results: emotion, order_id, the original text, and
Traditional/full-width input. The parse goes through ``Agent.parse_message`` (what
``POST /model/parse`` calls) and ``MessageProcessor.log_message`` (what fills the
tracker's ``latest_message``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SMALL_EPOCHS = 15

pytestmark = pytest.mark.slow

NLU = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - 你好
    - 在吗
    - 您好,请问有人吗
    - hi
    - 哈喽
    - 早上好
- intent: order_status
  examples: |
    - 订单[2024090911223](order_id)现在是什么状态
    - 帮我查下订单[2025121300841](order_id)
    - 我的订单怎么样了
    - 查一下订单状态
    - 订单号[20240101123456](order_id)处理了吗
    - 單號[2024090911888](order_id)什麼狀態
    - 订单[２０２４０９０９１２３４５](order_id)到哪一步了
- intent: refund
  examples: |
    - 退款什么时候到账
    - 我要退款
    - 钱什么时候退给我
    - 申请退款怎么操作
    - 退款还没收到
    - 退宽怎么还没到
- intent: order_status
  metadata:
    angry: true
  examples: |
    - 订单到底什么情况啊!!!三天了都没人处理
    - 查个订单这么费劲 垃圾系统
    - 你们是骗子吧 订单[2025121864979](order_id)被关了
    - 受够了 订单一个礼拜不变 马上给我查清楚
- intent: refund
  metadata:
    angry: true
  examples: |
    - 你们是不是有病,退款拖了半个月!!
    - 再不退款我就去12315
    - 垃圾平台 赶紧退钱😡
    - 气死了 退款到现在都没到
- intent: faq/shipping_fee
  examples: |
    - 包邮吗
    - 运费多少
    - 买一件包邮吗
    - 邮费怎么算
- intent: faq/refund_time
  examples: |
    - 退款一般几天到
    - 退款原路返回要多久
    - 退款多久能到账
    - 钱多久退回来
"""

DOMAIN = """version: "3.1"
intents: [greet, order_status, refund, faq]
entities: [order_id]
responses:
  utter_faq/shipping_fee:
  - text: 满99元包邮。
  utter_faq/refund_time:
  - text: 普通订单退款72小时内到账。
"""


def _small_config(tmp: Path) -> Path:
    """config.yml with its real pipeline, epochs cut down for the test."""
    cfg = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    for component in cfg["pipeline"]:
        if "epochs" in component:
            component["epochs"] = SMALL_EPOCHS
    cfg.pop("policies", None)
    path = tmp / "config.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    tmp = tmp_path_factory.mktemp("nlu_pipeline")
    (tmp / "nlu.yml").write_text(NLU, encoding="utf-8")
    (tmp / "domain.yml").write_text(DOMAIN, encoding="utf-8")
    model = train_nlu(
        config=str(_small_config(tmp)),
        nlu_data=str(tmp / "nlu.yml"),
        output=str(tmp / "models"),
        domain=str(tmp / "domain.yml"),
    )
    assert model, "training failed"
    return Agent.load(model)


def _parse(agent: Any, text: str) -> dict[str, Any]:
    return asyncio.run(agent.parse_message(text))


def _order_ids(result: dict[str, Any]) -> list[str]:
    return [e["value"] for e in result["entities"] if e["entity"] == "order_id"]


def test_parse_has_emotion_order_id_and_original_text(agent: Any) -> None:
    text = "订单2024090911223现在是什么状态"
    result = _parse(agent, text)
    assert result["text"] == text
    assert _order_ids(result) == ["2024090911223"]
    assert result["emotion"]["name"] == "neutral"
    assert 0.5 <= result["emotion"]["confidence"] <= 1.0
    assert result["intent"]["name"] == "order_status"


def test_traditional_full_width_input(agent: Any) -> None:
    text = "訂單號：２０２４０９０９１１２２３現在什麼狀態？？？"
    result = _parse(agent, text)
    assert result["text"] == text  # the transcript keeps the customer's words
    (entity,) = [e for e in result["entities"] if e["entity"] == "order_id"]
    assert entity["value"] == "2024090911223"
    assert text[entity["start"] : entity["end"]] == "２０２４０９０９１１２２３"
    assert result["intent"]["name"] == "order_status"


@pytest.mark.parametrize(
    ("text", "emotion"),
    [
        ("你们是不是有病,退款拖了半个月!!", "angry"),
        ("垃圾!!! 订单到底怎么回事😡", "angry"),
        ("我对你们的售后很不满意,要投诉", "neutral"),
        ("我想反馈一个问题", "neutral"),
        ("你好", "neutral"),
    ],
)
def test_emotion(agent: Any, text: str, emotion: str) -> None:
    assert _parse(agent, text)["emotion"]["name"] == emotion


def test_sql_ish_input_is_no_order_id(agent: Any) -> None:
    result = _parse(agent, "订单号 1 OR 1=1")
    assert _order_ids(result) == []
    assert result["text"] == "订单号 1 OR 1=1"


def test_one_order_id_per_number(agent: Any) -> None:
    result = _parse(agent, "订单2024090911223和订单2024090911224")
    assert _order_ids(result) == ["2024090911223", "2024090911224"]


def test_faq_goes_to_the_response_selector(agent: Any) -> None:
    result = _parse(agent, "买一件包邮吗")
    assert result["intent"]["name"] == "faq"
    selected = result["response_selector"]["faq"]["response"]["intent_response_key"]
    assert selected == "faq/shipping_fee"


def test_intent_payload_still_works(agent: Any) -> None:
    """Buttons send "/intent" payloads; Rasa's RegexMessageHandler runs after the anger
    detector and must see the original text."""
    result = _parse(agent, "/greet")
    assert result["intent"]["name"] == "greet"
    assert result["text"] == "/greet"


def test_tracker_latest_message_keeps_text_and_emotion(agent: Any) -> None:
    from rasa.core.channels.channel import UserMessage

    text = "退宽呢？？？氣死了😡"
    tracker = asyncio.run(
        agent.processor.log_message(UserMessage(text, sender_id="nlu-test"), should_save_tracker=True)
    )
    latest = tracker.latest_message
    assert latest.text == text
    assert latest.parse_data["text"] == text
    assert latest.parse_data["emotion"]["name"] == "angry"
    assert latest.as_dict()["parse_data"]["emotion"]["name"] == "angry"


@pytest.mark.parametrize(
    ("text", "intent", "human"),
    [("转仁工", "human_agent", "human"), ("給我找你們主管來", "human_agent", "human"),
     ("human please", "human_agent", "human"), ("你好", "greet", "none")],
)
def test_human_request_sets_the_intent(agent: Any, text: str, intent: str, human: str) -> None:
    result = _parse(agent, text)
    assert result["human_request"]["name"] == human
    assert result["intent"]["name"] == intent
    assert all(r["name"] != "human_agent" for r in result["intent_ranking"])  # DIET's own view


@pytest.mark.parametrize(("text", "act"), [("帮我退款", "act"), ("退款到哪了", "ask"), ("你好", "ask")])
def test_every_parse_has_speech_act_and_scope(agent: Any, text: str, act: str) -> None:
    result = _parse(agent, text)
    assert result["speech_act"]["name"] == act
    assert result["scope"]["name"] in ("in", "out")
    assert {"emotion", "human_request", "speech_act", "scope"} <= set(result)
