"""The intent classifier (nlu/linear_intents.py) is stored as plain data (nlu/linear_store.py):
it loads as it was trained, and loading never runs code a model file names (a pickle would)."""
import json
from pathlib import Path

import numpy as np
import yaml

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.linear_intents import _CONTRAST, _TURN, LinearIntentClassifier, _ends, _reports_read_whole, ranked
from nlu.linear_store import ARRAYS_FILE, FITTED, SETTINGS_FILE, UnreadableModel

EXAMPLES = {"report_elevator": ["5号楼 电梯 坏了", "电梯 困人 了", "电梯 停在 三楼 不动"],
            "report_heating": ["暖气 不热", "7号楼 暖气 又 不热 了", "家里 暖气 冰凉"],
            "greet": ["你好", "你好 呀", "在吗 小助手"]}
RESOURCE = Resource("linear_intent_classifier")
# the classifier's settings as config.yml trains it (no sentence embedding), read from there
SHIPPED = next({key: value for key, value in component.items() if key != "name"}
               for component in yaml.safe_load((Path(__file__).parent.parent / "config.yml").read_text(encoding="utf-8"))
               ["pipeline"] if component["name"].endswith(".LinearIntentClassifier"))
READS_MEANING, READS_NO_MEANING = {"meaning_weight": 3.0}, {"meaning_weight": 0}


def message(text: str, intent: str | None = None) -> Message:
    """A message as the pipeline hands it on: tokenized (here at the spaces) by then, each word
    where it stands in the text."""
    words, at = [], 0
    for word in text.split():
        at = text.index(word, at)
        words.append(Token(word, at))
        at += len(word)
    tokenized = Message(data={TEXT: text, **({INTENT: intent} if intent else {})})
    tokenized.set(TOKENS_NAMES[TEXT], words)
    return tokenized


def rankings(classifier: LinearIntentClassifier) -> list:
    return [m.get("intent_ranking") for m in classifier.process([message(t) for t in ("电梯 又 坏了", "暖气 不热", "你好")])]


def load(storage: LocalModelStorage) -> LinearIntentClassifier:
    return LinearIntentClassifier.load(SHIPPED, storage, RESOURCE, ExecutionContext(GraphSchema({}), "test"))


@pytest.fixture
def storage(tmp_path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def test_a_stored_classifier_loads_and_ranks_as_the_trained_one(storage):
    trained = LinearIntentClassifier.create(SHIPPED, storage, RESOURCE, ExecutionContext(GraphSchema({}), "test"))
    trained.train(TrainingData([message(text, intent) for intent, texts in EXAMPLES.items() for text in texts]))
    assert rankings(load(storage)) == rankings(trained)
    assert [ranking[0]["name"] for ranking in rankings(trained)] == ["report_elevator", "report_heating", "greet"]
    with storage.read_from(RESOURCE) as directory:
        assert sorted(path.name for path in directory.iterdir()) == sorted([SETTINGS_FILE, ARRAYS_FILE])


def test_the_character_counts_are_stored_and_read_beside_the_svm(storage, tmp_path):
    """The naive Bayes model over the characters' counts is part of the stored model: the loaded
    classifier ranks as the trained one, which is not how the SVM alone ranks."""
    trained = LinearIntentClassifier.create(SHIPPED, storage, RESOURCE, ExecutionContext(GraphSchema({}), "test"))
    trained.train(TrainingData([message(text, intent) for intent, texts in EXAMPLES.items() for text in texts]))
    (tmp_path / "alone").mkdir()
    svm_alone = LinearIntentClassifier.create({**SHIPPED, "counts_weight": 0}, LocalModelStorage(tmp_path / "alone"), RESOURCE,
                                              ExecutionContext(GraphSchema({}), "test"))
    svm_alone.train(TrainingData([message(text, intent) for intent, texts in EXAMPLES.items() for text in texts]))
    with storage.read_from(RESOURCE) as directory:
        settings = json.loads((directory / SETTINGS_FILE).read_text(encoding="utf-8"))
        assert settings["counts"]["kind"] == settings["reports"]["kind"] == "ComplementNB"
    assert rankings(load(storage)) == rankings(trained)
    assert rankings(trained) != rankings(svm_alone)


def test_how_likely_a_report_is_moves_all_report_intents_together(storage, tmp_path):
    """Naive Bayes for report or not changes how likely a message is a report, never which
    category it is likeliest to be."""
    def trained(config: dict, folder: Path) -> LinearIntentClassifier:
        folder.mkdir()
        classifier = LinearIntentClassifier.create({**SHIPPED, **config}, LocalModelStorage(folder), RESOURCE,
                                                   ExecutionContext(GraphSchema({}), "test"))
        classifier.train(TrainingData([message(text, intent) for intent, texts in EXAMPLES.items() for text in texts]))
        return classifier

    def reports_in_order(ranking: list) -> list:
        return [item["name"] for item in ranking if item["name"].startswith("report_")]

    def share(ranking: list) -> float:
        return sum(item["confidence"] for item in ranking if item["name"].startswith("report_"))

    with_odds, without = trained({}, tmp_path / "with"), trained({"report_weight": 0}, tmp_path / "without")
    texts = ("电梯 又 坏了", "你好 暖气", "在吗 电梯", "暖气 停在 三楼")
    ranked_with = [m.get("intent_ranking") for m in with_odds.process([message(t) for t in texts])]
    ranked_without = [m.get("intent_ranking") for m in without.process([message(t) for t in texts])]
    assert [reports_in_order(r) for r in ranked_with] == [reports_in_order(r) for r in ranked_without]
    assert [round(share(r), 6) for r in ranked_with] != [round(share(r), 6) for r in ranked_without]


def test_how_a_message_begins_and_ends_is_read_as_well(storage, tmp_path):
    """A story about a lift fixed long ago uses a lift report's words; it begins and ends as the
    talk examples do, and with the features of its ends the classifier leans further to talk."""
    examples = {"report_elevator": ["电梯 坏了 快来 修", "电梯 卡住 了 快来 修", "电梯 不动 了 快来 修"],
                "chitchat": ["上次 电梯 坏了 早 修好 了", "上次 停电 了 早 修好 了", "上次 水管 漏 了 早 修好 了"],
                "greet": EXAMPLES["greet"]}

    def leaning_to_talk(config: dict, folder: Path) -> float:
        folder.mkdir()
        classifier = LinearIntentClassifier.create({**SHIPPED, **config, "explain": True}, LocalModelStorage(folder), RESOURCE,
                                                   ExecutionContext(GraphSchema({}), "test"))
        classifier.train(TrainingData([message(text, intent) for intent, texts in examples.items() for text in texts]))
        [story] = classifier.process([message("上次 说 电梯 卡住 不动 早 修好 了")])
        return story.get("linear_margins")["chitchat"] - story.get("linear_margins")["report_elevator"]

    assert _ends("上次电梯坏了，早修好了！！ ", 4) == ("上次电梯", "早修好了")
    assert leaning_to_talk({}, tmp_path / "ends") > leaning_to_talk({"ends_weight": 0}, tmp_path / "no_ends")


def test_a_classifier_of_two_intents_ranks_both(storage):
    """A site that trains only a report and a greeting still gets a ranking of both."""
    trained = LinearIntentClassifier.create(SHIPPED, storage, RESOURCE, ExecutionContext(GraphSchema({}), "test"))
    two = {intent: EXAMPLES[intent] for intent in ("report_elevator", "greet")}
    trained.train(TrainingData([message(text, intent) for intent, texts in two.items() for text in texts]))
    [elevator, hello] = trained.process([message("电梯 又 坏了"), message("你好 呀")])
    assert elevator.get(INTENT)["name"] == "report_elevator" and hello.get(INTENT)["name"] == "greet"
    assert {item["name"] for item in elevator.get("intent_ranking")} == set(two)


def trained_and_stored(storage) -> Path:
    classifier = LinearIntentClassifier.create(SHIPPED, storage, RESOURCE, ExecutionContext(GraphSchema({}), "test"))
    classifier.train(TrainingData([message(text, intent) for intent, texts in EXAMPLES.items() for text in texts]))
    with storage.read_from(RESOURCE) as directory:
        return Path(directory)


@pytest.mark.parametrize("tamper", [
    lambda settings: settings["svm"].update(kind="os.system"),  # a kind it does not build
    lambda settings: settings["words"]["params"].update(analyzer={"analyzer": "system"}),  # a function not its own
])
def test_a_stored_model_naming_anything_else_is_refused(storage, tamper):
    directory = trained_and_stored(storage)
    settings = json.loads((directory / SETTINGS_FILE).read_text(encoding="utf-8"))
    tamper(settings)
    (directory / SETTINGS_FILE).write_text(json.dumps(settings), encoding="utf-8")
    with pytest.raises(UnreadableModel, match="make train"):
        load(storage)


def test_a_model_stored_with_another_kind_under_a_name_is_refused_at_loading(storage):
    """A model from a version that kept naive Bayes where this one keeps the SVM would load and
    then fail at the first message; it is refused with "train again" instead."""
    directory = trained_and_stored(storage)
    settings = json.loads((directory / SETTINGS_FILE).read_text(encoding="utf-8"))
    with np.load(directory / ARRAYS_FILE) as arrays:
        kept = dict(arrays)
    settings["svm"] = settings["counts"]
    for attribute in FITTED["ComplementNB"]:
        kept[f"svm.{attribute}"] = kept[f"counts.{attribute}"]
    (directory / SETTINGS_FILE).write_text(json.dumps(settings), encoding="utf-8")
    np.savez(directory / ARRAYS_FILE, **kept)
    with pytest.raises(UnreadableModel, match="make train"):
        load(storage)


@pytest.mark.parametrize("trained_with, loaded_with", [(READS_NO_MEANING, READS_MEANING),
                                                      (READS_MEANING, READS_NO_MEANING)])
def test_a_model_trained_with_the_embedding_read_otherwise_is_refused_at_loading(storage, trained_with, loaded_with):
    """An archive whose settings say otherwise than its weights (the sentence embedding read or
    not) would fail at the first message; it is refused with "train again" at loading."""
    trained = LinearIntentClassifier.create(trained_with, storage, RESOURCE, ExecutionContext(GraphSchema({}), "test"))
    trained.train(TrainingData([message(text, intent) for intent, texts in EXAMPLES.items() for text in texts]))
    with pytest.raises(UnreadableModel, match="LinearIntentClassifier.*make train"):
        LinearIntentClassifier.load(loaded_with, storage, RESOURCE, ExecutionContext(GraphSchema({}), "test"))
    assert rankings(LinearIntentClassifier.load(trained_with, storage, RESOURCE,
                                                ExecutionContext(GraphSchema({}), "test"))) == rankings(trained)


class RunsCode:
    """What a hostile pickle does: unpickling it calls `Path.touch`."""

    def __init__(self, witness: Path) -> None:
        self.witness = witness

    def __reduce__(self):
        return Path.touch, (self.witness,)


def test_a_pickle_among_the_arrays_is_refused_unopened(storage, tmp_path):
    directory = trained_and_stored(storage)
    with np.load(directory / ARRAYS_FILE) as arrays:
        kept = dict(arrays)
    kept["svm.coef_"] = np.array([RunsCode(tmp_path / "ran")], dtype=object)
    np.savez(directory / ARRAYS_FILE, **kept)
    with pytest.raises(UnreadableModel, match="make train"):
        load(storage)
    assert not (tmp_path / "ran").exists()


def test_a_classifier_trained_without_intent_examples_ranks_nothing(storage):
    assert rankings(load(storage)) == [[], [], []]


def test_a_message_with_nothing_to_read_has_no_intent(storage):
    """An emoji alone is empty once normalised: no intent, which the FallbackClassifier after the
    classifier turns into nlu_fallback (it fails on a message with no intent at all)."""
    classifier = LinearIntentClassifier.create(SHIPPED, storage, RESOURCE, ExecutionContext(GraphSchema({}), "test"))
    classifier.train(TrainingData([message(text, intent) for intent, texts in EXAMPLES.items() for text in texts]))
    empty = Message(data={TEXT: ""})
    classifier.process([empty])
    assert empty.get(INTENT) == {"name": None, "confidence": 0.0}


def test_the_ranking_is_a_distribution_surest_first(storage):
    trained = LinearIntentClassifier.create(SHIPPED, storage, RESOURCE, ExecutionContext(GraphSchema({}), "test"))
    trained.train(TrainingData([message(text, intent) for intent, texts in EXAMPLES.items() for text in texts]))
    for ranking in rankings(trained):
        confidences = [item["confidence"] for item in ranking]
        assert confidences == sorted(confidences, reverse=True)
        assert sum(confidences) == pytest.approx(1.0)


def test_a_message_in_words_no_example_uses_is_placed_by_what_it_means(storage):
    """No greeting example says 哈喽; its sentence embedding lies near theirs (nlu/sentence_meaning.py),
    where a config.yml has the classifier read it."""
    trained = LinearIntentClassifier.create(READS_MEANING, storage, RESOURCE, ExecutionContext(GraphSchema({}), "test"))
    trained.train(TrainingData([message(text, intent) for intent, texts in EXAMPLES.items() for text in texts]))
    hello = message("哈喽")
    trained.process([hello])
    assert hello.get(INTENT)["name"] == "greet"


def test_a_report_after_a_turn_to_another_matter_is_not_lost_behind_a_question(storage):
    """"请问 … ？顺便说一下 暖气 不热": the question outweighs the report in the whole message; the
    part after the turn, read alone with its own words, is a sure report and ranks the message."""
    examples = {**EXAMPLES, "ask_info": ["请问 社区 食堂 周末 几点 开门", "请问 办 居住证 要 带 什么 材料",
                                         "请问 社区 食堂 几点 开门 周末 开 不 开", "请问 老年卡 在 哪里 办 周末 开门 吗"]}
    classifier = LinearIntentClassifier.create(SHIPPED, storage, RESOURCE, ExecutionContext(GraphSchema({}), "test"))
    classifier.train(TrainingData([message(text, intent) for intent, texts in examples.items() for text in texts]))
    question = "请问 社区 食堂 周末 几点 开门 ？"
    texts = (
        f"{question} 顺便 说 一下 家里 暖气 冰凉 不热",
        f"{question} 顺便 问 一下 老年卡 在 哪里 办",  # turns to another question
        f"{question} 家里 暖气 冰凉 不热",  # no turn: the whole message is read, as before
        f"对了 ， {question}",  # a turn that opens the message turns from nothing
    )
    ranked_best = [m.get(INTENT)["name"] for m in classifier.process([message(text) for text in texts])]
    assert ranked_best == ["report_heating", "ask_info", "ask_info", "ask_info"]
    assert _TURN.search("请问食堂几点开门？另外那栋楼呢") is None  # 另外那栋: the other building
    assert _TURN.search("请问食堂几点开门？另外一楼大厅的灯坏了") is not None




def test_a_report_after_thanks_is_not_lost_behind_them(storage):
    """"谢谢 师傅 修好 了 电梯 ， 不过 又 坏 了": the thanks outweigh the report in the whole message;
    the part after 不过, read alone, says something is wrong now, and the whole message says what
    (the lift the thanks named). News after the turn stays talk, and so do thanks that do not turn."""
    examples = {**EXAMPLES,
                "report_water": ["水管 漏水 了", "楼道 水管 爆 了", "水管 一直 在 漏", "厨房 水管 漏 了 一地 水"],
                "thank": ["谢谢 师傅 修好 了 水管", "谢谢 你们 辛苦 了", "感谢 物业 师傅 帮忙", "多谢 网格员 上次 帮忙",
                          "谢谢 师傅 暖气 修好 了 很 热", "谢谢 师傅 电梯 修好 了"],
                "chitchat": ["暖气 已经 热 了 挺 舒服", "水管 已经 修好 了 没事 了", "今天 天气 真 好"]}
    classifier = LinearIntentClassifier.create(SHIPPED, storage, RESOURCE, ExecutionContext(GraphSchema({}), "test"))
    classifier.train(TrainingData([message(text, intent) for intent, texts in examples.items() for text in texts]))
    texts = (
        "谢谢 师傅 修好 了 电梯 ， 不过 又 坏 了",  # what broke, only the thanks say
        "谢谢你们可是水管一直在漏",  # voice input: no pause before the turn
        "谢谢 师傅 上次 修 了 水管 ， 不过 现在 已经 没事 了 很 舒服",  # news after the turn
        "谢谢 你们 辛苦 了 暖气 修好 了 很 热",  # no word that turns: the whole is read, as before
    )
    ranked_best = [m.get(INTENT)["name"] for m in classifier.process([message(text) for text in texts])]
    assert ranked_best == ["report_elevator", "report_water", "thank", "thank"]
    assert _CONTRAST.search("谢谢网格员，但愿以后别再停水了") is None
    assert _CONTRAST.search("谢谢大家，但凡有事都可以找我") is None
    assert _CONTRAST.search("谢谢，师傅今天忙不过来") is None


def test_which_report_follows_thanks_the_whole_message_helps_decide():
    """"谢谢 修 了 水管 ， 可是 又 漏 了": the part after the turn is a report but unsure of what
    (漏: a pipe or a roof); the whole message names the pipe. How likely a report is stays the
    part's."""
    part = {"report_water": 1.0, "report_facilities": 1.1, "thank": 0.2}
    whole = {"report_water": 0.5, "report_facilities": 0.1, "thank": 2.0}
    temperature = SHIPPED["temperature"]
    read_whole = _reports_read_whole(part, whole, temperature)
    assert [item["name"] for item in ranked(read_whole, temperature)] == ["report_water", "report_facilities", "thank"]
    assert read_whole["thank"] == part["thank"]
    alone, together = (sum(i["confidence"] for i in ranked(margins, temperature) if i["name"] != "thank")
                       for margins in (part, read_whole))
    assert together == pytest.approx(alone)
