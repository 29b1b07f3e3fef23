"""Rasa NLU component that adds compound/building/unit/room entities to each message.

The compound names are the org directory's, read from the database (`DATABASE_URL`) while the
bot runs, so an imported directory needs no retraining; the training data's `compound` lookup
table is kept in the model as the names to use until the directory has any.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot import org
from bot.db import database_url, shared_engine
from bot.locations import DirectoryLocations

COMPOUND_LOOKUP = "compound"
NAMES_FILE = "compound_names.json"


def directory_names() -> list[str]:
    """Every compound name and alias in the org directory, as the live bot reads them."""
    url = make_url(database_url())
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return []  # no directory yet, and connecting would create an empty database file
    with Session(shared_engine(), future=True) as session:
        return org.compound_names(session)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class LocationExtractor(GraphComponent, EntityExtractorMixin):
    """Wraps `bot.locations.DirectoryLocations`: the directory's names, else the lookup table's."""

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 compound_names: Optional[List[Text]] = None) -> None:
        self._config = config
        self._storage = model_storage
        self._resource = resource
        self._locations = DirectoryLocations(directory_names, fallback=compound_names or [])

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> LocationExtractor:
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> LocationExtractor:
        with model_storage.read_from(resource) as directory:
            names = json.loads((directory / NAMES_FILE).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, names)

    def train(self, training_data: TrainingData) -> Resource:
        names = [str(element)
                 for table in training_data.lookup_tables if table["name"] == COMPOUND_LOOKUP
                 for element in table["elements"]]
        self._locations = DirectoryLocations(directory_names, fallback=names)
        with self._storage.write_to(self._resource) as directory:
            (directory / NAMES_FILE).write_text(json.dumps(names, ensure_ascii=False),
                                                encoding="utf-8")
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            entities = [
                {"entity": f.field, "start": f.start, "end": f.end, "value": f.value,
                 "confidence": 1.0, "extractor": self.__class__.__name__}
                for f in self._locations.extract(text)
            ]
            message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
        return messages
