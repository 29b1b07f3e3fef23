"""What a message means, for the classifiers: its multilingual-e5-small sentence embedding.

The classifiers' TF-IDF features see the words a message uses. Two messages that say one thing
in different words share few of them ("电梯停在两层中间" and "电梯卡半道了"); their embeddings are
close. Where config.yml puts this component in the pipeline (and the classifiers' meaning_weight
is not 0), the intent model and the danger model read the embedding beside their TF-IDF
features. The shipped config.yml does not: `make crossval` found it worth 0.004-0.005 of
macro-F1 for three quarters of a parse's time (docs/benchmarks.md).

Only the text's first `READ` characters are embedded: the embedding's time grows with the text,
a resident would wait for it at every message, and the beginning of a message says what it is about
(the TF-IDF features read the whole of it). In cross-validation over `nlu_data/` the first 24
characters did as well as the whole text, and 16 worse.
"""
from __future__ import annotations

import hashlib
import sys
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

import bot.embeddings
from bot.embeddings import DIMENSIONS, embed
from nlu.source_fingerprint import source_fingerprint

MEANING = "sentence_meaning"  # on the message only, never in the parse (384 numbers a message)
READ = 24


class Meaning(np.ndarray):
    """One message's embedding as it rides on the message. Rasa's training fingerprints every
    example's data, printing with `str()` whatever has no `fingerprint` method: 384 floats
    formatted in decimal for each of thousands of examples. Its bytes' hash says as much."""

    def fingerprint(self) -> str:
        return hashlib.sha256(self.tobytes()).hexdigest()


def of_texts(texts: List[str]) -> np.ndarray:
    """The texts' embeddings as the classifiers read them (one row each)."""
    return embed([text[:READ] for text in texts], threads=2)


def meanings(messages: List[Message]) -> np.ndarray:
    """The messages' embeddings (one row each): the ones `SentenceMeaning` put on them, the
    others embedded now (a pipeline without it still classifies the same)."""
    missing = [m for m in messages if m.get(MEANING) is None]
    if missing:
        for message, vector in zip(missing, of_texts([m.get(TEXT) or "" for m in missing])):
            message.set(MEANING, vector.view(Meaning))
    return np.vstack([m.get(MEANING) for m in messages]) if messages else np.zeros((0, DIMENSIONS), dtype=np.float32)


def weighted(messages: List[Message], weight: float) -> Optional[np.ndarray]:
    """The messages' embeddings scaled by `weight` beside a classifier's TF-IDF features; None
    when the weight is 0 (the classifier does not read them)."""
    return meanings(messages) * weight if weight else None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceMeaning(GraphComponent):
    """Embeds each message once, for every classifier after it."""

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SentenceMeaning:
        of_texts(["你好"])  # the model mapped and warm when the server loads, not at a resident's message
        return cls()

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> str:
        return source_fingerprint(sys.modules[__name__], bot.embeddings)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        meanings([m for m in training_data.training_examples if m.get(TEXT)])
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        meanings([m for m in messages if m.get(TEXT)])
        return messages
