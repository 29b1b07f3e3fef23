"""Rasa's ResponseSelector, asked only about the messages that may be FAQ questions.

Its ranking is shown in the parse for questions only; the answer itself is `bot.faq.choose_answer`'s,
given by the turn (`bot/turn.py`). Every other message (reports, greetings, status questions: most of the traffic) skips its model, a
quarter of a parse's time.
"""
import warnings
from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY
from rasa.shared.nlu.training_data.message import Message

# Rasa's recipe validator looks for the ResponseSelector class itself, not a subclass, and would
# warn at every training that the FAQ's examples train nothing; they train this component.
warnings.filterwarnings("ignore", message="You have defined training data with examples for training a "
                                          "response selector")


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class QuestionResponseSelector(ResponseSelector):
    """Selects a FAQ response for messages whose intent is one of `question_intents`."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**ResponseSelector.get_default_config(), "question_intents": ["faq", "ask_info"]}

    def process(self, messages: List[Message]) -> List[Message]:
        asking = set(self.component_config["question_intents"])
        super().process([m for m in messages if (m.get(INTENT) or {}).get(INTENT_NAME_KEY) in asking])
        return messages
