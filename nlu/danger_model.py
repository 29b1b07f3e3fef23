"""Urgency as a learned signal: which danger a message describes, and whether it is happening now.

The rules of `bot.urgency` know the words someone wrote down; residents have more ("火星子",
"往下一沉", a dog called by its breed, 煤汽 for 煤气). This component learns the dangers from
examples: the training data's blocks marked `metadata: {danger: <kind>}` (or `none`), and for
every other example the rules' own verdict, so the model starts where the rules are and
generalises from there. Its features are the normalised text's characters and its pinyin, so a
homophone typo looks like the word it stands for. Where config.yml asks for it, it also reads
what the sentence means (`nlu.sentence_meaning`). Naive Bayes over the characters' counts
(`nlu.char_counts`) is weighed beside them.

A second model learns the danger's **modality** from blocks marked `metadata: {modality: past |
feared | asked}` against the dangers happening now: "上次着火以后…" is over, "万一着火…" is a
fear, "燃气泄漏打什么电话" a question; none of them needs 119 now. An example of an intent that is
no report in which the rules see a danger ("新闻说外地有小区燃气爆炸") teaches the same: `mentioned`.

Both land in the parse as `urgency`: {danger, danger_confidence, modality, modality_confidence};
`bot.decision.decide` combines them with the rules.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

import numpy as np
import scipy.sparse
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, INTENT, METADATA, METADATA_EXAMPLE, METADATA_INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

import bot.normalize
import bot.place_names
import bot.taxonomy
import bot.urgency
from bot.normalize import pinyin
from bot.place_names import names_as_places
from bot.taxonomy import category_for_intent
from bot.urgency import DANGER_BY_KIND, NO_DANGER, NOW, scan
from nlu import char_counts, logistic
import nlu.sentence_meaning
from nlu.sentence_meaning import DIMENSIONS, weighted
from nlu.stored_model import StoredModel
from nlu.tfidf import features

# scikit-learn's default tolerance (1e-4) fits for longer and decides no held-out example of make
# crossval differently (docs/benchmarks.md)
TOLERANCE = 1e-2
MENTIONED = "mentioned"  # a danger named in a message that reports none
URGENCY = "urgency"


def own_metadata(message: Message) -> Dict[str, Any]:
    """The example's metadata: its block's, and its own over it."""
    metadata = message.get(METADATA) or {}
    return {**(metadata.get(METADATA_INTENT) or {}), **(metadata.get(METADATA_EXAMPLE) or {})}


def labels_of(message: Message) -> tuple[Optional[str], Optional[str]]:
    """(danger kind or "none", modality or None) the example teaches: its block's metadata (or
    its own), else the rules' verdict. A danger the rules see in an example that is no report
    (news from elsewhere, a joke, a thank-you) is only mentioned: not happening to the writer now."""
    meta = own_metadata(message)
    text = message.get(TEXT) or ""
    modality = meta.get("modality")
    if modality:
        return NO_DANGER, str(modality)
    danger = meta.get("danger")
    if danger and danger != NO_DANGER and danger not in DANGER_BY_KIND:
        # a kind of no rule: the model would learn a danger the bot has no advice or number for
        raise ValueError(f"训练数据的 danger: {danger} 不是已知的危险（{' '.join(sorted(DANGER_BY_KIND))} "
                         f"或 {NO_DANGER}）：{text}")
    if danger:
        return str(danger), (NOW if danger != NO_DANGER else None)
    found, set_aside = scan(text)
    if category_for_intent(message.get(INTENT) or "") is None:
        # a danger named outside a report, happening or set aside by the rules (news from
        # elsewhere, a dream): only mentioned
        return (NO_DANGER, MENTIONED) if found is not None or set_aside else (NO_DANGER, None)
    return (found.kind, NOW) if found is not None else (NO_DANGER, None)


class _Features:
    """Characters and pinyin syllables of a text, TF-IDF weighted."""

    def __init__(self) -> None:
        self.chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1)
        self.sounds = TfidfVectorizer(analyzer="word", token_pattern=r"\S+", ngram_range=(1, 2), sublinear_tf=True)

    def fit(self, texts: List[str]) -> "_Features":
        self.chars.fit(texts)
        self.sounds.fit([pinyin(t) for t in texts])
        return self


def _text_features(vectorizers: Dict[str, TfidfVectorizer], texts: List[str],
                   counted: scipy.sparse.csr_matrix) -> scipy.sparse.csr_matrix:
    """The texts' characters and sounds, their characters `counted` already (`nlu.char_counts.counts`)."""
    return scipy.sparse.hstack([features(vectorizers["chars"], texts, counted),
                                features(vectorizers["sounds"], [pinyin(t) for t in texts])]).tocsr()


def _matrix(vectorizers: Dict[str, TfidfVectorizer], texts: List[str], meaning: Optional[np.ndarray],
            counted: scipy.sparse.csr_matrix) -> scipy.sparse.csr_matrix:
    """The texts' features as the classifiers read a message: the text's, then the meaning's."""
    x = _text_features(vectorizers, texts, counted)
    return x if meaning is None else scipy.sparse.hstack([x, scipy.sparse.csr_matrix(meaning)]).tocsr()


def train_models(texts: List[str], meaning: Optional[np.ndarray], dangers: List[str],
                 modalities: List[Optional[str]], C: float, danger_weight: float,
                 counts_alpha: Optional[float] = None) -> Dict[str, Any]:
    """The vectorizers and the classifiers, from texts (and their scaled sentence embeddings,
    or None) and their labels. A danger example weighs `danger_weight` times a message without
    one: dangers are few among the examples. With `counts_alpha`, naive Bayes over the
    characters' counts for the danger too."""
    features = _Features().fit(texts)
    model: Dict[str, Any] = {"chars": features.chars, "sounds": features.sounds}
    counted = char_counts.counts(features.chars, texts)
    # newton-cg keeps float32 features as they are: each of its many products over them reads
    # half the bytes, and it stops near the same optimum
    text = _text_features(model, texts, counted).astype(np.float32)
    dense = (meaning if meaning is not None else np.zeros((len(texts), 0))).astype(np.float32)
    weights = {kind: (1.0 if kind == NO_DANGER else danger_weight) for kind in set(dangers)}
    model["danger"] = _widened(logistic.fit(text, dense, dangers, C, TOLERANCE, 2000, weights))
    if counts_alpha is not None:
        model["danger_counts"] = char_counts.fit(counted, dangers, counts_alpha)
    with_modality = [i for i, m in enumerate(modalities) if m]
    if len({modalities[i] for i in with_modality}) > 1:
        model["modality"] = _widened(logistic.fit(text[with_modality], dense[with_modality],
                                                  [modalities[i] for i in with_modality], C, TOLERANCE, 2000,
                                                  "balanced"))
    return model


def _widened(classifier: LogisticRegression) -> LogisticRegression:
    """The classifier with float64 weights, as a message's features are: scipy would otherwise
    convert the whole weight matrix at every message."""
    classifier.coef_ = classifier.coef_.astype(np.float64)
    classifier.intercept_ = classifier.intercept_.astype(np.float64)
    return classifier


def predict(model: Dict[str, Any], texts: List[str], meaning: Optional[np.ndarray],
            counts_weight: float = 0.0) -> List[Dict[str, Any]]:
    """For each text (and its scaled sentence embedding, as in training): the likeliest danger
    other than none, how likely any danger is, and the modality. The characters' counts move the
    danger's log-probabilities by `counts_weight` times their log-likelihoods."""
    counted = char_counts.counts(model["chars"], texts)  # once, for the features and naive Bayes
    x = _matrix(model, texts, meaning, counted)
    out = []
    danger_p = model["danger"].predict_proba(x)
    if counts_weight and "danger_counts" in model:
        scores = np.log(np.maximum(danger_p, 1e-12)) + counts_weight * char_counts.log_likelihoods(
            model["danger_counts"], counted)
        danger_p = np.exp(scores - scores.max(axis=1, keepdims=True))
        danger_p /= danger_p.sum(axis=1, keepdims=True)
    classes = list(model["danger"].classes_)
    modality_p = model["modality"].predict_proba(x) if "modality" in model else None
    for row, probabilities in enumerate(danger_p):
        # whether there is a danger at all is one question (all dangers together against none);
        # which one, another: a message between two dangers is still urgent
        ranked = sorted((p, c) for c, p in zip(classes, probabilities) if c != NO_DANGER)
        kind = ranked[-1][1] if ranked else NO_DANGER
        any_danger = 1.0 - float(probabilities[classes.index(NO_DANGER)]) if NO_DANGER in classes else 1.0
        result = {"danger": kind, "danger_confidence": any_danger, "modality": NOW, "modality_confidence": 1.0}
        if modality_p is not None:
            best = int(np.argmax(modality_p[row]))
            result["modality"] = str(model["modality"].classes_[best])
            result["modality_confidence"] = float(modality_p[row][best])
        out.append(result)
    return out


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class DangerModel(StoredModel):
    """Adds `urgency` (the learned danger and its modality) to every parse."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # meaning_weight: the sentence embedding's scale beside the TF-IDF features (0: not read,
        # as config.yml has it). 2.0, as make crossval weighed it, is what archives trained before
        # config.yml said 0 were trained with: they store no value, and Rasa fills it from here.
        # counts_weight, counts_alpha: naive Bayes over the characters' counts beside them (0: not
        # read), as make crossval weighed it: the urgent recall and precision at every bar a
        # little higher from 0.01 to 0.2
        return {"C": 10.0, "danger_weight": 10.0, "meaning_weight": 2.0, "counts_weight": 0.1, "counts_alpha": 0.3}

    # the labels are the rules' verdicts: new rules, new labels; the texts read names as places
    learns_from = (bot.normalize, bot.urgency, bot.taxonomy, bot.place_names, nlu.sentence_meaning, char_counts,
                   logistic)
    kinds = {"chars": "TfidfVectorizer", "sounds": "TfidfVectorizer", "danger": "LogisticRegression",
             "danger_counts": "ComplementNB", "modality": "LogisticRegression"}

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        labels = [labels_of(m) for m in examples]
        if len({danger for danger, _ in labels}) < 2:
            return self._resource
        meaning = weighted(examples, self._config["meaning_weight"])
        self._model = train_models([m.get(TEXT) for m in examples], meaning, [d for d, _ in labels],
                                   [m for _, m in labels], self._config["C"], self._config["danger_weight"],
                                   self._config["counts_alpha"] if self._config["counts_weight"] else None)
        return self._write()

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None:
            return messages
        with_text = [m for m in messages if m.get(TEXT)]
        if with_text:
            meaning = weighted(with_text, self._config["meaning_weight"])
            # a compound's name is read as 小区 by the character features: 火星花园 names no spark (the
            # location extractor ran before; a sentence embedding, if one was made, saw the name)
            texts = [names_as_places(m.get(TEXT), m.get(ENTITIES)) for m in with_text]
            results = predict(self._model, texts, meaning, self._config["counts_weight"])
            for message, result in zip(with_text, results):
                message.set(URGENCY, result, add_to_output=True)
        return messages

    def _widths(self) -> Dict[Text, int]:
        width = len(self._model["chars"].vocabulary_) + len(self._model["sounds"].vocabulary_)
        width += DIMENSIONS if self._config["meaning_weight"] else 0
        return {name: width for name in ("danger", "modality") if name != "modality" or "modality" in self._model}

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
