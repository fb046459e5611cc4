"""Text normalisation for Chinese customer messages.

Customers type full-width characters, Traditional Chinese, emoji, typos and
"!!!!". The classifiers should see one canonical form, while the transcript keeps
the customer's own words and entity offsets keep pointing into the original text.

That is why the pipeline text is *aligned*: ``normalize_aligned`` never changes the
length of the string (every removed character becomes a space), so an entity found
at ``[start, end)`` in the normalised text sits at the same place in the original.
``normalize`` is the compact form (spaces collapsed) used for sentence encoders and
the anger model.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu._fingerprint import files_fingerprint

ORIGINAL_TEXT = "original_text"
NORMALIZED_TEXT = "normalized_text"
TEXT_SIGNALS = "text_signals"

# Emoji that carry strong anger; they are stripped from the text but recorded.
ANGRY_EMOJI = frozenset("😡🤬💢😠👿🖕😤💩")

# Conservative typo/homophone fixes for shop words. Only same-length, unambiguous
# replacements (length must not change, see module docstring).
TYPO_MAP: dict[str, str] = {
    "退宽": "退款",
    "退欵": "退款",
    "定单": "订单",
    "物流信心": "物流信息",
    "快第": "快递",
    "快低": "快递",
    "发祸": "发货",
    "收获地址": "收货地址",
    "运废险": "运费险",
    "七天无理有": "七天无理由",
    "优惠卷": "优惠券",
    "发漂": "发票",
    "退贷": "退货",
}
assert all(len(k) == len(v) for k, v in TYPO_MAP.items()), "typo fixes must keep length"
_TYPO_RE = re.compile("|".join(sorted(map(re.escape, TYPO_MAP), key=len, reverse=True)))

# Shop words typed in pinyin ("tuikuan", "dingdan zhuangtai", "wu liu"): customers on a phone
# without a Chinese keyboard do. Multi-syllable words only, matched as whole Latin words with or
# without spaces between syllables; the characters are padded with spaces to keep the length.
PINYIN_WORDS: dict[str, str] = {
    "tui kuan": "退款", "tui huo": "退货", "tui qian": "退钱", "huan huo": "换货", "ding dan": "订单",
    "zhuang tai": "状态", "wu liu": "物流", "kuai di": "快递", "fa huo": "发货", "shou huo": "收货",
    "dao huo": "到货", "fa piao": "发票", "ke fu": "客服", "ren gong": "人工", "zhen ren": "真人",
    "zhang hao": "账号", "mi ma": "密码", "deng lu": "登录", "qu xiao": "取消", "di zhi": "地址",
    "you hui quan": "优惠券", "zhi fu": "支付", "fu kuan": "付款", "dao zhang": "到账",
    "ji qi ren": "机器人", "tou su": "投诉", "yun fei": "运费", "bao you": "包邮", "hui yuan": "会员",
    "ji fen": "积分", "bao xiu": "保修", "xie xie": "谢谢", "zai jian": "再见", "ni hao": "你好",
    "bei dao": "被盗", "zen me": "怎么", "wei shen me": "为什么", "shen me shi hou": "什么时候",
    "duo jiu": "多久", "cha xun": "查询", "dao na le": "到哪了", "jing li": "经理", "ni shi": "你是",
    "zhi fu bao": "支付宝", "wei xin": "微信", "hua bei": "花呗", "shou hou": "售后", "huan ma": "换码",
}
_PINYIN_RE = re.compile(
    r"(?<![a-z])("
    + "|".join(k.replace(" ", " ?") for k in sorted(PINYIN_WORDS, key=len, reverse=True))
    + r")(?![a-z])"
)


def _pinyin_to_hanzi(text: str) -> str:
    def word(m: re.Match[str]) -> str:
        hanzi = PINYIN_WORDS[" ".join(_syllables(m.group(0)))]
        return hanzi + " " * (len(m.group(0)) - len(hanzi))

    return _PINYIN_RE.sub(word, text)


@lru_cache(maxsize=4096)
def _syllables(spelled: str) -> tuple[str, ...]:
    """Split a matched word back into its syllables, whether or not it had spaces."""
    compact = spelled.replace(" ", "")
    for key in PINYIN_WORDS:
        if key.replace(" ", "") == compact:
            return tuple(key.split(" "))
    raise KeyError(spelled)


_PUNCT_RUN_RE = re.compile(r"([!?。,.~…])\1+|[!?]{2,}")
_SPACES_RE = re.compile(r" +")


@lru_cache(maxsize=1)
def _t2s():  # noqa: ANN202 - opencc has no type stubs
    import opencc

    return opencc.OpenCC("t2s")


def to_halfwidth(text: str) -> str:
    """Full-width ASCII forms (ＡＢＣ１２３！) to half-width; keeps length."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:
            out.append(chr(code - 0xFEE0))
        elif code == 0x3000:
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def to_simplified(text: str) -> str:
    """Traditional to Simplified with OpenCC, falling back per character if a
    phrase conversion would change the length (offsets must stay valid)."""
    converted = _t2s().convert(text)
    if len(converted) == len(text):
        return converted
    chars = []
    for ch in text:
        c = _t2s().convert(ch)
        chars.append(c if len(c) == 1 else ch)
    return "".join(chars)


def is_emoji(ch: str) -> bool:
    """Pictographs, symbols, variation selectors and joiners used in emoji."""
    code = ord(ch)
    if code in (0x200D, 0xFE0F, 0xFE0E, 0x20E3):
        return True
    if 0x1F000 <= code <= 0x1FAFF or 0x2600 <= code <= 0x27BF or 0x1F1E6 <= code <= 0x1F1FF:
        return True
    if 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:
        return True
    return unicodedata.category(ch) == "So" and code > 0x2000


def _strip_emoji(text: str) -> str:
    return "".join(" " if is_emoji(ch) else ch for ch in text)


def _collapse_punct(text: str) -> str:
    """"!!!" -> "!  ", "?!?!" -> "?   " (same length)."""
    return _PUNCT_RUN_RE.sub(lambda m: m.group(0)[0] + " " * (len(m.group(0)) - 1), text)


def _whitespace(text: str) -> str:
    return "".join(" " if ch.isspace() or unicodedata.category(ch) == "Cf" else ch for ch in text)


def _lower_latin(text: str) -> str:
    return "".join(ch.lower() if "A" <= ch <= "Z" else ch for ch in text)


def _fix_typos(text: str) -> str:
    return _TYPO_RE.sub(lambda m: TYPO_MAP[m.group(0)], text)


# "88" / "886" (拜拜 / 拜拜了) as a whole message. Rasa's CountVectorsFeaturizer turns every
# number into one __NUMBER__ token, so left as digits they would teach DIET that any bare
# number (an order number, a phone tail) means goodbye.
_BYE_NUMBER_RE = re.compile(r"^(\s*)(8{2,}6?)(?=[\s!.~。！～]*$)")


def _spell_bye_numbers(text: str) -> str:
    def spell(m: re.Match[str]) -> str:
        digits = m.group(2)
        word = "拜" * (len(digits) - 1) + ("了" if digits.endswith("6") else "拜")
        return m.group(1) + word

    return _BYE_NUMBER_RE.sub(spell, text)


def normalize_aligned(text: str) -> str:
    """Canonical form with exactly the same length as ``text``.

    Emoji are removed unless the message consists of nothing else."""
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    out = _whitespace(to_halfwidth(text))
    if _strip_emoji(out).strip():
        out = _strip_emoji(out)
    # else: an emoji-only message ("👌") keeps its emoji, the only thing to classify on
    out = to_simplified(out)
    out = _lower_latin(out)
    out = _collapse_punct(out)
    out = _fix_typos(out)
    out = _pinyin_to_hanzi(out)
    out = _spell_bye_numbers(out)
    assert len(out) == len(text)
    return out


def normalize(text: str) -> str:
    """Canonical compact form: aligned normalisation, then spaces collapsed/trimmed."""
    return _SPACES_RE.sub(" ", normalize_aligned(text)).strip()


def text_signals(text: str) -> dict[str, Any]:
    """Side signals the normaliser removes but the anger detector needs."""
    half = to_halfwidth(text)
    runs = [m.group(0) for m in re.finditer(r"[!?]+", half)]
    emoji = [ch for ch in text if is_emoji(ch) and ord(ch) not in (0x200D, 0xFE0F, 0xFE0E)]
    return {
        "exclamations": half.count("!"),
        "questions": half.count("?"),
        "max_punct_run": max((len(r) for r in runs), default=0),
        "emoji": emoji,
        "angry_emoji": [ch for ch in emoji if ch in ANGRY_EMOJI],
    }


def normalize_message(message: Message) -> None:
    """Put the aligned normal form in TEXT, keeping the original and the signals."""
    original = message.get(ORIGINAL_TEXT)
    if original is None:
        original = message.get(TEXT)
        if original is None:
            return
        message.set(ORIGINAL_TEXT, original)
    message.set(TEXT, normalize_aligned(original))
    message.set(NORMALIZED_TEXT, normalize(original))
    message.set(TEXT_SIGNALS, text_signals(original))


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class ChineseNormalizer(GraphComponent):
    """Runs first: normalises TEXT in place (length-preserving), keeps the original.

    Registered as a featurizer only because the recipe has no "preprocessor" type;
    it must be listed before the tokenizer.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """No options."""
        return {}

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Retrain when the normalisation rules (this module) change."""
        return files_fingerprint(__file__)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ChineseNormalizer:
        """Creates the component."""
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Normalises the training examples the same way as live messages."""
        for message in training_data.training_examples:
            if message.get(TEXT):
                normalize_message(message)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Normalises incoming messages."""
        for message in messages:
            normalize_message(message)
        return messages
