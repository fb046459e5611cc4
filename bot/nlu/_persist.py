"""Storing the small scikit-learn models of the NLU components in Rasa's model storage."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

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
