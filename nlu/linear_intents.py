"""The intent classifier: TF-IDF features of the text and a linear SVM.

Residents' reports are short and keyword-rich, and the classic text classifier holds on them:
character 1-3-grams (robust to segmentation errors and typos), jieba words, and the text's
pinyin (a homophone typo, 燃汽 or 电悌, sounds like its word), the characters a message begins
and ends with; and, where config.yml asks for it, what the sentence means
(`nlu.sentence_meaning`: the same problem in other words, at three quarters of a parse's time).
Where a character stands says what the whole text's n-grams cannot: a story that ends
"后来物业连夜换了" or "早灭了" is over, one that ends "快来看看" is a report. Beside the SVM,
naive Bayes counts the text's characters (`nlu.char_counts`), once for the intents and once for
report or not, which moves all report intents together. Their scores, added, become
an intent ranking by a softmax with a temperature, so that `bot.decision` reads confidences as
it would from any Rasa classifier. DIET was blended with it until cross-validation showed it
added nothing the SVM did not already know (docs/benchmarks.md), at three quarters of the
training time.

The trained vectorizers and SVM are stored as plain data (nlu/linear_store.py): loading a
model never runs code its files name.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

import numpy as np
import scipy.sparse
import scipy.special
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

import bot.normalize
import bot.taxonomy
from bot.decision import REPORT_SHARE, report_likelihood
from bot.normalize import pinyin
from bot.taxonomy import category_for_intent
from bot.urgency import rule_danger
from nlu import char_counts
import nlu.sentence_meaning
from nlu.sentence_meaning import DIMENSIONS, weighted
from nlu.stored_model import StoredModel
from nlu.tfidf import features


REPORT, NOT_REPORT = "report", "not_report"  # the labels of naive Bayes for report or not
_TRAILING = re.compile(r"[\W_]+$")  # the punctuation and spaces a message ends with
_WORDLESS = re.compile(r"[\W_]+")
_PAUSE = r"(?<=[\s，,。.!！？?~～；;、…])"  # right after a space or a punctuation mark
# "想问下食堂周末开不开？顺便说一下我家暖气不热了": a question, then a report after a word that
# turns to another matter. In the whole text the question outweighs the report; read alone, what
# follows the turn is a sure report, and a report must not be lost behind a question. 另外 before
# 那, 这, 几 … is "the other" (另外那栋楼), no turn; before 一 or 两 it may be either (另外一楼的灯).
_TURN = re.compile(rf"{_PAUSE}(?:顺便|另外(?!\s*[几那这个的些])|还有(?:个|一个|件|一件)事|对了)")
# A question is what the whole message must be, at best, for its part after such a turn to be
# read alone. Not a thank-you ("谢谢！另外水管不漏了": the news after it is often that something
# works again, which the part alone does not say as clearly), not a status question (the report
# after it is the one asked about), not talk about a danger elsewhere.
TURNED_LENGTH = 6  # the characters after the turn, at least, that are read alone
# "谢谢你们，不过暖气还是不热": thanks, then what the resident came to say, after a word that turns
# against what came before. In the whole text the thanks outweigh it; read alone, the part after
# it says whether something is wrong now ("不过水已经来了" is news, not a report). It is often the
# thanked-for matter again, named only before the turn ("谢谢修好了电梯，可是又坏了"): which report
# it is, the part and the whole message decide together. 但是, 可是, 不过 turn wherever they stand
# (voice input leaves the comma out: "谢谢你们不过暖气还是不热"); 但, 只是, 就是 and 结果 only after
# a pause; 但 not before 愿 or 凡 (但愿, 但凡), 不过 not before 来 (忙不过来).
_CONTRAST = re.compile(rf"但是|可是|只不过|不过(?!来)|可惜|然而|{_PAUSE}(?:但(?![愿凡])|只是|就是|结果)")
CONTRASTED_LENGTH = 3  # "可是又漏了": the trouble again says little, and says it all
# The turns each intent a whole message may have at best: (the words that turn, the least that
# is read alone after them, whether the whole message names the report's subject too).
_TURNS = {"ask_info": (_TURN, TURNED_LENGTH, False), "thank": (_CONTRAST, CONTRASTED_LENGTH, True)}


def _ends(text: Text, length: int) -> tuple[Text, Text]:
    """The first and the last `length` characters of the text, the trailing punctuation aside."""
    return text[:length], _TRAILING.sub("", text)[-length:]


def _given_tokens(tokens: List[Text]) -> List[Text]:
    """The analyzer of the word vectorizer: the jieba tokens the pipeline already made."""
    return tokens


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(StoredModel, IntentClassifier):
    """Ranks the intents by a linear SVM over the text's characters, words and sounds."""

    analyzers = {"given_tokens": _given_tokens}
    kinds = {**dict.fromkeys(("chars", "words", "sounds", "heads", "tails"), "TfidfVectorizer"), "svm": "LinearSVC",
             "counts": "ComplementNB", "reports": "ComplementNB"}
    learns_from = (bot.normalize, bot.taxonomy, nlu.sentence_meaning, char_counts)

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # temperature: the softmax's over the SVM's margins (lower: surer confidences).
        # meaning_weight: the sentence embedding's scale beside the TF-IDF features (0: not read,
        # as config.yml has it). 3.0, as make crossval weighed it, is what archives trained before
        # config.yml said 0 were trained with: they store no value, and Rasa fills it from here.
        # counts_weight: the naive Bayes log-likelihoods' scale beside the SVM's margins (0: not
        # read); counts_alpha: its smoothing. Both as make crossval weighed them: any weight from
        # 0.0125 to 0.05 and alpha from 0.1 to 0.3 erred about as little. report_weight: the
        # scale of naive Bayes' log-odds of a report (any report intent against the rest), added
        # to every report intent's score (0: not read); from 0.01 to 0.03 about as good.
        # ends_weight: the scale of the features of the first and the last `ends_length` characters
        # (0: not read); from 0.5 to 0.7 fewer talk messages filed and fewer reports missed on
        # three different splits of make crossval's folds, more at 1.0.
        # explain: also put the margins themselves in the parse (bench/threshold_sweep.py weighs
        # other temperatures on make crossval's held-out parses without training again)
        return {"C": 1.0, "temperature": 0.1, "meaning_weight": 3.0, "counts_weight": 0.025, "counts_alpha": 0.3,
                "report_weight": 0.02, "ends_weight": 0.6, "ends_length": 8, "ranking_length": 10,
                "explain": False}

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
        # liblinear shuffles the examples: a fixed seed, so that the same data trains the same model
        self._model = {"chars": chars, "words": words, "sounds": sounds,
                       "svm": LinearSVC(C=self._config["C"], random_state=0)}
        if self._config["ends_weight"]:
            for name, texts in zip(("heads", "tails"), self._ends(examples)):
                self._model[name] = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True).fit(texts)
        intents = [m.get(INTENT) for m in examples]
        counted = char_counts.counts(chars, [m.get(TEXT) for m in examples])
        self._model["svm"].fit(self._features(examples, counted), intents)
        if self._config["counts_weight"]:
            self._model["counts"] = char_counts.fit(counted, intents, self._config["counts_alpha"])
        reports = [REPORT if category_for_intent(intent) else NOT_REPORT for intent in intents]
        if self._config["report_weight"] and len(set(reports)) == 2:
            self._model["reports"] = char_counts.fit(counted, reports, self._config["counts_alpha"])
        return self._write()

    def _margins(self, messages: List[Message]) -> np.ndarray:
        """Each message's score for each intent (a row each, the SVM's classes in order)."""
        # the characters counted once, for the SVM's features and both naive Bayes models
        counted = char_counts.counts(self._model["chars"], [m.get(TEXT) or "" for m in messages])
        margins = self._model["svm"].decision_function(self._features(messages, counted))
        if margins.ndim == 1:  # two intents: scikit-learn gives the second's margin alone
            margins = np.column_stack([-margins, margins])
        counts, reports = self._model.get("counts"), self._model.get("reports")
        if counts is not None and self._config["counts_weight"]:
            margins = margins + self._config["counts_weight"] * char_counts.log_likelihoods(counts, counted)
        if reports is not None and self._config["report_weight"]:
            # the same amount on every report intent multiplies their share's odds, and leaves
            # which of them is likeliest as it was
            likelihoods = char_counts.log_likelihoods(reports, counted)
            classes = list(reports.classes_)
            log_odds = likelihoods[:, classes.index(REPORT)] - likelihoods[:, classes.index(NOT_REPORT)]
            is_report = np.array([category_for_intent(name) is not None for name in self._model["svm"].classes_])
            margins = margins + self._config["report_weight"] * np.outer(log_odds, is_report)
        return margins

    def _features(self, messages: List[Message], counted: scipy.sparse.csr_matrix) -> scipy.sparse.csr_matrix:
        """The SVM's features of the messages, their characters' `counted` already."""
        blocks = [features(self._model["chars"], [], counted),
                  features(self._model["words"], [_tokens(m) for m in messages]),
                  features(self._model["sounds"], [pinyin(m.get(TEXT) or "") for m in messages])]
        if self._reads_ends():
            for name, texts in zip(("heads", "tails"), self._ends(messages)):
                blocks.append(features(self._model[name], texts) * self._config["ends_weight"])
        meaning = weighted(messages, self._config["meaning_weight"])
        if meaning is not None:
            blocks.append(scipy.sparse.csr_matrix(meaning))
        return scipy.sparse.hstack(blocks).tocsr()

    def _reads_ends(self) -> bool:
        """Whether the SVM reads the features of the message's first and last characters."""
        return "heads" in self._model and bool(self._config["ends_weight"])

    def _widths(self) -> Dict[Text, int]:
        names = ["chars", "words", "sounds"] + (["heads", "tails"] if self._reads_ends() else [])
        meaning = DIMENSIONS if self._config["meaning_weight"] else 0
        return {"svm": sum(len(self._model[name].vocabulary_) for name in names) + meaning}

    def _ends(self, messages: List[Message]) -> tuple[List[Text], List[Text]]:
        """The messages' beginnings and their ends."""
        pairs = [_ends(m.get(TEXT) or "", self._config["ends_length"]) for m in messages]
        return [head for head, _ in pairs], [tail for _, tail in pairs]

    def process(self, messages: List[Message]) -> List[Message]:
        # nothing to read (an emoji alone, or no model): no intent, as Rasa's classifiers say it,
        # which the FallbackClassifier after it turns into nlu_fallback
        for message in messages:
            message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
            message.set("intent_ranking", [], add_to_output=True)
        messages_with_text = [m for m in messages if m.get(TEXT)]
        if self._model is None or not messages_with_text:
            return messages
        wholes = self._rank(messages_with_text)
        turned = [(message, whole, turn) for message, whole in zip(messages_with_text, wholes)
                  if _report_share(message) < REPORT_SHARE and (turn := _after_the_turn(message)) is not None]
        if turned:
            parts = [part for _, _, (part, _) in turned]
            for (message, whole, (part, names_subject)), margins in zip(turned, self._rank(parts)):
                if _report_share(part) < REPORT_SHARE:
                    continue
                if names_subject:
                    self._set_ranking(part, _reports_read_whole(margins, whole, self._config["temperature"]))
                if self._config["explain"]:  # make crossval counts what the turns decide
                    message.set("linear_turned_from", message.get(INTENT)["name"], add_to_output=True)
                for key in (INTENT, "intent_ranking", "linear_margins"):
                    if part.get(key) is not None:
                        message.set(key, part.get(key), add_to_output=True)
        return messages

    def _rank(self, messages: List[Message]) -> List[Dict[Text, float]]:
        """Puts each message's intent and intent ranking on it; each message's margins by intent."""
        margins_by_intent = []
        for message, margins in zip(messages, self._margins(messages)):
            by_intent = dict(zip(self._model["svm"].classes_, margins.tolist()))
            self._set_ranking(message, by_intent)
            margins_by_intent.append(by_intent)
        return margins_by_intent

    def _set_ranking(self, message: Message, by_intent: Dict[Text, float]) -> None:
        """Puts the intent and intent ranking the margins give on the message (and the margins,
        when asked to explain)."""
        if self._config["explain"]:
            message.set("linear_margins", by_intent, add_to_output=True)
        ranking = ranked(by_intent, self._config["temperature"], self._config["ranking_length"])
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set("intent_ranking", ranking, add_to_output=True)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


def ranked(margins: Dict[Text, float], temperature: float, length: int = 10) -> List[Dict[Text, Any]]:
    """The intent ranking the SVM's margins give: a softmax with the temperature, surest first."""
    names = list(margins)
    values = np.array([margins[name] for name in names])
    scaled = np.exp((values - values.max()) / temperature)
    confidences = scaled / scaled.sum()
    ranking = sorted(({"name": name, "confidence": float(c)} for name, c in zip(names, confidences)),
                     key=lambda item: -item["confidence"])
    return ranking[:length]


def _reports_read_whole(part: Dict[Text, float], whole: Dict[Text, float], temperature: float) -> Dict[Text, float]:
    """The margins of the part after a turn, its report intents' margins moved so that their
    share stays the part's and is shared out among them by the part's margins and the whole
    message's together (at `temperature`, the softmax's)."""
    reports = [name for name in part if category_for_intent(name)]
    if not reports:
        return dict(part)
    alone = np.array([part[name] for name in reports])
    together = alone + np.array([whole[name] for name in reports])
    # log-sum-exp of each, so that the report intents' softmax mass is what the part alone gave
    shift = temperature * (scipy.special.logsumexp(alone / temperature) - scipy.special.logsumexp(together / temperature))
    return {**part, **dict(zip(reports, (together + shift).tolist()))}


def _report_share(message: Message) -> float:
    """How likely the ranked message is a report, as `bot.decision` reads it."""
    return report_likelihood({"intent_ranking": message.get("intent_ranking")})


def _after_the_turn(message: Message) -> tuple[Message, bool] | None:
    """What the message says after it turns (to another matter: 顺便, 另外, 对了 …, after a
    question; against what came before: 不过, 可是 …, after thanks), as a message of its own with
    its words, and whether the whole message names its subject too; None when it does not turn,
    says too little after it, or names a danger before it (the rules and the danger model read
    the whole message)."""
    text = message.get(TEXT) or ""
    turns = _TURNS.get((message.get(INTENT) or {}).get("name"))
    if turns is None:
        return None
    words, length, names_subject = turns
    for turn in words.finditer(text):
        before, after = text[:turn.start()], text[turn.end():]
        if not _WORDLESS.sub("", before):
            continue  # "对了，…" opens the message: no matter before it to turn from
        if len(_WORDLESS.sub("", after)) < length or rule_danger(before) is not None:
            return None
        tokens = [token for token in message.get(TOKENS_NAMES[TEXT]) or [] if token.start >= turn.end()]
        return Message(data={TEXT: after, TOKENS_NAMES[TEXT]: tokens}), names_subject
    return None


def _tokens(message: Message) -> List[Text]:
    return [token.text for token in message.get(TOKENS_NAMES[TEXT]) or []]
