"""Sender ids: one conversation per resident per group, and ids with colons survive."""
import pytest

from bot.conversations import Resident, resident_from, sender_id


@pytest.mark.parametrize("platform, group, user, expected", [
    ("wecom", "wrOgAAA", "zhangsan", "wecom:wrOgAAA:zhangsan"),
    ("dingtalk", None, "0123", "dingtalk:dm:0123"),
])
def test_sender_id_form(platform, group, user, expected):
    assert sender_id(platform, group, user) == expected
    assert resident_from(expected) == Resident(platform, group, user)


def test_matrix_ids_with_colons_round_trip():
    resident = Resident("matrix", "!room:example.org", "@alice:example.org")
    assert resident_from(resident.sender_id) == resident
    assert resident.sender_id.count(":") == 2


def test_two_residents_in_one_group_have_two_conversations():
    assert sender_id("wecom", "g1", "alice") != sender_id("wecom", "g1", "bob")


def test_an_unstructured_sender_is_a_direct_chat():
    assert resident_from("default", {"display_name": "老王"}) == Resident("rest", None, "default", "老王")
