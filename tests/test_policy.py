"""HandoffPolicy: when an angry message must go straight to a human."""

from __future__ import annotations

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policy import HandoffPolicy, is_angry, should_hand_off

ANGRY = {"name": "angry", "confidence": 0.93}
CALM = {"name": "neutral", "confidence": 0.88}


def user(text: str, emotion: dict | None) -> UserUttered:
    parse = {"intent": {"name": "refund", "confidence": 0.9}, "entities": [], "text": text}
    if emotion is not None:
        parse["emotion"] = emotion
    return UserUttered(text, parse["intent"], [], parse_data=parse)


def tracker(*events) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("c1", [ActionExecuted("action_listen"), *events])


@pytest.mark.parametrize(
    ("parse", "expected"),
    [
        ({"emotion": ANGRY}, True),
        ({"emotion": CALM}, False),
        ({}, False),
        (None, False),
        ({"emotion": "angry"}, False),  # malformed field: not trusted
    ],
)
def test_is_angry(parse, expected):
    assert is_angry(parse) is expected


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([user("你们是不是有病,退款拖了半个月!!", ANGRY)], True),
        ([user("退款怎么还没到", CALM)], False),
        # slot extraction between the message and the decision does not count as an answer
        ([user("气死了!!", ANGRY), SlotSet("order_id", None)], True),
        # already handed off for this message: the policy abstains
        ([user("气死了!!", ANGRY), ActionExecuted("action_handoff")], False),
        # an earlier angry message does not make a later calm one angry
        ([user("垃圾", ANGRY), ActionExecuted("action_handoff"), ActionExecuted("action_listen"),
          user("好的谢谢", CALM)], False),
    ],
)
def test_should_hand_off(events, expected):
    assert should_hand_off(tracker(*events)) is expected


def test_policy_predicts_handoff_only_for_angry_messages(tmp_path):
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    domain = Domain.from_yaml(
        "version: '3.1'\nintents: [refund]\nactions: [action_handoff]\n"
    )
    policy = HandoffPolicy.create(
        HandoffPolicy.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("handoff_policy"),
        ExecutionContext(GraphSchema({}), "test"),
    )
    angry = policy.predict_action_probabilities(tracker(user("骗子!!!", ANGRY)), domain)
    calm = policy.predict_action_probabilities(tracker(user("请问退款到哪了", CALM)), domain)
    handoff = domain.index_for_action("action_handoff")
    assert angry.probabilities[handoff] == 1.0
    assert angry.max_confidence_index == handoff
    assert angry.is_no_user_prediction  # competes with an active form's loop prediction
    assert max(calm.probabilities) == 0.0
    assert policy.priority > 4  # above RulePolicy
