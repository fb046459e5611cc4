"""Jieba tokenizer for mixed Chinese/Latin/number shop messages.

Rasa's ``JiebaTokenizer`` keeps whitespace as tokens (rasa#7910), and jieba glues
letters and digits together ("abc2024090911223"), which breaks order numbers and
entity annotations. ``segment`` splits runs of digits and Latin letters off first,
drops whitespace, and hands only the remaining text to jieba with the shop user
dictionary loaded.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu._fingerprint import files_fingerprint

logger = logging.getLogger(__name__)

DEFAULT_USERDICT = Path(__file__).parent / "resources" / "userdict.txt"
USERDICT_FILE = "userdict.txt"

# digits (with one optional decimal part), Latin words, whitespace, everything else
_CHUNK_RE = re.compile(r"(?P<num>\d+(?:\.\d+)?)|(?P<latin>[a-zA-Z]+)|(?P<space>\s+)")

_loaded: set[str] = set()
_lock = threading.Lock()


def load_userdict(path: str | Path) -> None:
    """Loads a jieba user dictionary once per process (jieba's state is global)."""
    import jieba

    key = str(Path(path).resolve())
    with _lock:
        if key in _loaded:
            return
        jieba.load_userdict(key)
        _loaded.add(key)


def _jieba(text: str, offset: int) -> list[tuple[str, int]]:
    import jieba

    return [
        (word, offset + start)
        for word, start, _ in jieba.tokenize(text)
        if word.strip()
    ]


def segment(text: str) -> list[tuple[str, int]]:
    """Splits text into (word, start) pairs; numbers and Latin words are single
    tokens, whitespace is never a token."""
    tokens: list[tuple[str, int]] = []
    pos = 0
    for m in _CHUNK_RE.finditer(text):
        if m.start() > pos:
            tokens.extend(_jieba(text[pos : m.start()], pos))
        if m.lastgroup != "space":
            tokens.append((m.group(0), m.start()))
        pos = m.end()
    if pos < len(text):
        tokens.extend(_jieba(text[pos:], pos))
    return tokens


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True
)
class ChineseTokenizer(JiebaTokenizer):
    """``JiebaTokenizer`` without whitespace tokens, with the shop dictionary."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Defaults of ``JiebaTokenizer`` plus the user dictionary file."""
        return {**JiebaTokenizer.get_default_config(), "userdict": str(DEFAULT_USERDICT)}

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Retrain when the user dictionary or the segmentation code changes."""
        return files_fingerprint(__file__, config.get("userdict") or DEFAULT_USERDICT)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ChineseTokenizer:
        """Creates the tokenizer and loads the configured user dictionary."""
        if config.get("userdict"):
            load_userdict(config["userdict"])
        return super().create(config, model_storage, resource, execution_context)

    def train(self, training_data: TrainingData) -> Resource:
        """Copies the user dictionary into the model so the model is self-contained."""
        userdict = self._config.get("userdict")
        if userdict:
            with self._model_storage.write_to(self._resource) as directory:
                shutil.copy2(userdict, Path(directory) / USERDICT_FILE)
        return super().train(training_data)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ChineseTokenizer:
        """Loads the user dictionary stored with the model (falls back to config)."""
        try:
            with model_storage.read_from(resource) as directory:
                stored = Path(directory) / USERDICT_FILE
                if stored.exists():
                    # read now: the storage directory only exists inside this block
                    load_userdict_text(stored.read_text(encoding="utf-8"))
        except ValueError:
            if config.get("userdict"):
                load_userdict(config["userdict"])
        return super().load(config, model_storage, resource, execution_context, **kwargs)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Tokenizes the attribute text; no whitespace tokens."""
        text = message.get(attribute) or ""
        tokens = [Token(word, start) for word, start in segment(text)]
        return self._apply_token_pattern(tokens)


def load_userdict_text(content: str) -> None:
    """Loads user-dictionary lines (word [freq] [tag]) once per distinct content."""
    import jieba

    key = f"text:{hash(content)}"
    with _lock:
        if key in _loaded:
            return
        for line in content.splitlines():
            parts = line.strip().split()
            if not parts:
                continue
            freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            tag = parts[2] if len(parts) > 2 else None
            jieba.add_word(parts[0], freq, tag)
        _loaded.add(key)
