"""Whole conversations against the real Rasa server and action server, on a freshly seeded
shop each: per turn, whether the bot handed off, facts its replies must (not) state, and
whether shop data changed since the conversation began.

The conversations live in tests/conversations/*.yml (format in their README); the public
sample ../shared/dialogue_sample.yml runs too when it is beside the checkout."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.runtime import ROOT
from tests.e2e.chat import Chat, ShopSnapshot, handoff_of, shop_fingerprint, shown

pytestmark = pytest.mark.slow

FILES = sorted((ROOT / "tests" / "conversations").glob("*.yml"))
SHARED_SAMPLE = ROOT.parent / "shared" / "dialogue_sample.yml"
CHECKS = {"say", "handoff", "any", "none", "db"}


def load_conversations() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in [*FILES, *([SHARED_SAMPLE] if SHARED_SAMPLE.exists() else [])]:
        for conv in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            out.append((f"{path.stem}: {conv['name']}", conv))
    return out


CONVERSATIONS = load_conversations()


def test_conversations_are_well_formed():
    names = [name for name, _ in CONVERSATIONS]
    assert len(names) == len(set(names))
    assert len([n for n in names if not n.startswith("dialogue_sample")]) >= 150
    for name, conv in CONVERSATIONS:
        assert conv.get("turns"), name
        for turn in conv["turns"]:
            assert set(turn) <= CHECKS and isinstance(turn.get("say"), str), (name, turn)
            assert set(turn) - {"say"}, f"{name}: a turn without a check"


def test_no_conversation_repeats_a_training_example():
    trained = set()
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in (block.get("examples") or "").splitlines():
                text = line.strip().removeprefix("- ").strip()
                if len(text) > 6:  # short replies (确认, 1234) are what every customer types
                    trained.add(text)
    said = {turn["say"] for _, conv in CONVERSATIONS for turn in conv["turns"]}
    assert said & trained == set()


@pytest.fixture(scope="module")
def seeded_shop(shop_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> ShopSnapshot:
    snapshot = ShopSnapshot(shop_db_url, tmp_path_factory.mktemp("seeded"))
    yield snapshot
    snapshot.restore()  # leave the shop as the other suites expect it


def check_turn(turn: dict[str, Any], replies: list[dict[str, Any]], changed: bool) -> list[str]:
    """What is wrong with the bot's answer to one turn (empty: nothing)."""
    problems = []
    seen = shown(replies)
    if "handoff" in turn and (handoff_of(replies) is not None) != turn["handoff"]:
        problems.append(f"handoff expected {turn['handoff']}")
    if turn.get("any") and not any(str(s) in seen for s in turn["any"]):
        problems.append(f"none of {turn['any']} in the reply")
    hits = [s for s in turn.get("none") or [] if str(s) in seen]
    if hits:
        problems.append(f"{hits} in the reply")
    if "db" in turn and changed != (turn["db"] == "changed"):
        problems.append(f"shop data expected {turn['db']}")
    return problems


@pytest.mark.parametrize("conv", [c for _, c in CONVERSATIONS], ids=[n for n, _ in CONVERSATIONS])
def test_conversation(conv: dict[str, Any], rasa_url: str, shop_db_url: str, seeded_shop: ShopSnapshot):
    seeded_shop.restore()
    start = shop_fingerprint(shop_db_url)
    meta = {"customer_id": conv["customer"]} if conv.get("customer") else {}
    chat = Chat(rasa_url, metadata=meta)
    transcript = []
    for turn in conv["turns"]:
        replies = chat.say(turn["say"])
        changed = shop_fingerprint(shop_db_url) != start
        transcript.append(f"customer: {turn['say']}\nbot: {shown(replies)}")
        problems = check_turn(turn, replies, changed)
        assert not problems, "\n".join([*transcript, "=> " + "; ".join(problems)])
