"""Out-of-scope gate: is the message like anything the shop's training data covers?

DIET's softmax confidence says which known intent fits best, not whether any fits: "帮我订
张去上海的火车票" (订, 票) can get 0.9 for an order intent. The gate therefore measures the
message's nearest-neighbour similarity to the in-scope training examples (character
n-gram TF-IDF, cosine), fitted at training time and stored with the model:

* best in-scope similarity below ``threshold``: nothing like it was ever trained, so the
  intent becomes ``out_of_scope``;
* the nearest out-of-scope example is clearly closer than the nearest in-scope one
  (by ``margin``, at least ``oos_min_similarity``): also ``out_of_scope``.

It never overrides a message carrying an ``order_id``/``phone_tail`` (a real order is in
scope however it is worded), a human request, or a very short message the classifier is
confident about ("嗯", "好的", "88" have few n-grams to compare). ``nlu_fallback`` and
``out_of_scope`` from the classifier stay as they are. Every parse carries
``"scope": {"name": "in"|"out", "similarity": s_in, "oos_similarity": s_oos}`` (the gate's
own view), so thresholds can be re-tuned from parse logs.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_TYPE,
    INTENT,
    INTENT_NAME_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu._fingerprint import files_fingerprint
from bot.nlu._persist import load_model, save_model
from bot.nlu.human_request import HUMAN, HUMAN_REQUEST
from bot.nlu.normalizer import NORMALIZED_TEXT, ORIGINAL_TEXT, normalize
from bot.nlu.topic_cues import EMAIL

logger = logging.getLogger(__name__)

SCOPE = "scope"
OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
MODEL_FILE = "oos_gate.joblib"
PROTECTED_ENTITIES = frozenset({"order_id", "phone_tail"})


class NeighbourIndex:
    """Char n-gram TF-IDF vectors of the training examples, split in- and out-of-scope."""

    def __init__(self, ngram_range: tuple[int, int] = (1, 3)) -> None:
        """Untrained index."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=tuple(ngram_range),
                                          sublinear_tf=True)
        self.in_scope: Any = None
        self.out_scope: Any = None

    def fit(self, texts: list[str], intents: list[str]) -> NeighbourIndex:
        """Fits the vocabulary on all examples; keeps the L2-normalised rows."""
        matrix = self.vectorizer.fit_transform([normalize(t) for t in texts])
        oos = np.array([i == OUT_OF_SCOPE for i in intents])
        self.in_scope = matrix[np.flatnonzero(~oos)]
        self.out_scope = matrix[np.flatnonzero(oos)]
        return self

    def similarities(self, texts: list[str]) -> list[tuple[float, float]]:
        """(best in-scope cosine, best out-of-scope cosine) per text."""
        if not texts:
            return []
        vectors = self.vectorizer.transform([normalize(t) for t in texts])
        best_in = _row_max(vectors @ self.in_scope.T, len(texts))
        best_out = _row_max(vectors @ self.out_scope.T, len(texts))
        return [(float(a), float(b)) for a, b in zip(best_in, best_out, strict=True)]


def _row_max(matrix: Any, rows: int) -> np.ndarray:
    if matrix.shape[1] == 0:
        return np.zeros(rows)
    return np.asarray(matrix.max(axis=1).todense()).ravel()


_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_LATIN_ONLY = re.compile(r"^[a-z ]+$")


def keyboard_mash(text: str) -> bool:
    """Latin letters typed at random ("hjkhjkhjk", "qwpoeiruty", "zxmnbvcxz lll"): every word
    of five or more letters lies on one keyboard row or has no vowel, and no word is shorter
    than three letters unless it is a repeated letter. Such a message is not understood, and
    must count as a misunderstanding rather than be matched to the nearest short intent."""
    t = (text or "").strip().lower()
    if not _LATIN_ONLY.match(t):
        return False
    words = t.split()
    long_words = [w for w in words if len(w) >= 5]
    if not long_words:
        return False

    def one_row(word: str) -> bool:
        return any(set(word) <= set(row) for row in _KEYBOARD_ROWS)

    def weak(word: str) -> bool:
        return one_row(word) or not re.search(r"[aeiou]", word)

    def strong(word: str) -> bool:  # "pretty" lies on one row too; a mash is longer or vowel-less
        return (one_row(word) and len(word) >= 7) or not re.search(r"[aeiou]", word) or bool(
            re.search(r"(.{2,4})\1", word))

    return (all(weak(w) for w in long_words) and any(strong(w) for w in long_words)
            and all(len(w) >= 3 or len(set(w)) == 1 for w in words))


def gate_says_out(s_in: float, s_oos: float, config: dict[str, Any]) -> bool:
    """The gate's decision from the two similarities alone."""
    if s_in < config["threshold"]:
        return True
    return s_oos >= config["oos_min_similarity"] and s_oos - s_in >= config["margin"]


def exempt(message: Message, config: dict[str, Any]) -> bool:
    """Messages the gate must leave alone (see module docstring)."""
    intent = message.get(INTENT) or {}
    if intent.get(INTENT_NAME_KEY) in (None, OUT_OF_SCOPE, FALLBACK):
        return True
    if any(e.get(ENTITY_ATTRIBUTE_TYPE) in PROTECTED_ENTITIES for e in message.get(ENTITIES) or []):
        return True
    if (message.get(HUMAN_REQUEST) or {}).get("name") == HUMAN:
        return True
    text = message.get(NORMALIZED_TEXT) or normalize(message.get(TEXT) or "")
    if EMAIL.search(text):  # an invoice's address: the shop's business
        return True
    confidence = float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
    return len(text.replace(" ", "")) <= config["short_length"] and (
        confidence >= config["short_confidence"])


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class OutOfScopeGate(GraphComponent):
    """Turns the intent into ``out_of_scope`` when the message is unlike the in-scope data."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Thresholds tuned on tests/data/nlu_dev.tsv and heldout_dev.tsv (see config.yml)."""
        return {
            "threshold": 0.1,
            "margin": 0.15,
            "oos_min_similarity": 0.35,
            "short_length": 3,
            "short_confidence": 0.5,
            "ngram_range": [1, 3],
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage,
                 resource: Resource, index: NeighbourIndex | None = None) -> None:
        """Holds the neighbour index (none: the gate is off)."""
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._index = index

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Retrain when the gate or the normaliser changes."""
        return files_fingerprint(__file__, Path(__file__).parent / "normalizer.py")

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext) -> OutOfScopeGate:
        """Untrained gate (passes everything until trained)."""
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Indexes the training examples; needs in-scope examples to mean anything."""
        texts, intents = [], []
        for message in training_data.intent_examples:
            text = message.get(ORIGINAL_TEXT) or message.get(TEXT)
            if text:
                texts.append(text)
                intents.append(str(message.get(INTENT)))
        if not any(i != OUT_OF_SCOPE for i in intents):
            logger.info("OutOfScopeGate: no in-scope examples; the gate is off.")
            return self._resource
        self._index = NeighbourIndex(tuple(self._config["ngram_range"])).fit(texts, intents)
        save_model(self._storage, self._resource, MODEL_FILE, self._index)
        return self._resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> OutOfScopeGate:
        """Loads the index; without one the gate passes everything."""
        index = load_model(model_storage, resource, MODEL_FILE)
        return cls(config, model_storage, resource, index)

    def process(self, messages: list[Message]) -> list[Message]:
        """Adds ``scope``; overrides the intent where the gate says out of scope."""
        if self._index is None:
            return messages
        todo = [m for m in messages if (m.get(ORIGINAL_TEXT) or m.get(TEXT))]
        sims = self._index.similarities([m.get(ORIGINAL_TEXT) or m.get(TEXT) for m in todo])
        for message, (s_in, s_oos) in zip(todo, sims, strict=True):
            if keyboard_mash(message.get(ORIGINAL_TEXT) or message.get(TEXT) or ""):
                message.set(INTENT, {INTENT_NAME_KEY: FALLBACK, PREDICTED_CONFIDENCE_KEY: 1.0},
                            add_to_output=True)
                continue
            out = gate_says_out(s_in, s_oos, self._config)
            message.set(SCOPE, {"name": "out" if out else "in", "similarity": round(s_in, 4),
                                "oos_similarity": round(s_oos, 4)}, add_to_output=True)
            if out and not exempt(message, self._config):
                message.set(INTENT, {INTENT_NAME_KEY: OUT_OF_SCOPE,
                                     PREDICTED_CONFIDENCE_KEY: round(max(1.0 - s_in, s_oos), 4)},
                            add_to_output=True)
        return messages
