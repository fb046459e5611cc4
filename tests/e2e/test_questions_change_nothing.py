"""No message on its own changes shop data: every text of the held-out NLU sets is sent as
the first message of a new conversation, by a signed-in customer and by an anonymous one,
and the shop is compared before and after. A change needs a confirmation card and a yes in
the next message, which a first message can never be."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.dialogue import Chat, shop_fingerprint
from bench.nlu_common import load_examples
from bot.runtime import ROOT

pytestmark = pytest.mark.slow

HELD_OUT = ["nlu_dev.tsv", "nlu_test.tsv", "heldout_dev.tsv", "heldout_test.tsv"]


def held_out_texts() -> list[str]:
    texts: dict[str, None] = {}
    for name in HELD_OUT:
        for example in load_examples(ROOT / "tests" / "data" / name):
            texts[example.text] = None
    return list(texts)


@pytest.mark.parametrize("customer", ["C0001", None], ids=["signed-in", "anonymous"])
def test_no_first_message_changes_shop_data(rasa_url: str, shop_db_url: str, customer: str | None):
    texts = held_out_texts()
    assert len(texts) > 1500
    before = shop_fingerprint(shop_db_url)
    meta = {"customer_id": customer} if customer else {}

    def first_turn(text: str) -> int:
        return len(Chat(rasa_url, metadata=meta).say(text))

    with ThreadPoolExecutor(max_workers=4) as pool:
        answered = list(pool.map(first_turn, texts))
    assert all(n > 0 for n in answered)  # every message got an answer
    assert shop_fingerprint(shop_db_url) == before
