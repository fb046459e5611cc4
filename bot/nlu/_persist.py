"""Storing the small scikit-learn models of the NLU components in Rasa's model storage."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, ClassVar

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

from bot.nlu._fingerprint import files_fingerprint

logger = logging.getLogger(__name__)


def save_model(storage: ModelStorage, resource: Resource, filename: str, model: Any) -> None:
    import joblib

    with storage.write_to(resource) as directory:
        joblib.dump(model, Path(directory) / filename)


def load_model(storage: ModelStorage, resource: Resource, filename: str) -> Any | None:
    """The stored model, or None when the component was trained without one."""
    try:
        with storage.read_from(resource) as directory:
            path = Path(directory) / filename
            if path.exists():
                import joblib

                return joblib.load(path)
    except ValueError:
        logger.debug("no %s stored for %s", filename, resource.name)
    return None


class StoredModelComponent(GraphComponent):
    """A pipeline component with an optional small model kept in Rasa's model storage.

    Subclasses name the file (``MODEL_FILE``) and any resource files whose change means
    retraining (``FINGERPRINT_FILES``); their module and the normaliser always count.
    Without a stored model the component runs on its rules alone."""

    MODEL_FILE: ClassVar[str]
    FINGERPRINT_FILES: ClassVar[tuple[Path, ...]] = ()

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage,
                 resource: Resource, model: Any = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Retrain when the component's code, its resources or the normaliser change."""
        module = Path(sys.modules[cls.__module__].__file__ or "")
        return files_fingerprint(module, *cls.FINGERPRINT_FILES, module.parent / "normalizer.py")

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext) -> StoredModelComponent:
        """Untrained: rules only until trained."""
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> StoredModelComponent:
        """With the stored model, if training produced one."""
        return cls(config, model_storage, resource, load_model(model_storage, resource, cls.MODEL_FILE))

    def store(self, model: Any) -> None:
        """Keep ``model`` as this component's trained state, in memory and in storage."""
        self._model = model
        save_model(self._storage, self._resource, self.MODEL_FILE, model)
