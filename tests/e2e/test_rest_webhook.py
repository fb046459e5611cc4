"""End to end: a real trained model, Rasa server and action server, talked to over HTTP.

Conversations go through `POST /webhooks/rest/webhook` exactly as the hub sends them, and
the order database the action server writes to is checked afterwards.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.dialogue import Chat, handoff_of, post, texts
from bot.orders.db import make_engine
from bot.orders.seed import DEMO_ORDERS, DEMO_PHONE_TAILS
from bot.orders.service import OrderService

pytestmark = pytest.mark.slow

def status_in_db(db_url: str, order_id: str) -> str | None:
    view = OrderService(make_engine(db_url)).find_order(order_id)
    return view.status if view else None


def parse(rasa_url: str, text: str) -> dict[str, Any]:
    return post(f"{rasa_url}/model/parse", {"text": text})


def test_parse_carries_emotion_and_order_id(rasa_url):
    angry = parse(rasa_url, "你们是不是有病,退款拖了半个月!!")
    assert angry["emotion"]["name"] == "angry"
    assert 0.5 <= angry["emotion"]["confidence"] <= 1.0
    assert angry["intent"]["name"] == "refund"

    calm = parse(rasa_url, "我想反馈一个问题")
    assert calm["emotion"]["name"] == "neutral"

    traditional = parse(rasa_url, "訂單2025061800004現在到哪了？？")
    assert traditional["text"] == "訂單2025061800004現在到哪了？？"  # the customer's own words
    order_ids = [e["value"] for e in traditional["entities"] if e["entity"] == "order_id"]
    assert order_ids == ["2025061800004"]
    assert traditional["intent"]["name"] in {"logistics", "order_status"}


def test_faq_answer_states_the_policy(rasa_url):
    replies = Chat(rasa_url).say("退款原路返回要几天")
    assert "72" in texts(replies)
    assert handoff_of(replies) is None


def test_asking_for_a_human_hands_off(rasa_url):
    replies = Chat(rasa_url).say("麻烦转一下人工")
    handoff = handoff_of(replies)
    assert handoff is not None, replies
    assert handoff["reason"] == "requested"
    assert handoff["priority"] in {"normal", "high"}
    assert handoff["summary"]
    assert texts(replies).strip()  # the customer is told a human is coming


def test_angry_customer_is_handed_off_with_high_priority(rasa_url):
    replies = Chat(rasa_url).say("你们是不是有病,退款拖了半个月!!")
    handoff = handoff_of(replies)
    assert handoff is not None, replies
    assert handoff["reason"] == "angry"
    assert handoff["priority"] in {"high", "urgent"}
    assert handoff["skill"] == "refunds"


def test_stolen_account_is_urgent(rasa_url):
    handoff = handoff_of(Chat(rasa_url).say("我的账号被盗了,密码也被人改了"))
    assert handoff is not None
    assert (handoff["reason"], handoff["priority"], handoff["skill"]) == (
        "urgent", "urgent", "account"
    )


def test_order_details_only_after_phone_tail(rasa_url):
    order = DEMO_ORDERS["shipped"]
    chat = Chat(rasa_url)
    first = chat.say(f"帮我查一下订单{order}的物流")
    assert handoff_of(first) is None
    assert "【" not in texts(first)  # no tracking lines before verification
    second = chat.say(DEMO_PHONE_TAILS["shipped"])
    assert "【" in texts(second) or "快递" in texts(second), second


def test_three_wrong_phone_tails_hand_off(rasa_url):
    chat = Chat(rasa_url)
    chat.say(f"订单{DEMO_ORDERS['shipped']}什么情况")
    replies: list[dict[str, Any]] = []
    for wrong in ("0000", "1111", "2222"):
        replies = chat.say(wrong)
        if handoff_of(replies):
            break
    handoff = handoff_of(replies)
    assert handoff is not None and handoff["reason"] == "verification_failed", replies


def test_verified_website_customer_gets_their_orders_as_buttons(rasa_url):
    chat = Chat(rasa_url, metadata={"customer_id": "C0001", "channel": "web"})
    replies = chat.say("我的订单到哪了")
    buttons = [b for r in replies for b in r.get("buttons") or []]
    assert buttons, replies
    own = {DEMO_ORDERS[r] for r in ("pending_payment", "paid", "shipped", "refunding")}
    payloads = " ".join(b["payload"] for b in buttons)
    assert any(o in payloads for o in own)
    assert DEMO_ORDERS["delivered"] not in payloads  # C0002's order is never offered


def test_cancel_before_shipping_is_confirmed_then_written(rasa_url, shop_db_url):
    order = DEMO_ORDERS["paid"]
    chat = Chat(rasa_url, metadata={"customer_id": "C0001", "channel": "web"})
    card = chat.say(f"我想取消订单{order}")
    assert "确认" in texts(card) and status_in_db(shop_db_url, order) == "待发货", card
    yes = next(b for r in card for b in r.get("buttons") or [] if b["title"] == "确认取消")
    done = chat.say(yes["payload"])
    assert status_in_db(shop_db_url, order) == "已取消", done
    assert "退款单" in texts(done)


def test_cancel_after_shipping_is_refused_and_offers_a_return(rasa_url, shop_db_url):
    order = DEMO_ORDERS["shipped"]
    chat = Chat(rasa_url, metadata={"customer_id": "C0001", "channel": "web"})
    replies = chat.say(f"取消订单{order}")
    assert "发货" in texts(replies), replies
    assert "申请退货" in [b["title"] for r in replies for b in r.get("buttons") or []]
    chat.say("是的")
    assert status_in_db(shop_db_url, order) == "已发货"


def test_presale_refund_is_confirmed_then_recorded_with_its_own_timing(rasa_url, shop_db_url):
    order = DEMO_ORDERS["presale"]
    assert status_in_db(shop_db_url, order) == "待发货"
    chat = Chat(rasa_url, metadata={"customer_id": "C0002", "channel": "web"})
    card = chat.say(f"订单{order}我不想要了，申请退款")
    assert "15个工作日" in texts(card) and status_in_db(shop_db_url, order) == "待发货", card
    done = chat.say("确认")
    assert status_in_db(shop_db_url, order) == "退款中", done
    assert "15个工作日" in texts(done)


def test_return_window_is_seven_days_after_delivery(rasa_url, shop_db_url):
    recent = Chat(rasa_url, metadata={"customer_id": "C0002"}).say(
        f"订单{DEMO_ORDERS['delivered']}能退货吗")
    assert "7天无理由" in texts(recent) and "超过" not in texts(recent)
    old = Chat(rasa_url, metadata={"customer_id": "C0001"}).say(
        f"订单{DEMO_ORDERS['delivered_old']}能退货吗")
    assert "超过7天" in texts(old)
    assert status_in_db(shop_db_url, DEMO_ORDERS["delivered"]) == "已签收"  # a question files nothing


def test_unknown_order_number_gets_a_clear_answer(rasa_url):
    replies = Chat(rasa_url).say("查一下订单2099010100001")
    assert "没有查到" in texts(replies)
    assert handoff_of(replies) is None


@pytest.mark.parametrize("text", [
    "订单' OR 1=1 --到哪了",
    "<script>alert('x')</script>订单2025061800004",
    "退款" * 1500,
    "\x00\x01\x02",
])
def test_bad_input_gets_a_polite_reply_and_the_chat_goes_on(rasa_url, text):
    chat = Chat(rasa_url)
    assert texts(chat.say(text)).strip()
    assert "72" in texts(chat.say("退款原路返回要几天"))
