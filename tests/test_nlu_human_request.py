"""Human-request detector (bot/nlu/human_request.py): every way of asking for a person
hands off; identity questions, opening hours and past contacts do not."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.human_request import (
    HUMAN,
    HUMAN_REQUEST,
    NONE,
    HumanRequestDetector,
    combine,
    lexicon_hits,
    lexicon_score,
    vetoed,
)

# Requests for staff, a person rather than a machine, someone in charge: Traditional,
# typos (转仁工, 人功), English, pinyin, inside long sentences.
REQUESTS = [
    "能帮我叫个同事过来吗",
    '转人工', '转人工！', '我要人工', '人工客服', '人工', '人工呢', '真人客服', '给我转真人', '转真人', '我要找客服', '帮我转人工吧',
    '能不能换个真人跟我聊', '找你们经理', '找你们主管', '叫你们领导出来', '我要找负责人', '让你们店长来跟我说', '找个能做主的人', '找个能做主的来',
    'human please', 'talk to a human', 'I want to speak to a real person', 'agent please', '轉人工',
    '給我轉人工客服', '我要找真人客服', '轉真人', '转仁工', '转人功', '我要仁工', '人功客服', '找人工客服', '能转人工吗', '可以转人工吗',
    '有人工吗', '有没有人工客服', '怎么转人工', '怎么联系人工客服', '不想跟机器人聊了', '我不要机器人', '别让机器人回我了 我要真人',
    '我的快递三天没动了你们到底管不管 给我转人工', '订单2024091100321退款一直不到账，麻烦帮我转一下人工客服处理',
    '你们这个机器人根本听不懂我在说什么，请安排人工客服', '我要跟你们的工作人员沟通', '请人工介入', '麻烦让人工客服联系我', '客服经理在哪', '我要投诉，找你们领导',
    '我要找你们负责人', '把你们主管叫来', '人工人工人工', '人工!!!', '喂喂 转人工', 'zhuan ren gong', 'rengong', '我需要人工帮助',
    '叫个真人来', '我要和真人说话', '我想和人工客服聊一下', '有真人吗 我要真人', '之前人工客服说给我退款，现在又不认了，再帮我转人工', '你解决不了就给我转人工',
    '找售后的同事', '帮我接人工', '我要找店长', '请转接人工坐席', '能做主的人在吗', '找个管事的来', '我要见你们老板', '让你们经理给我打电话',
    '人工客服在哪里', '我要转人工服务', '求转人工', '請幫我轉接人工', '我要找你们的客服主管', '给我找个人工', '换人工', '切人工', '人工呢？？？快出来',
    '机器人听不懂 快转人工！', '不想跟機器人說話 給我轉人工', '听不懂人话吗 人工！！！', '我要找一个真人客服', '麻烦转一下人工谢谢', '能帮我转下人工客服吗',
    '有没有活人', '可以找你们主管吗', 'real person please', 'I need a human', 'connect me to an agent',
    'transfer me to a human agent',
    # someone of the shop by name, a chat abbreviation, speaking with a manager
    '客服小姐姐在吗', '掌柜在不在', '店家呢 出来一下', '老板娘在吗', 'rg', 'zrg', '想跟你们经理说话',
    # "is anyone there" said again or with a demand, a measure word before staff, how to reach
    # a person, nobody there
    '在吗在吗在吗', '在不在？在不在？在不在？', '人呢人呢人呢', '有人吗有人吗有人吗', '有没有人啊 回句话', '有人在吗？理我一下',
    '来个真人行不行', '能来位客服吗', '真人客服的联系方式给我', '人工客服热线多少', '客服都下班了是吧',
    '你们的人全都不在了？', '人工全都休息了吗', '人工到底几点才有人', '真人客服什么时候才回我啊',
    '人工客服到底几点能有人', '在吗 半天没人回复', '发了好几条了 根本没人理',
]

# Not requests: identity questions (bot_challenge), opening hours (faq/working_hours),
# past contacts, negated requests, 人工 as in 人工费/人工智能, ordinary messages.
NOT_REQUESTS = [
    "我同事说这个很好用",
    '你是机器人吗', '你是真人还是程序', '人工客服几点下班', '客服什么时候上班', '之前人工客服说给我退款', '你是真人吗', '你是人工还是智能',
    '是人工客服在回复吗还是自动的', '你是AI吗', '人工客服几点上班', '你们客服几点有人', '人工客服周末上班吗', '客服工作时间是几点到几点', '刚才客服说可以退款',
    '上次人工客服答应给我补偿', '客服说三天内发货 现在都一周了', '之前找过人工 没解决', '你好', '在吗', '客服在吗', '我要退款', '帮我取消订单',
    '订单2024091100321到哪了', '你们的人工智能真厉害', '人工智能客服挺好用', '谢谢你 不用转人工了', '不用转人工，我自己看看', '不需要人工',
    '我的快递到哪了', '这个商品有人买过吗', '有人吗', '你们老板是谁', '这件衣服是真人模特拍的吗', 'are you human', 'r u human',
    '你是不是机器人啊', '对面是真人吗', '商品有点小问题，想反馈一下', '经理说的话算数吗', '发票抬头写公司名', '手工做的吗', '人工费怎么算', '安装要人工费吗',
    '你们店长推荐哪款', '主管说给我补发 怎么还没到', '退款什么时候到', '怎么退货', '客服电话多少', '有客服电话吗 我想直接打', '那普票也行吧 个人', 'hello 客服', '客服你好', '发票抬头写个人就行', '你们的负责人说今天发货', '我在跟机器人聊天吗',
    '你会不会是机器人假装的', '你是机器人还是客服本人', '好的谢谢', '转账失败了', '人工客服的服务时间', '你們人工客服幾點下班', '之前的客服态度很差',
    '主要负责人是谁', '店主发货了吗', '老板发货了没', '上次你们经理说话不算数',
    '有没有人知道优惠券怎么用', '后来人工说不行', '有没有人用过这个', '在吗 我的快递到哪了', '在吗在吗', '有人吗？有人吗？', '快递放门口没人管', '这个款式没人买吗', '退款等了一个星期了还没人理',
]

LOOK_ALIKES = ["你是机器人吗", "你是真人还是程序", "人工客服几点下班", "客服什么时候上班",
               "之前人工客服说给我退款", "不用转人工了", "人工费怎么算",
               "个人", "个人发票", "开个人的", "开个人抬头"]  # an invoice title answered to the form


@pytest.mark.parametrize("text", REQUESTS)
def test_the_lexicon_alone_catches_requests(text: str) -> None:
    assert lexicon_score(text) >= 0.5, lexicon_hits(text)


@pytest.mark.parametrize("text", NOT_REQUESTS)
def test_the_lexicon_does_not_fire_on_look_alikes(text: str) -> None:
    assert lexicon_score(text) < 0.5, lexicon_hits(text)


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_are_vetoed_for_the_model_too(text: str) -> None:
    assert vetoed(text)
    assert combine(lexicon_score(text), 0.99, vetoed(text)) < 0.5


def test_an_explicit_request_wins_over_a_past_contact_in_another_clause() -> None:
    assert lexicon_score("之前人工客服说给我退款，现在又不认了，再帮我转人工") >= 0.5
    assert not vetoed("之前人工客服说给我退款，现在又不认了，再帮我转人工")


def test_the_model_adds_recall_but_the_lexicon_is_trusted_alone() -> None:
    assert combine(0.0, 0.8, False) == 0.8
    assert combine(0.95, 0.1, False) == 0.95
    assert combine(0.3, None, False) == 0.3


HUMAN_EXAMPLES = ["转人工", "我要人工", "人工客服", "找你们经理", "真人客服", "我要找真人",
                  "帮我转人工", "叫你们主管来", "有人工吗", "人工服务", "找个活人", "转接人工客服"]
OTHER_EXAMPLES = ["你好", "谢谢", "我要退款", "订单到哪了", "你是机器人吗", "怎么退货",
                  "发票怎么开", "人工客服几点下班", "运费多少", "再见", "好的", "能便宜点吗"]


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


def _detector(tmp_path, config: dict | None = None) -> tuple[HumanRequestDetector, LocalModelStorage, Resource]:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("human_request")
    return HumanRequestDetector.create(config or {}, storage, resource, _context()), storage, resource


def _training_data(humans: list[str]) -> TrainingData:
    return TrainingData([Message(data={TEXT: t, INTENT: "human_agent"}) for t in humans]
                        + [Message(data={TEXT: t, INTENT: "other"}) for t in OTHER_EXAMPLES])


def test_detector_trains_persists_loads_and_sets_the_intent(tmp_path) -> None:
    detector, storage, resource = _detector(tmp_path)
    detector.train(_training_data(HUMAN_EXAMPLES))
    loaded = HumanRequestDetector.load({}, storage, resource, _context())
    assert loaded._model is not None
    ranking = [{"name": "greet", "confidence": 0.7}, {"name": "human_agent", "confidence": 0.2}]
    asks = Message(data={TEXT: "客服妹子在嘛 轉仁工", INTENT: {"name": "greet", "confidence": 0.7},
                         INTENT_RANKING_KEY: ranking})
    challenge = Message(data={TEXT: "你是真人还是程序", INTENT: {"name": "bot_challenge", "confidence": 0.9}})
    loaded.process([asks, challenge])
    assert asks.get(HUMAN_REQUEST)["name"] == HUMAN
    assert asks.get(INTENT)["name"] == "human_agent"
    assert asks.get(INTENT)["confidence"] == asks.get(HUMAN_REQUEST)["confidence"]
    assert asks.get(INTENT_RANKING_KEY) == ranking  # the classifier's own view stays
    assert challenge.get(HUMAN_REQUEST)["name"] == NONE
    assert challenge.get(INTENT)["name"] == "bot_challenge"
    assert HUMAN_REQUEST in challenge.as_dict(only_output_properties=True)


def test_too_few_examples_means_lexicon_only(tmp_path) -> None:
    detector, storage, resource = _detector(tmp_path)
    detector.train(_training_data(HUMAN_EXAMPLES[:3]))
    assert detector._model is None
    loaded = HumanRequestDetector.load({}, storage, resource, _context())
    message = Message(data={TEXT: "human please"})
    loaded.process([message])
    assert message.get(HUMAN_REQUEST) == {"name": HUMAN, "confidence": round(lexicon_score("human please"), 4)}


def test_every_message_gets_the_field(tmp_path) -> None:
    detector, _, _ = _detector(tmp_path)
    empty = Message(data={TEXT: ""})
    detector.process([empty])
    assert empty.get(HUMAN_REQUEST) == {"name": NONE, "confidence": 1.0}


@pytest.mark.parametrize("text", ["人工幾點有人", "周末有人工吗", "是人工吗", "tuikuan"])
def test_the_classifiers_human_agent_on_a_look_alike_is_demoted(tmp_path, text: str) -> None:
    detector, _, _ = _detector(tmp_path)
    ranking = [{"name": "human_agent", "confidence": 0.3}, {"name": "nlu_fallback", "confidence": 0.5},
               {"name": "faq", "confidence": 0.6}]
    message = Message(data={TEXT: text, INTENT: {"name": "human_agent", "confidence": 0.3},
                            INTENT_RANKING_KEY: ranking})
    detector.process([message])
    assert message.get(HUMAN_REQUEST)["name"] == NONE
    assert message.get(INTENT) == {"name": "faq", "confidence": 0.6}


def test_a_demoted_human_agent_without_a_credible_runner_up_is_not_understood(tmp_path) -> None:
    detector, _, _ = _detector(tmp_path)
    ranking = [{"name": "human_agent", "confidence": 0.99}, {"name": "greet", "confidence": 0.001}]
    message = Message(data={TEXT: "人工幾點有人", INTENT: {"name": "human_agent", "confidence": 0.99},
                            INTENT_RANKING_KEY: ranking})
    detector.process([message])
    assert message.get(INTENT) == {"name": "nlu_fallback", "confidence": 0.5}


def test_a_demoted_human_agent_takes_the_faq_the_selector_is_sure_of(tmp_path) -> None:
    detector, _, _ = _detector(tmp_path, {"demote_below": 0.0})  # only the veto demotes
    ranking = [{"name": "human_agent", "confidence": 0.98}, {"name": "refund", "confidence": 0.01}]
    selector = {"faq": {"response": {"intent_response_key": "faq/contact_merchant", "confidence": 1.0}}}
    message = Message(data={TEXT: "我想直接打电话 有客服电话吗", INTENT: {"name": "human_agent", "confidence": 0.98},
                            INTENT_RANKING_KEY: ranking, "response_selector": selector})
    detector.process([message])
    assert message.get(HUMAN_REQUEST)["name"] == NONE
    assert message.get(INTENT)["name"] == "faq"


def test_hello_to_the_service_is_a_greeting(tmp_path) -> None:
    detector, _, _ = _detector(tmp_path, {"demote_below": 0.0})
    message = Message(data={TEXT: "hello 客服", INTENT: {"name": "human_agent", "confidence": 0.89},
                            INTENT_RANKING_KEY: [{"name": "human_agent", "confidence": 0.89}]})
    detector.process([message])
    assert message.get(INTENT)["name"] == "greet"


def test_the_classifiers_human_agent_stays_when_the_detector_is_unsure(tmp_path) -> None:
    detector, _, _ = _detector(tmp_path, {"demote_below": 0.0})
    message = Message(data={TEXT: "人呢？？？一直没人理", INTENT: {"name": "human_agent", "confidence": 0.6}})
    detector.process([message])
    assert message.get(INTENT)["name"] == "human_agent"
