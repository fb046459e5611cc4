"""A policy question that names an order is about that order.

``faq/*`` answers the shop's general rules ("退款一般几天到"); the order topics answer from the
customer's own order. "2025061800002 能退款吗 退的话多久到" names an order, so it belongs to
the ``refund`` topic whatever the response selector matched: the customer is then verified
and told about *that* order (and the general timing comes with the answer). A rule rather
than more data, because the boundary is the presence of an order number, which the entity
rules already find exactly.
"""

from __future__ import annotations

from typing import Any

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
)
from rasa.shared.nlu.training_data.message import Message

FAQ = "faq"
ORDER_ID = "order_id"
# FAQ key -> the order topic that answers the same question for one order (goods missing from a
# parcel are no return: "2025061800005 少发了一个东西" keeps the after-sales answer, 补发 or refund)
ORDER_TOPIC_OF_FAQ: dict[str, str] = {
    "faq/refund_time": "refund",
    "faq/return_policy": "return_exchange",
    "faq/change_size": "return_exchange",
    "faq/return_shipping": "return_exchange",
    "faq/delivery_time": "logistics",
    "faq/remote_delivery": "logistics",
    "faq/special_invoice": "invoice",
    "faq/invoice_reissue": "invoice",
}


def selected_key(message: Message) -> str | None:
    selector = ((message.get("response_selector") or {}).get(FAQ) or {}).get("response") or {}
    return selector.get("intent_response_key")


def own_order_topic(intent: str | None, faq_key: str | None, entity_types: list[str]) -> str | None:
    """The order topic a policy question naming an order belongs to, or None."""
    if intent != FAQ or ORDER_ID not in entity_types:
        return None
    return ORDER_TOPIC_OF_FAQ.get(faq_key or "")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class OwnOrderResolver(GraphComponent):
    """Moves a ``faq`` message that names an order to that FAQ's order topic."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """No options."""
        return {}

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext) -> OwnOrderResolver:
        """Creates the component."""
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        """Re-labels the intent where the message names an order; everything else is kept."""
        for message in messages:
            intent = message.get(INTENT) or {}
            types = [e.get(ENTITY_ATTRIBUTE_TYPE) for e in message.get(ENTITIES) or []]
            topic = own_order_topic(intent.get(INTENT_NAME_KEY), selected_key(message), types)
            if topic:
                message.set(INTENT, {INTENT_NAME_KEY: topic,
                                     PREDICTED_CONFIDENCE_KEY: intent.get(PREDICTED_CONFIDENCE_KEY)},
                            add_to_output=True)
        return messages
