"""Out-of-scope gate (bot/nlu/oos_gate.py): unlike anything in scope -> out_of_scope, except
for order numbers, human requests and short messages the classifier is sure about."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.human_request import HUMAN_REQUEST
from bot.nlu.normalizer import ChineseNormalizer
from bot.nlu.oos_gate import SCOPE, NeighbourIndex, OutOfScopeGate, gate_says_out

IN_SCOPE = {
    "refund": ["退款什么时候到账", "我要退款", "退款还没收到", "钱什么时候退给我"],
    "logistics": ["快递到哪了", "物流信息不更新", "包裹什么时候到", "还没发货吗"],
    "invoice": ["发票怎么开", "给我开张发票", "发票抬头写错了", "可以开专票吗"],
    "greet": ["你好", "在吗", "嗯", "好的"],
}
OUT = ["帮我订一张去上海的火车票", "火车票怎么退", "电影票能退吗", "今天天气怎么样", "讲个笑话"]
CONFIG = OutOfScopeGate.get_default_config()


def _training_data() -> TrainingData:
    examples = [Message(data={TEXT: t, INTENT: i}) for i, ts in IN_SCOPE.items() for t in ts]
    examples += [Message(data={TEXT: t, INTENT: "out_of_scope"}) for t in OUT]
    return TrainingData(examples)


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


@pytest.fixture()
def gate(tmp_path) -> OutOfScopeGate:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("oos_gate")
    OutOfScopeGate.create({}, storage, resource, _context()).train(_training_data())
    return OutOfScopeGate.load({}, storage, resource, _context())


def _message(text: str, intent: str, confidence: float = 0.9, **extra: object) -> Message:
    message = Message(data={TEXT: text, INTENT: {"name": intent, "confidence": confidence}, **extra})
    ChineseNormalizer().process([message])
    return message


def test_similarities_are_cosines_to_the_nearest_example() -> None:
    index = NeighbourIndex().fit(["退款什么时候到账", "火车票怎么退"], ["refund", "out_of_scope"])
    (s_in, s_oos), = index.similarities(["退款什么时候到账"])
    assert s_in == pytest.approx(1.0)
    assert 0.0 <= s_oos < 0.5


@pytest.mark.parametrize(
    ("s_in", "s_oos", "out"),
    [(0.05, 0.0, True),  # like nothing trained
     (0.3, 0.6, True),  # an out-of-scope example is clearly nearer
     (0.5, 0.6, False),  # nearer, but not by the margin
     (0.2, 0.35, False),  # out-of-scope neighbour too weak to count
     (0.8, 0.1, False)],
)
def test_gate_decision(s_in: float, s_oos: float, out: bool) -> None:
    assert gate_says_out(s_in, s_oos, CONFIG) is out


def test_gate_overrides_a_confident_classifier_on_out_of_scope_text(gate: OutOfScopeGate) -> None:
    message = _message("火车票能退吗", "refund", 0.95)
    gate.process([message])
    assert message.get(INTENT)["name"] == "out_of_scope"
    assert message.get(SCOPE)["name"] == "out"
    assert SCOPE in message.as_dict(only_output_properties=True)


def test_gate_keeps_in_scope_messages(gate: OutOfScopeGate) -> None:
    message = _message("我的退款什么时候到账", "refund")
    gate.process([message])
    assert message.get(INTENT)["name"] == "refund"
    assert message.get(SCOPE)["name"] == "in"


@pytest.mark.parametrize(
    "message",
    [
        lambda: _message("火车票能退吗 2024090911223", "refund",
                         **{ENTITIES: [{"entity": "order_id", "value": "2024090911223"}]}),
        lambda: _message("火车票能退吗", "human_agent", **{HUMAN_REQUEST: {"name": "human", "confidence": 0.9}}),
        lambda: _message("88", "goodbye", 0.8),
        lambda: _message("火车票能退吗", "nlu_fallback", 0.3),
        lambda: _message("火车票能退吗 邮箱ln@test.com", "invoice", 0.4),  # an invoice's address
    ],
)
def test_gate_never_overrides_protected_messages(gate: OutOfScopeGate, message) -> None:
    msg = message()
    before = msg.get(INTENT)["name"]
    gate.process([msg])
    assert msg.get(INTENT)["name"] == before


def test_untrained_gate_passes_everything(tmp_path) -> None:
    gate = OutOfScopeGate.load({}, LocalModelStorage(tmp_path), Resource("none"), _context())
    message = _message("讲个笑话", "greet")
    gate.process([message])
    assert message.get(INTENT)["name"] == "greet"
    assert message.get(SCOPE) is None


@pytest.mark.parametrize(
    ("text", "mash"),
    [("hjkhjkhjk", True), ("qwpoeiruty", True), ("zxmnbvcxz lll", True), ("ooiuuyy ttrre", True),
     ("hello", False), ("refund please", False), ("human please", False), ("pretty good", False),
     ("tuikuan ji tian dao zhang", False), ("where is my package", False), ("ok", False), ("退款", False)],
)
def test_keyboard_mash_is_not_understood(text: str, mash: bool) -> None:
    from bot.nlu.oos_gate import keyboard_mash

    assert keyboard_mash(text) is mash
