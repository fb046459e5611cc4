"""A dialogue policy that hands angry customers to a human before anything else.

Anger is a property of the *message* (the `emotion` field the NLU pipeline adds to every
parse result), not of an intent, so rules and stories cannot express it without copying
every intent twice. This policy reads the field from the latest user message and predicts
the handoff action with full confidence; its priority sits above RulePolicy's so that an
angry "退款怎么还没到!!" reaches an agent instead of the refund flow.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_UNLIKELY_INTENT_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

HANDOFF_ACTION = "action_handoff"
ANGRY = "angry"

# Actions that run between a user message and the bot's first real decision; they do not
# count as "the bot already answered this message".
_TRANSPARENT_ACTIONS = {ACTION_LISTEN_NAME, ACTION_UNLIKELY_INTENT_NAME, "action_extract_slots"}


def is_angry(parse_data: dict[str, Any] | None) -> bool:
    """Whether a parse result carries the anger signal set by `bot.nlu.anger`."""
    emotion = (parse_data or {}).get("emotion") or {}
    return isinstance(emotion, dict) and emotion.get("name") == ANGRY


def awaiting_first_response(tracker: DialogueStateTracker) -> bool:
    """True right after a user message, before the bot has run any action for it.

    The policy must fire once per angry message: after `action_handoff` ran, the usual
    policies predict `action_listen`.
    """
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return True
        if isinstance(event, ActionExecuted) and event.action_name not in _TRANSPARENT_ACTIONS:
            return False
    return False


def should_hand_off(tracker: DialogueStateTracker) -> bool:
    """The whole decision, kept apart from Rasa's plumbing so it is tested directly."""
    if not awaiting_first_response(tracker):
        return False
    return is_angry(tracker.latest_message.parse_data if tracker.latest_message else None)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class HandoffPolicy(Policy):
    """Predicts `action_handoff` after an angry message; abstains otherwise."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # Above RulePolicy (4): an angry message must not be answered by a rule.
        return {"priority": 6, "handoff_action": HANDOFF_ACTION}

    def train(
        self,
        training_trackers: list[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        action = self.config["handoff_action"]
        if action in domain.action_names_or_texts and should_hand_off(tracker):
            probabilities[domain.index_for_action(action)] = 1.0
            # An active form's happy-path prediction is a "no user" prediction, which the
            # ensemble lets overrule everything else; flag ours the same way so that priority
            # decides and an angry customer is not asked for a phone tail again.
            return self._prediction(probabilities, is_no_user_prediction=True)
        return self._prediction(probabilities)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> HandoffPolicy:
        """Nothing was persisted: the policy is pure logic over the tracker."""
        return cls(config, model_storage, resource, execution_context)
