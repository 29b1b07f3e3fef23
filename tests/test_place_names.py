"""A compound's name says where, not what happened: 火星花园 names no spark, and a message that
is only a place is the answer to "哪个小区", with the real location extractor finding the names."""
import dataclasses

import pytest

from bot.locations import LocationExtractor
from bot.place_names import names_as_places, only_a_place


@pytest.fixture(scope="module")
def locations():
    return LocationExtractor(["燃气公司宿舍"])  # a directory name; the others are found by their suffix


def entities(locations, text: str) -> list[dict]:
    return [{"entity": f.field, **dataclasses.asdict(f)} for f in locations.extract(text)]


@pytest.mark.parametrize("text, read", [
    ("火星花园", "小区"),
    ("火星花园3号楼插座冒火星子了", "小区3号楼插座冒火星子了"),
    ("燃气公司宿舍5栋楼道灯不亮", "小区5栋楼道灯不亮"),
    ("楼道里有煤气味", "楼道里有煤气味"),
])
def test_compound_names_are_read_as_the_word_for_a_compound(locations, text, read):
    assert names_as_places(text, entities(locations, text)) == read


@pytest.mark.parametrize("text", ["火星花园", "我住火星花园", "火星花园7号楼2单元", "7栋502室", "在燃气公司宿舍。",
                                  "7号楼那边", "7栋楼下", "火星花园门口"])
def test_a_message_that_only_names_a_place(locations, text):
    assert only_a_place(text, entities(locations, text))


@pytest.mark.parametrize("text", ["火星花园停电了", "7号楼暖气不热", "燃气公司宿舍有煤气味", "你好", "着火了",
                                  "7号楼那边有人打架", "7栋楼下堆满了垃圾"])
def test_a_message_that_says_what_happened_is_more_than_a_place(locations, text):
    assert not only_a_place(text, entities(locations, text))


def test_entities_that_do_not_fit_the_text_are_left_alone():
    assert names_as_places("火星花园", [{"entity": "compound", "start": 2, "end": 9}]) == "火星花园"
    assert not only_a_place("", [{"entity": "compound", "start": 0, "end": 4}])
