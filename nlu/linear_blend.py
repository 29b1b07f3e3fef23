"""A linear second opinion on DIET's intents, blended into one ranking.

TF-IDF over character 1-3-grams and jieba words with a linear SVM is the classic text
classifier: on short, keyword-rich reports it is often sharper than DIET, which in turn sees
word order and context. The component turns the SVM's scores into probabilities (a softmax
with a temperature) and averages them with DIET's ranking, so that either can outvote the
other only when it is clearly surer. It runs after DIET and before the FallbackClassifier.

The trained vectorizers and SVM are stored with skops, as Rasa stores its own scikit-learn
classifiers: loading a skops file builds only the types it was told to trust, where unpickling
would run whatever code the file names.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, List, Text

import numpy as np
import scipy.sparse
import skops.io
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

import bot.normalize
from bot.normalize import pinyin
from nlu.source_fingerprint import source_fingerprint
from nlu.stored_model import StoredModel

MODEL_FILE = "linear_blend.skops"
PICKLED_MODEL_FILE = "linear_blend.pkl"  # how models trained before skops stored it


class RetrainTheModel(RasaException):
    """A model whose linear blend is stored in a format this version does not load."""


def _given_tokens(tokens: List[Text]) -> List[Text]:
    """The analyzer of the word vectorizer: the jieba tokens the pipeline already made."""
    return tokens


def _type_name(kind: Any) -> Text:
    return f"{kind.__module__}.{kind.__qualname__}"


# What the stored model holds beyond the types skops trusts by default: the word vectorizer's
# analyzer (ours) and TF-IDF's sparse matrix of inverse document frequencies.
TRUSTED = [_type_name(_given_tokens), _type_name(scipy.sparse.csr_matrix)]


def _read(directory: Path) -> Dict[Text, Any]:
    if (directory / PICKLED_MODEL_FILE).exists():
        raise RetrainTheModel(
            f"This model was trained by an older version, which stored the linear intent blend as a "
            f"pickle ({PICKLED_MODEL_FILE}); pickles are not loaded, since loading one runs any code it "
            f"names. Train the model again (make train, or rasa train) and load the new one.")
    return skops.io.load(directory / MODEL_FILE, trusted=TRUSTED)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentBlend(StoredModel, IntentClassifier):
    """Averages DIET's intent ranking with a TF-IDF + linear SVM's."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # weight: the SVM's share of the blend; temperature: the softmax's over SVM margins.
        # explain: also put DIET's and the SVM's own rankings in the parse (make crossval weighs
        # the blend with them without training again)
        return {"C": 1.0, "weight": 0.5, "temperature": 0.1, "ranking_length": 10, "explain": False}

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> str:
        return source_fingerprint(sys.modules[__name__], bot.normalize)

    @classmethod
    def _read(cls, directory: Path) -> Dict[Text, Any]:
        return _read(directory)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(INTENT) and m.get(TEXT)]
        if not examples:
            return self._resource
        chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        words = TfidfVectorizer(analyzer=_given_tokens, sublinear_tf=True)
        # the sound of the text: a homophone typo (燃汽, 电悌) shares its syllables with the word
        sounds = TfidfVectorizer(analyzer="word", token_pattern=r"\S+", ngram_range=(1, 2), sublinear_tf=True)
        chars.fit([m.get(TEXT) for m in examples])
        words.fit([_tokens(m) for m in examples])
        sounds.fit([pinyin(m.get(TEXT)) for m in examples])
        self._model = {"chars": chars, "words": words, "sounds": sounds, "svm": LinearSVC(C=self._config["C"])}
        self._model["svm"].fit(self._features(examples), [m.get(INTENT) for m in examples])
        return self._write(lambda directory: skops.io.dump(self._model, directory / MODEL_FILE))

    def _features(self, messages: List[Message]) -> scipy.sparse.csr_matrix:
        parts = [self._model["chars"].transform([m.get(TEXT) or "" for m in messages]),
                 self._model["words"].transform([_tokens(m) for m in messages])]
        if "sounds" in self._model:  # models trained before pinyin features have none
            parts.append(self._model["sounds"].transform([pinyin(m.get(TEXT) or "") for m in messages]))
        return scipy.sparse.hstack(parts).tocsr()

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None:
            return messages
        messages_with_text = [m for m in messages if m.get(TEXT)]
        if not messages_with_text:
            return messages
        margins_of = self._model["svm"].decision_function(self._features(messages_with_text))
        for message, margins in zip(messages_with_text, margins_of):
            if self._config["explain"]:
                message.set("diet_ranking", message.get("intent_ranking") or [], add_to_output=True)
                message.set("linear_margins", dict(zip(self._model["svm"].classes_, margins.tolist())),
                            add_to_output=True)
            ranking = self._blend(message.get("intent_ranking") or [], margins)
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    def _blend(self, diet_ranking: List[Dict[Text, Any]], margins: np.ndarray) -> List[Dict[Text, Any]]:
        scaled = np.exp((margins - margins.max()) / self._config["temperature"])
        linear = dict(zip(self._model["svm"].classes_, scaled / scaled.sum()))
        diet = {item["name"]: item["confidence"] for item in diet_ranking}
        weight = self._config["weight"]
        blended = {name: weight * float(linear.get(name, 0.0)) + (1 - weight) * float(diet.get(name, 0.0))
                   for name in linear.keys() | diet.keys()}
        ranking = sorted(({"name": name, "confidence": confidence} for name, confidence in blended.items()),
                         key=lambda item: -item["confidence"])
        return ranking[:self._config["ranking_length"]]

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


def _tokens(message: Message) -> List[Text]:
    return [token.text for token in message.get(TOKENS_NAMES[TEXT]) or []]
