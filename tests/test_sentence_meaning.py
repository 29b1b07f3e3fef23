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
