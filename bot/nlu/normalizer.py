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
from bot.nlu.pinyin import PINYIN_WORDS  # noqa: F401 - part of this module's interface
from bot.nlu.pinyin import pinyin_to_hanzi as _pinyin_to_hanzi

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
    "推款": "退款",
    "运废": "运费",
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
