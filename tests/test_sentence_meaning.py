"""The sentence embedding the classifiers read (nlu/sentence_meaning.py) stays out of the parse:
the parse is what the tracker keeps for every message, and what the actions and the console read."""
import json

import pytest


@pytest.mark.model  # it loads the trained model
def test_the_parse_a_tracker_keeps_holds_no_embedding(trained_model):
    from nlu.parser import ModelParser
    from nlu.sentence_meaning import MEANING

    parse = ModelParser(trained_model)("5号楼电梯停在两层中间了 里面有人")
    assert parse["intent"]["name"] == "report_elevator"
    assert MEANING not in parse
    assert len(json.dumps(parse, ensure_ascii=False)) < 4000  # a ranking and a few entities, not 384 numbers


def test_a_long_message_is_read_for_its_subject_and_for_what_it_does_at_its_end():
    from nlu.sentence_meaning import READ, read

    asked = "邻居家的电动车电瓶天天拎回家充电 楼道里全是线 物业和业委会到底让不让"
    assert read(asked).startswith("邻居家的电动车") and read(asked).endswith("到底让不让")
    assert len(read(asked)) == READ
    assert read("7号楼电梯坏了") == "7号楼电梯坏了"
