"""The linear intent blend (nlu/linear_blend.py) is stored with skops: it loads as it was
trained, and loading never runs code a model file names (a pickle would)."""
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import skops.io
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from skops.io.exceptions import UntrustedTypesFoundException

from nlu.linear_blend import MODEL_FILE, PICKLED_MODEL_FILE, LinearIntentBlend, RetrainTheModel

EXAMPLES = {"report_elevator": ["5号楼 电梯 坏了", "电梯 困人 了", "电梯 停在 三楼 不动"],
            "report_heating": ["暖气 不热", "7号楼 暖气 又 不热 了", "家里 暖气 冰凉"],
            "greet": ["你好", "你好 呀", "在吗 小助手"]}
RESOURCE = Resource("linear_intent_blend")


def message(text: str, intent: str | None = None) -> Message:
    """A message as the pipeline hands it on: tokenized (here at the spaces) by then."""
    tokenized = Message(data={TEXT: text, **({INTENT: intent} if intent else {})})
    tokenized.set(TOKENS_NAMES[TEXT], [Token(word, 0) for word in text.split()])
    return tokenized


def rankings(blend: LinearIntentBlend) -> list:
    return [m.get("intent_ranking") for m in blend.process([message(t) for t in ("电梯 又 坏了", "暖气 不热", "你好")])]


def load(storage: LocalModelStorage) -> LinearIntentBlend:
    return LinearIntentBlend.load({}, storage, RESOURCE, ExecutionContext(GraphSchema({}), "test"))


@pytest.fixture
def storage(tmp_path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def test_a_stored_blend_loads_and_ranks_as_the_trained_one(storage):
    trained = LinearIntentBlend.create({}, storage, RESOURCE, ExecutionContext(GraphSchema({}), "test"))
    trained.train(TrainingData([message(text, intent) for intent, texts in EXAMPLES.items() for text in texts]))
    assert rankings(load(storage)) == rankings(trained)
    assert [ranking[0]["name"] for ranking in rankings(trained)] == ["report_elevator", "report_heating", "greet"]
    with storage.read_from(RESOURCE) as directory:
        assert [path.name for path in directory.iterdir()] == [MODEL_FILE]
        assert "schema.json" in zipfile.ZipFile(directory / MODEL_FILE).namelist()  # skops' format, not a pickle


class RunsCode:
    """What a hostile pickle does: unpickling it calls `Path.touch`."""

    def __init__(self, witness: Path) -> None:
        self.witness = witness

    def __reduce__(self):
        return Path.touch, (self.witness,)


def test_a_model_with_a_pickled_blend_is_refused_and_asks_to_be_trained_again(storage, tmp_path):
    with storage.write_to(RESOURCE) as directory:
        (directory / PICKLED_MODEL_FILE).write_bytes(pickle.dumps({"svm": RunsCode(tmp_path / "ran")}))
    with pytest.raises(RetrainTheModel, match="make train"):
        load(storage)
    assert not (tmp_path / "ran").exists()


def test_a_stored_blend_naming_any_other_callable_is_refused(storage):
    with storage.write_to(RESOURCE) as directory:
        skops.io.dump({"chars": os.system}, directory / MODEL_FILE)
    with pytest.raises(UntrustedTypesFoundException):
        load(storage)


def test_a_blend_trained_without_intent_examples_leaves_the_ranking_alone(storage):
    assert rankings(load(storage)) == [None, None, None]
