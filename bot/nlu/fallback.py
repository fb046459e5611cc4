"""Fallback that does not ask a customer to rephrase when two *sibling* intents tie.

Rasa's FallbackClassifier predicts ``nlu_fallback`` when the top intent is below a threshold
or the top two are close. "我的订单2025061800004到哪了" splits almost evenly between
``order_status`` and ``logistics``; both start the same verified order lookup, so asking the
customer to rephrase is worse than taking the top one. Sibling intents therefore count as
one group for both checks: the group's summed confidence meets the threshold, and the
ambiguity margin is measured against the best intent outside the group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.training_data.message import Message

DEFAULT_SIBLINGS: tuple[tuple[str, ...], ...] = (
    ("order_status", "logistics"),
    ("refund", "return_exchange"),
)


def group_of(intent: str, groups: Iterable[Sequence[str]]) -> frozenset[str]:
    for group in groups:
        if intent in group:
            return frozenset(group)
    return frozenset((intent,))


def should_fall_back(
    ranking: Sequence[tuple[str, float]],
    threshold: float,
    ambiguity: float,
    groups: Iterable[Sequence[str]] = DEFAULT_SIBLINGS,
) -> bool:
    """Decide fallback from the classifier's ranking (best first, ``nlu_fallback`` excluded)."""
    if not ranking:
        return True
    groups = list(groups)
    top_name, top_conf = ranking[0]
    siblings = group_of(top_name, groups)
    group_conf = top_conf + sum(c for n, c in ranking[1:] if n in siblings)
    if group_conf < threshold:
        return True
    rival = next((c for n, c in ranking[1:] if n not in siblings), None)
    return rival is not None and top_conf - rival < ambiguity


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class SiblingAwareFallbackClassifier(FallbackClassifier):
    """FallbackClassifier with sibling intent groups (config key ``siblings``)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **FallbackClassifier.get_default_config(),
            "siblings": [list(g) for g in DEFAULT_SIBLINGS],
        }

    def _should_fallback(self, message: Message) -> bool:
        ranking = [
            (str(r.get("name")), float(r.get("confidence") or 0.0))
            for r in message.data.get("intent_ranking") or []
        ]
        if not ranking:
            intent = message.data.get("intent") or {}
            ranking = [(str(intent.get("name")), float(intent.get("confidence") or 0.0))]
        return should_fall_back(
            ranking,
            self.component_config["threshold"],
            self.component_config["ambiguity_threshold"],
            self.component_config.get("siblings") or (),
        )
