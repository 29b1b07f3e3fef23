"""The scoring arithmetic of eval-nlu and eval-locations, with a stand-in parser."""
import pytest

from bot.evaluation import EvalFileError, percentile, score_locations, score_nlu

FAKE_MODEL = {
    "暖气不热": ("report_heating", 0.9),
    "你好": ("greet", 0.95),
    "电梯坏了": ("report_heating", 0.95),  # a wrong category
    "在吗": ("report_noise", 0.95),         # a false ticket on a none message
    "楼道着火了": ("chitchat", 0.3),        # the model hesitates; the danger rule catches it
}


def fake_parse(text: str) -> dict:
    intent, confidence = FAKE_MODEL.get(text, ("nlu_fallback", 0.4))
    entities = [{"entity": "building", "value": "7"}] if "7号楼" in text else []
    return {"text": text, "intent": {"name": intent, "confidence": confidence},
            "intent_ranking": [{"name": intent, "confidence": confidence}], "entities": entities}


def write(tmp_path, text):
    path = tmp_path / "rows.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_nlu_scores(tmp_path):
    path = write(tmp_path, "category\turgent\ttext\nheating\t0\t暖气不热\nnone\t0\t你好\n"
                           "elevator\t0\t电梯坏了\nnone\t0\t在吗\nsafety_security\t1\t楼道着火了\n")
    scores = score_nlu(path, fake_parse)
    assert scores["accuracy"] == pytest.approx(3 / 5)
    assert scores["none_false_ticket_rate"] == pytest.approx(1 / 2)
    assert scores["urgent_recall"] == 1.0 and scores["urgent_precision"] == 1.0
    assert scores["per_category"]["heating"]["precision"] == pytest.approx(1 / 2)
    assert scores["per_category"]["elevator"]["recall"] == 0.0
    # macro over heating (2/3), none (2/3), elevator (0), safety_security (1)
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0 + 1) / 4)
    assert len(scores["errors"]) == 2


def test_location_scores_skip_starred_fields(tmp_path):
    path = write(tmp_path, "text\tcompound\tbuilding\tunit\troom\n7号楼停电\t\t7\t\t\n"
                           "8号楼停电\t*\t8\t*\t*\n")
    scores = score_locations(path, fake_parse)
    assert scores["field_accuracy"] == {"compound": 1.0, "building": 0.5, "unit": 1.0, "room": 1.0}
    assert scores["row_accuracy"] == 0.5


@pytest.mark.parametrize("body", ["category\turgent\ttext\nweather\t0\t下雨了\n",
                                  "category\turgent\ttext\nheating\tyes\t暖气不热\n",
                                  "category\turgent\ttext\nheating\t0\t暖气\t不热\n"])
def test_bad_rows_are_named(tmp_path, body):
    with pytest.raises(EvalFileError, match=":2:"):
        score_nlu(write(tmp_path, body), fake_parse)


def test_percentile():
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile(list(range(1, 101)), 99) == 99
