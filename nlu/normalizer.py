"""The pipeline's first component: every later one reads the text as `bot.normalize` makes it.

The message's text becomes `for_classification(text)` (simplified, half-width, no emoji or
@-mentions) for the tokenizer, the featurizers, the classifiers and the location extractor; what
the resident wrote stays in the parse as `original_text`, for the ticket and for staff.
"""
from __future__ import annotations

import hashlib
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

import bot.normalize
import bot.respell
import bot.typed_in_pinyin
from bot.normalize import for_classification
from nlu.source_fingerprint import source_fingerprint

ORIGINAL_TEXT = "original_text"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class TextNormalizer(GraphComponent):
    """Rewrites each message's text to the normalised one before the tokenizer sees it."""

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> TextNormalizer:
        # the community's words, and the words a keyboard offers for pinyin, read when the server
        # loads, not at a resident's message
        for_classification("电悌")
        for_classification("dian ti")
        return cls()

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> str:
        # the community's words, respelled where typed by sound, are part of what it does
        return source_fingerprint(bot.normalize, bot.respell, bot.typed_in_pinyin) + hashlib.sha256(
            bot.respell.VOCABULARY.read_bytes()).hexdigest()

    def _normalise(self, message: Message, keep_original: bool) -> None:
        text = message.get(TEXT)
        if not text:
            return
        normalised = for_classification(text)
        if normalised != text:
            if keep_original:
                message.set(ORIGINAL_TEXT, text, add_to_output=True)
            message.set(TEXT, normalised)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            self._normalise(message, keep_original=False)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._normalise(message, keep_original=True)
        return messages
