"""The learned danger signal (nlu/danger_model.py) of the trained model, heard through
`bot.urgency.find_danger` as the live bot hears it.

The messages below are written for this test, not taken from the training data: the model must
recognise dangers said in words the rules do not have (a dog by its breed, a lift stuck between
floors, 燃汽 for 燃气), and leave everyday reports and past or feared dangers alone."""
import json

import pytest

from bot.normalize import for_classification
from bot.urgency import find_danger

@pytest.mark.model  # it imports Rasa's engine (ten seconds): not the fast tier
@pytest.mark.parametrize("intent, text, metadata, label", [
    ("report_gas", "楼道里一股燃气味", {}, ("gas_leak", "now")),  # a report: the rules' danger, now
    ("chitchat", "新闻说外地有个小区燃气泄漏了", {}, ("none", "mentioned")),  # news from elsewhere
    ("chitchat", "楼道里一股燃气味 好像是谁家在炖肉", {}, ("none", "mentioned")),  # no report: only mentioned
    ("neighbour_post", "万一燃气泄漏了怎么办 大家注意关阀门", {}, ("none", "mentioned")),
    ("ask_info", "燃气泄漏了怎么办", {"modality": "asked"}, ("none", "asked")),  # the block's word first
])
def test_a_danger_named_outside_a_report_teaches_not_now(intent, text, metadata, label):
    from rasa.shared.nlu.training_data.message import Message

    from nlu.danger_model import labels_of
    message = Message(data={"text": text, "intent": intent,
                            "metadata": {"intent": metadata} if metadata else {}})
    assert labels_of(message) == label


@pytest.mark.model
def test_a_danger_kind_the_bot_has_no_advice_for_stops_the_training():
    from rasa.shared.nlu.training_data.message import Message

    from nlu.danger_model import labels_of
    message = Message(data={"text": "地库进水了", "intent": "report_water",
                            "metadata": {"intent": {"danger": "flooding"}}})
    with pytest.raises(ValueError, match="flooding.*地库进水了"):
        labels_of(message)


@pytest.mark.parametrize("trained_with, loaded_with", [({"meaning_weight": 0}, {}), ({}, {"meaning_weight": 0})])
def test_a_danger_model_trained_with_the_embedding_read_otherwise_is_refused_at_loading(tmp_path, trained_with,
                                                                                       loaded_with):
    """Loaded under settings that read the sentence embedding otherwise than its training did, the
    danger model would fail at the first message; it is refused with "train again" at loading."""
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from nlu.danger_model import DangerModel
    from nlu.linear_store import UnreadableModel
    storage, resource, context = LocalModelStorage(tmp_path), Resource("danger_model"), ExecutionContext(GraphSchema({}), "t")
    examples = [("厨房着火了 好大的烟", "report_safety_security", "fire"), ("楼道里着火了 快来人", "report_safety_security", "fire"),
                ("暖气不热", "report_heating", "none"), ("楼道灯坏了", "report_facilities", "none")]
    DangerModel.create(trained_with, storage, resource, context).train(TrainingData([
        Message(data={"text": text, "intent": intent, "metadata": {"intent": {"danger": danger}}})
        for text, intent, danger in examples]))
    DangerModel.load(trained_with, storage, resource, context)  # its own settings: loads
    with pytest.raises(UnreadableModel, match="DangerModel.*make train"):
        DangerModel.load(loaded_with, storage, resource, context)


@pytest.fixture(scope="module")
def learned(trained_model, tmp_path_factory):
    """The danger model of the trained model, read from its archive as the bot reads it."""
    import tarfile

    from nlu import linear_store
    from nlu.danger_model import DangerModel, predict
    from nlu.sentence_meaning import of_texts
    folder = tmp_path_factory.mktemp("danger_model")
    with tarfile.open(trained_model) as archive:
        archive.extractall(folder, members=[m for m in archive.getmembers() if "DangerModel" in m.name])
        nodes = json.load(archive.extractfile("metadata.json"))["predict_schema"]["nodes"]
    model = linear_store.load(next(folder.rglob(linear_store.SETTINGS_FILE)).parent)
    # the settings the archive was trained with, as Rasa loads it: the archive's own node config
    # (config.yml's when it was trained) over the code's defaults
    [stored] = [node["config"] for node in nodes.values() if node["uses"].endswith(".DangerModel")]
    config = {**DangerModel.get_default_config(), **stored}

    def heard(text: str):
        text = for_classification(text)
        meaning = of_texts([text]) * config["meaning_weight"] if config["meaning_weight"] else None
        return find_danger(text, predict(model, [text], meaning, config["counts_weight"])[0])
    return heard


@pytest.mark.model  # it reads the trained model: not the fast tier
@pytest.mark.parametrize("text, kind", [
    ("隔壁那只泰迪刚才扑上来把我孙女的手咬出血了", "dog_bite"),
    ("电梯哐的一下停在8楼和9楼中间 我爸还在里面出不来", "trapped_in_lift"),
    ("厨房里一股燃汽味 越来越冲", "gas_leak"),
    ("插排那里一直冒火星子 滋滋地响", "sparks"),
    ("楼下独居的王奶奶三天没出门了 敲门也没人应", "elderly_unresponsive"),
    ("樓下燒起來了 好大的煙", "fire"),
    ("我爷爷突然捂着胸口 脸煞白 满头大汗 话都说不出来", "medical_emergency"),
    ("楼下花坛边一个阿姨躺着不动 喊她没反应", "medical_emergency"),
    ("chufang li you yi gu meiqi wei", "gas_leak"),  # typed in pinyin and sent as it was
    ("5hao lou dianti ka zai ban kong le li mian you ren", "trapped_in_lift"),
])
def test_dangers_said_in_other_words_are_urgent(learned, text, kind):
    danger = learned(text)
    assert danger is not None and danger.kind == kind


@pytest.mark.model
@pytest.mark.parametrize("text", [
    "楼下的狗天天晚上叫 吵得睡不着", "电梯按钮不灵了 按好几下才亮", "燃气费在哪里交",
    "路灯不亮好几天了", "上个月电梯困过人 到现在也没人来检修", "楼道里堆满了纸箱 万一着火可怎么办",
    "上个月我爸晕倒过 现在好了 谢谢邻居帮忙",
])
def test_everyday_reports_and_dangers_not_happening_now_are_not_urgent(learned, text):
    assert learned(text) is None


@pytest.mark.model  # it imports Rasa's engine
@pytest.mark.parametrize("edited", ["bot.urgency", "nlu.logistic"])  # the rules that label; the fit
def test_editing_the_rules_or_the_fit_trains_the_danger_model_again(monkeypatch, edited):
    """Rasa's training cache looks only at a component's class: the rules that label the danger
    model's examples and the fit that learns from them must count too, or `make train` would
    keep a model built on the old ones."""
    import importlib
    import inspect

    from nlu.danger_model import DangerModel
    module = importlib.import_module(edited)
    before = DangerModel.fingerprint_addon({})
    original = inspect.getsource
    monkeypatch.setattr(inspect, "getsource",
                        lambda obj: original(obj) + ("\n# 改过的一行" if obj is module else ""))
    assert DangerModel.fingerprint_addon({}) != before
