"""Human-request detection: a curated lexicon plus a small model trained on labelled data.

"A human is one sentence away" must not depend on DIET's draw. Customers ask for a
person in many ways - 转人工, 真人, 找你们主管/经理/能做主的, 轉人工 (Traditional),
转仁工/人功 (typos), "human please", inside long complaints - while messages that merely
*mention* people must not hand off: "你是真人还是程序" (bot_challenge), "人工客服几点下班"
(working hours), "之前人工客服说给我退款" (a past contact).

So the lexicon is a set of patterns over the normalised text (a request verb before a
staff word, a staff word standing alone, a refusal of the machine) with vetoes for those
three look-alikes, and a logistic regression on character n-grams plus the lexicon score
(trained on the intent ``human_agent`` against everything else) generalises to wordings
the patterns miss. The vetoes apply to the model too: they encode decisions, not data.
Every parse carries ``"human_request": {"name": "human"|"none", "confidence": p}``; when
it says human, the intent becomes ``human_agent`` and the classifier's own guess stays in
``intent_ranking``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu._persist import StoredModelComponent
from bot.nlu.normalizer import NORMALIZED_TEXT, ORIGINAL_TEXT, normalize

logger = logging.getLogger(__name__)

HUMAN_REQUEST = "human_request"
HUMAN, NONE = "human", "none"
HUMAN_INTENT = "human_agent"
FALLBACK_INTENT = "nlu_fallback"
MODEL_FILE = "human_request_model.joblib"

# Staff words. Typos of 人工 seen in chats (仁工 人功 人公 认工 人エ) count as 人工.
_NOT_A_PERSON = r"人工(费|智能|成本|合成|降雨|呼吸|翻译|湖)"
_AGENT = r"(人工(?!费|智能|成本|合成|降雨|呼吸|翻译|湖)|[仁认任]工|人[功公攻宫]|人エ|真人|活人|大活人|人类|真的人)"
_STAFF = (
    rf"({_AGENT}(客服|坐席|服务|专员)?|客服(人员|专员|经理|主管|妹子|小姐姐|小哥哥)?|"
    r"工作人员|售后人员|售后的?同事|你们的?同事|(个|一个|位|一位)同事|专员|坐席|值班的?人|"
    r"(售后|客服|店铺|店里|门店|部门|值班)?(主管|经理)|领导|上级|负责人|店长|老板|掌柜|管事的|能做主的|说了算的|做得了主的|能拍板的|店主|店家|"
    r"能管事的|能负责的|有权限的)"
)
# Verbs that ask for someone (转 接 找 叫 换 要 ...).
_ASK_VERB = (
    r"(转|轉|接|找|叫|喊|换|(?<![主重只还就也是])要|请|安排|联系|联络|呼叫|需要|让|派|给我|帮我接|帮我转|帮我找|"
    r"求|申请|切换|切到|切|(?<![意看听])见)"
)
_NEGATION = r"(不用|不要|不需要|不必|无需|没必要|别|不想|不找|不转|先不|暂时不|不)"
_MACHINE = r"(机器人|机器|ai|程序|智能客服|自动回复|智能助手|小助手|bot|robot|复读机)"


@dataclass(frozen=True)
class Pattern:
    """One lexicon pattern and its evidence weight (P(human) when it is the only cue)."""

    name: str
    regex: re.Pattern[str]
    weight: float
    hours_veto: bool = True  # False: its words name a time of day on purpose ("都下班了是吧")


def _p(name: str, regex: str, weight: float, hours_veto: bool = True) -> Pattern:
    return Pattern(name, re.compile(regex), weight, hours_veto)


PATTERNS: tuple[Pattern, ...] = (
    # 转人工 / 找你们主管 / 我要找客服 / 给我接个真人 / 能让人工来
    _p("verb+staff", rf"{_ASK_VERB}(一下|一个|一位|个|位|下|到|给|你们|你们的|你们店的|店里的|这里的|"
       rf"的){{0,2}}{_STAFF}", 0.95),
    # 跟真人聊 / 和人工客服说话 / 与工作人员沟通
    _p("talk-to-staff", rf"(跟|和|与|同)(你们|你们的|你们店的|店里的)?{_STAFF}(说|聊|谈|讲|沟通|对话|交流|联系)", 0.9),
    # 让人工处理 / 请人工介入 / 人工介入
    _p("staff-acts", rf"{_STAFF}(来|介入|处理|跟进|联系我|回复我|给我回|打电话给我|回个电话)", 0.85),
    # a staff word as (almost) the whole clause: 人工 / 人工客服呢 / 真人客服！/ 人工人工
    _p("bare-staff", rf"^(喂+|亲|你好|在吗|快|快点|赶紧)?({_AGENT}|{_AGENT}客服|{_AGENT}服务|"
       rf"真人客服|人工坐席|经理|主管|店长|负责人)+(呢|啊|呀|吧|在吗|在哪|在哪里|在哪儿|"
       rf"在不在|出来|快出来|快点|!|\?)*$", 0.9),
    # 经理在哪 / 能做主的人在吗 / 把你们主管叫来
    _p("boss-where", rf"({_AGENT}|{_AGENT}客服|主管|经理|领导|负责人|店长|管事的|能做主的|说了算的)"
       rf"(的人|人)?(在哪|在吗|在不在|呢|出来|过来)", 0.85),
    _p("ba-staff", rf"把.{{0,4}}{_STAFF}(给我)?(叫|喊|找|请)(来|出来|过来)?", 0.9),
    # 有没有人工 / 有人工吗 / 有没有一个真人 / 人工在哪
    _p("any-agent", rf"(有没有|有)(一个|个|一位|位)?{_AGENT}|{_AGENT}(客服)?(在哪|呢)", 0.85),
    # 找个懂行的人来 / 叫个人来
    _p("someone", rf"{_ASK_VERB}(个|一个|位|一位)[^,?]{{0,6}}?的?人(来|过来|出来|回答|处理|帮|跟|和|聊|管)|"
       r"(叫|喊|找|派)(个|一个|位|一位)?人(来|过来|出来)", 0.85),
    # 客服妹子在嘛 / 客服mm在吗: a person, not the bot
    _p("staff-nickname", r"(客服|售后)(mm|妹子|妹妹|小姐姐|小哥哥|美女|帅哥|小姐|姐姐|哥哥|大哥|姐)"
       r"(在吗|在嘛|在么|在不在|呢|出来)", 0.85),
    # 小姐姐在不在呀 / 掌柜的在吗 / 店主呢，出来一下 / 有没有客服小哥哥在: someone of the shop by name
    _p("shop-person-there", r"^(请问|那个|喂+|你好)?(有没有)?(客服|售后)?(小姐姐|小哥哥|妹子|掌柜的?|店主|店家|老板娘?|"
       r"店长)(在|在吗|在嘛|在么|在不在|在没|呢|出来)", 0.85),
    # 客服都死光了吗 / 一个人都没有
    _p("nobody-here", r"(客服|人工|你们的人|人)(都)?(死光|死哪|去哪|跑哪|死绝)|一个(活)?人都没有|"
       r"没有一个(活)?人", 0.7),
    # 一直没人理 / 根本没人回我 as (nearly) the whole clause: nobody answers in this chat
    # ("退款等了一个星期了还没人理" is a complaint about the refund, not about the chat)
    _p("nobody-answers", r"^(人呢|在吗|喂+|客服)?.{0,2}(一直|都|根本|半天|还是|也)没有?人(理|搭理|回复|回|回话|回应)"
       r"(我)?(啊|呀|吗|么|呢|!|\?)*$", 0.85),
    # 真人都下班了是吧 / 客服全都不在了？: the customer complains nobody is there
    _p("all-gone", rf"({_AGENT}|客服|你们的人)(客服)?(都|全都|全)(下班|不在|走光|跑光|没了|休息|放假)", 0.8,
       hours_veto=False),
    # 人工客服到底什么时候才有人 / 真人几点才回我: waiting for a person, not asking the hours
    _p("agent-awaited", rf"{_AGENT}(客服)?.{{0,8}}(才有人|才能有人|才会有人|才来|才上线|才回|才理我|"
       r"到底.{0,4}有人)", 0.85, hours_veto=False),
    # 能不能来个真人 / 来位客服: a measure word makes 来 a request, not 后来/原来
    _p("come-staff", rf"(?<![后原本再未将从过出])来(个|一个|位|一位){_STAFF}", 0.9),
    # 人工客服电话多少 / 真人客服的联系方式: how to reach a person
    _p("staff-contact", rf"{_AGENT}(客服)?的?(电话|热线|联系方式|号码|手机|微信|qq)", 0.85),
    # refusing the machine: 不想跟机器人聊 / 不要机器人 / 机器人没用
    _p("not-machine", rf"(不想|不要|不用|别|不愿意|受够了|不跟|不和)(再)?(跟|和|与)?(你这个|这个)?{_MACHINE}",
       0.85),
    _p("not-machine-2", rf"{_MACHINE}(解决不了|听不懂|没用|不行|太笨|说不清)", 0.6),
    # English and pinyin
    _p("english", r"(?<![a-z])(human|real person|real people|live agent|agent|representative|"
       r"operator|customer service|staff|manager|supervisor)(?![a-z])", 0.6),
    _p("english-verb", r"(talk|speak|chat|connect|transfer|put)( me)?( to| with| through to)? "
       r"(a |an |the )?(human|person|agent|representative|operator|manager|someone)", 0.95),
    _p("english-please", r"(human|agent|person|manager) (please|pls|plz)|(please|pls|plz) "
       r"(human|agent|person)", 0.95),
    _p("pinyin", r"(zhuan ?)?ren ?gong|rengong|zhenren|zhen ren|^(zhuan ?|z)?rg$", 0.9),
)

# Over the whole message: "有人吗" or "在吗" alone (or twice) is a greeting, but three times
# ("在吗在吗在吗", "在吗? 在吗? 在吗?") or with a demand for an answer ("有没有人啊? 回个话") it asks
# for someone to be there.
_HELLO = r"(在吗|在不在|在么|在嘛|在没|有人吗|有人在吗|有没有人|有人没|人呢|还有人吗)"
WHOLE_PATTERNS: tuple[Pattern, ...] = (
    _p("hello-again", rf"^({_HELLO}(啊|呀|哪|呢)?){{3,}}$", 0.85),
    _p("hello-answer-me", rf"^{_HELLO}(啊|呀|哪|呢)?(回个话|回句话|说句话|说话|吱一声|吱个声|回一下|回我|"
       r"理我|理一下我?|出来)+(一下)?(啊|呀|呢)?$", 0.85),
)
_NOT_WORD = re.compile(r"[\W_]+")

# Look-alikes that are not requests (see module docstring).
_IDENTITY = re.compile(
    rf"(你|您|对面|这边|那边|跟我聊天的|回复的|在回复的|在回的|我在和|我在跟)"
    rf"(是不是|是|到底是|该不会是|会不会是|难道是|真的是).{{0,8}}({_AGENT}|{_MACHINE}|人)"
    rf"(吗|么|嘛|还是|呢|吧|对吧|\?|$)|"
    rf"(是|是不是){_AGENT}(客服)?在(回复|回|打字|聊)|{_AGENT}还是|还是{_AGENT}|"
    rf"(是|是不是)(真人|人工|机器人|机器)(吗|么|嘛|\?)|"
    r"(are|r) (you|u) (a |an )?(human|bot|robot|real|person|machine)"
)
_WORK_HOURS = re.compile(
    r"(几点|什么时候|啥时候|何时|几时|上班|下班|营业时间|工作时间|服务时间|值班时间|周末|节假日|"
    r"晚上|早上|半夜|凌晨|深夜|夜里|夜间|过年|春节|国庆|明天|假期|放假|节日|周[六日天]|星期[六日天]|"
    r"礼拜[六日天]|工作日|24小时|排队要|要等多久|等多久|what time|when|hours|open(?![a-z])|close)"
)
_NOW = re.compile(r"(现在|马上|立刻|赶紧|快|直接|给我|帮我|我要|我想|麻烦)")
_PAST = re.compile(
    rf"(之前|刚才|刚刚|上次|昨天|前天|前几天|那天|以前|已经|上周|说好的)[^,?想要先跟和找转让请]{{0,6}}?{_STAFF}|"
    rf"(?<![跟和与同让叫请要找转接]){_STAFF}(说(?!话)|答应|承诺|告诉我|同意|讲(?!话))(了|过|的)?"
)
_NEGATED = re.compile(rf"{_NEGATION}(再)?({_ASK_VERB})?(一下|个)?{_STAFF}")
_CLAUSE_SPLIT = re.compile(r"[,，。.!！;；、~]+|(?<=[?？])|\s+(?=[^\sa-z])|(?<=[^\sa-z])\s+")


def _clauses(norm: str) -> list[str]:
    return [c.strip() for c in _CLAUSE_SPLIT.split(norm) if c and c.strip()]


def _vetoed(clause: str, match: re.Match[str], hours_veto: bool = True) -> bool:
    """A pattern hit that is a look-alike: a negated request ("不用转人工"), an identity
    question, a question about opening hours, or a past contact described."""
    before = clause[max(0, match.start() - 4):match.start()]
    if re.search(rf"{_NEGATION}(再)?$", before):
        return True
    if _IDENTITY.search(clause) and not re.search(rf"{_ASK_VERB}.{{0,4}}{_STAFF}",
                                                   _IDENTITY.sub("", clause)):
        return True
    if hours_veto and _WORK_HOURS.search(clause) and not _NOW.search(clause):
        return True
    return any(p.start() < match.end() and match.start() < p.end()
               for p in _PAST.finditer(clause))


def lexicon_hits(text: str) -> list[str]:
    """Names of the patterns that fire (after vetoes) on the message."""
    norm = normalize(text)
    hits: list[str] = []
    for clause in _clauses(norm) or [norm]:
        for pattern in PATTERNS:
            for match in pattern.regex.finditer(clause):
                if not _vetoed(clause, match, hours_veto=pattern.hours_veto):
                    hits.append(pattern.name)
                    break
    bare = _NOT_WORD.sub("", norm)
    hits.extend(pattern.name for pattern in WHOLE_PATTERNS if pattern.regex.search(bare))
    return hits


_WEIGHTS = {p.name: p.weight for p in PATTERNS + WHOLE_PATTERNS}


def lexicon_score(text: str) -> float:
    """P(human request) from the lexicon alone: the strongest cue, nudged up by others."""
    weights = sorted((_WEIGHTS[h] for h in lexicon_hits(text)), reverse=True)
    if not weights:
        return 0.0
    p = weights[0]
    for w in weights[1:]:
        p += (1.0 - p) * 0.5 * w
    return min(p, 0.99)


# an invoice title or the customer naming themselves, answered to a form: not a person wanted
_NOT_A_REQUEST = re.compile(
    r"^(开|要|就|开张|开个)?(个人|本人|个人发票|个人抬头|抬头个人|个人的|我个人)(的|就行|就好|吧|抬头|发票)?$")
# "hello 客服", "客服你好": a greeting to whoever answers, the bot included
_GREETS_SERVICE = re.compile(r"^(hello|hi|hey|你好|您好|哈喽|嗨|在吗)?\s*(客服|亲)\s*(你好|您好|在吗|在么|hello|hi)?[!！~～。.]*$")
# "那普票也行吧 个人": the invoice title named last, after other words
_PERSONAL_TITLE = re.compile(r"(普票|发票|抬头|开).{0,8}个人(的|就行|就好|吧|抬头|发票)?$|个人(抬头|发票)")


# "有客服电话吗", "你们热线多少": the number to phone, which the contact answer gives
_HOTLINE = re.compile(r"(电话|热线|400|号码)(是|是多少|多少|几号|吗|么|呢|有吗)|有(没有)?.{0,4}(电话|热线)|打电话|拨打")


def vetoed(text: str) -> bool:
    """Whether the message mentions staff only in a look-alike way (and asks for no one)."""
    norm = normalize(text)
    if _NOT_A_REQUEST.match(norm.strip()):
        return True
    if (_HOTLINE.search(norm) or _PERSONAL_TITLE.search(norm.strip()) or _GREETS_SERVICE.match(norm.strip())) \
            and not lexicon_hits(text):
        return True
    if re.search(_NOT_A_PERSON, norm) and not lexicon_hits(text):
        return True
    any_mention = re.search(rf"{_STAFF}|{_MACHINE}", norm) is not None
    return any_mention and not lexicon_hits(text) and any(
        _IDENTITY.search(c) or _WORK_HOURS.search(c) or _PAST.search(c) or _NEGATED.search(c)
        for c in _clauses(norm)
    )


class HumanRequestModel:
    """Char n-gram TF-IDF + lexicon score -> logistic regression."""

    LEXICON_FEATURE_WEIGHT = 3.0  # so regularisation does not drown the lexicon

    def __init__(self) -> None:
        """Untrained model."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        self.classifier = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000,
                                             random_state=0)

    def _features(self, texts: list[str], fit: bool) -> Any:
        from scipy.sparse import csr_matrix, hstack

        norm = [normalize(t) for t in texts]
        grams = self.vectorizer.fit_transform(norm) if fit else self.vectorizer.transform(norm)
        side = np.array([[lexicon_score(t)] for t in texts], dtype=np.float64)
        return hstack([grams, csr_matrix(side * self.LEXICON_FEATURE_WEIGHT)]).tocsr()

    def fit(self, texts: list[str], labels: list[int]) -> HumanRequestModel:
        """Fits on raw texts with 1 = asks for a human."""
        self.classifier.fit(self._features(texts, fit=True), labels)
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """P(human request) per text."""
        return self.classifier.predict_proba(self._features(texts, fit=False))[:, 1]


def combine(p_lexicon: float, p_model: float | None, is_vetoed: bool) -> float:
    """Final P(human): the lexicon is trusted on its own; the model can add recall, but not
    against a veto."""
    if p_model is None:
        return p_lexicon
    if is_vetoed:
        return min(p_model, 0.2)
    return max(p_lexicon, p_model)


FAQ_SURE = 0.9


def demote(message: Message, fallback_threshold: float = 0.5) -> None:
    """Replaces the classifier's ``human_agent`` by the FAQ the response selector is sure of,
    else by its best other intent, or by
    ``nlu_fallback`` when that one is below the fallback threshold (DIET is often nearly
    certain of human_agent, leaving the rest a few millionths): whether to hand off is this
    detector's decision, not a by-product of DIET's draw."""
    selector = (((message.get("response_selector") or {}).get("faq") or {}).get("response") or {})
    if float(selector.get(PREDICTED_CONFIDENCE_KEY) or 0.0) >= FAQ_SURE:
        # "有客服电话吗": the FAQ the selector is sure of (the hotline) answers it
        message.set(INTENT, {INTENT_NAME_KEY: "faq", PREDICTED_CONFIDENCE_KEY: fallback_threshold},
                    add_to_output=True)
        return
    ranking = message.get(INTENT_RANKING_KEY) or []
    nxt = next((r for r in ranking
                if r.get(INTENT_NAME_KEY) not in (HUMAN_INTENT, FALLBACK_INTENT)), None)
    if nxt is None or float(nxt.get(PREDICTED_CONFIDENCE_KEY) or 0.0) < fallback_threshold:
        intent = {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: fallback_threshold}
    else:
        intent = {INTENT_NAME_KEY: nxt[INTENT_NAME_KEY],
                  PREDICTED_CONFIDENCE_KEY: nxt[PREDICTED_CONFIDENCE_KEY]}
    message.set(INTENT, intent, add_to_output=True)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class HumanRequestDetector(StoredModelComponent):
    """Sets ``human_request`` and, when it fires, the intent ``human_agent``."""

    MODEL_FILE = MODEL_FILE

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """``threshold`` on P(human) (tuned on tests/data/nlu_dev.tsv and heldout_dev.tsv);
        the classifier's own ``human_agent`` is replaced by its next intent when the message
        is a look-alike or P(human) is below ``demote_below`` ("人工几点有人", "tuikuan");
        below ``fallback_threshold`` (as in the fallback classifier) that is ``nlu_fallback``;
        ``min_examples`` human_agent examples are needed to train the model."""
        return {"threshold": 0.5, "demote_below": 0.1, "fallback_threshold": 0.5,
                "min_examples": 10}

    def train(self, training_data: TrainingData) -> Resource:
        """Trains the model on human_agent examples against all others."""
        texts, labels = [], []
        for message in training_data.intent_examples:
            text = message.get(ORIGINAL_TEXT) or message.get(TEXT)
            if text:
                texts.append(text)
                labels.append(int(message.get(INTENT) == HUMAN_INTENT))
        positives = sum(labels)
        if positives < self._config["min_examples"] or len(labels) - positives < 1:
            logger.info("HumanRequestDetector: %d examples; using the lexicon only.", positives)
            self._model = None
            return self._resource
        self.store(HumanRequestModel().fit(texts, labels))
        logger.info("HumanRequestDetector: trained on %d examples (%d human).",
                    len(labels), positives)
        return self._resource

    def p_human(self, texts: list[str]) -> list[float]:
        """P(human request) per text."""
        models: list[float | None] = [None] * len(texts)
        if self._model is not None and texts:
            models = [float(p) for p in self._model.predict_proba(texts)]
        return [combine(lexicon_score(t), m, vetoed(t)) for t, m in zip(texts, models, strict=True)]

    def process(self, messages: list[Message]) -> list[Message]:
        """Adds ``human_request``; a human request becomes the intent ``human_agent``."""
        todo = [m for m in messages if (m.get(ORIGINAL_TEXT) or m.get(TEXT))]
        texts = [m.get(ORIGINAL_TEXT) or m.get(TEXT) for m in todo]
        threshold = self._config["threshold"]
        for message, p in zip(todo, self.p_human(texts), strict=True):
            if p >= threshold:
                result = {"name": HUMAN, "confidence": round(p, 4)}
                message.set(INTENT, {INTENT_NAME_KEY: HUMAN_INTENT,
                                     PREDICTED_CONFIDENCE_KEY: round(p, 4)}, add_to_output=True)
            else:
                result = {"name": NONE, "confidence": round(1.0 - p, 4)}
                if (message.get(INTENT) or {}).get(INTENT_NAME_KEY) == HUMAN_INTENT and (
                        p < self._config["demote_below"] or vetoed(message.get(TEXT) or "")
                        or vetoed(message.get(ORIGINAL_TEXT) or "")):
                    demote(message, self._config["fallback_threshold"])
                    if _GREETS_SERVICE.match(normalize(message.get(TEXT) or "").strip()):
                        message.set(INTENT, {INTENT_NAME_KEY: "greet", PREDICTED_CONFIDENCE_KEY: 1.0},
                                    add_to_output=True)
            message.set(HUMAN_REQUEST, result, add_to_output=True)
        for message in messages:
            if message.get(HUMAN_REQUEST) is None:
                message.set(HUMAN_REQUEST, {"name": NONE, "confidence": 1.0}, add_to_output=True)
        return messages


__all__ = ["HumanRequestDetector", "lexicon_score", "lexicon_hits", "vetoed", "combine",
           "NORMALIZED_TEXT"]
