"""The changes to Rasa itself (connectors/rasa_patches.py): each does what Rasa did but for the
one thing it is for, is applied only to the Rasa it was written against, and any number of times."""
import asyncio
import json
import logging
import subprocess
import sys
from types import SimpleNamespace

import pytest
import rasa
from rasa.core import tracker_store
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.rest import RestInput
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic.exceptions import SanicException
from sqlalchemy.exc import OperationalError

from conftest import ROOT, project_env
from connectors import rasa_patches


@pytest.fixture
def store(engine) -> SQLTrackerStore:
    """Rasa's SQL tracker store on the test database (an SQLite file, then PostgreSQL)."""
    url = engine.url
    return SQLTrackerStore(Domain.empty(), dialect=url.get_backend_name(), host=url.host, port=url.port,
                           db=url.database, username=url.username, password=url.password, query=dict(url.query))


def conversation(sender_id: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender_id, [])
    tracker.update(UserUttered("7号楼暖气不热"))
    return tracker


def test_a_sender_id_the_database_cannot_encode_is_one_error_not_the_end_of_the_server(store):
    # "\ud800" is valid JSON (a lone surrogate); Rasa 3.6 took the database's UnicodeEncodeError
    # for a missing schema and called sys.exit(1) for every resident
    with pytest.raises(UnicodeEncodeError):
        asyncio.run(store.save(conversation("rest:g:\ud800")))
    asyncio.run(store.save(conversation("rest:g:alice")))  # and the store goes on
    assert asyncio.run(store.retrieve("rest:g:alice")).latest_message.text == "7号楼暖气不热"


def test_a_missing_postgresql_schema_still_stops_the_server(store, monkeypatch):
    def schema_missing(_session):
        raise ValueError("community")
    monkeypatch.setattr(tracker_store, "ensure_schema_exists", schema_missing)
    with pytest.raises(SystemExit):
        asyncio.run(store.retrieve("rest:g:alice"))


def test_each_patch_may_be_applied_any_number_of_times(monkeypatch):
    monkeypatch.setattr(SQLTrackerStore, "session_scope", "rasa's own")
    monkeypatch.setattr(RemoteAction, "_validate_action_result", "rasa's own")
    monkeypatch.setattr(RestInput, "_extract_sender", "rasa's own")
    for _ in range(2):
        rasa_patches.exit_only_when_the_schema_is_missing()
        rasa_patches.check_action_results_with_one_validator()
        rasa_patches.check_what_rest_takes_in()
    assert SQLTrackerStore.session_scope is rasa_patches._session_scope
    assert RemoteAction._validate_action_result is rasa_patches._validate_action_result
    assert RestInput._extract_sender is rasa_patches._extract_sender


def test_the_rasa_the_patches_were_written_for_passes_the_guard():
    assert rasa.__version__ == rasa_patches.WRITTEN_FOR  # requirements.txt and the patches agree
    rasa_patches.require_the_rasa_written_for()


@pytest.mark.parametrize("version", ["3.6.20", "3.6.22", "3.7.0", "4.0.0"])
def test_another_rasa_is_refused_with_both_versions_named(monkeypatch, version):
    monkeypatch.setattr(rasa, "__version__", version)
    with pytest.raises(SystemExit) as refused:
        rasa_patches.require_the_rasa_written_for()
    assert version in str(refused.value) and rasa_patches.WRITTEN_FOR in str(refused.value)


@pytest.mark.servers  # the server's own start-up, in a process of its own
def test_a_rasa_server_naming_our_channels_does_not_start_on_another_rasa():
    started = subprocess.run(
        [sys.executable, "-c", "import rasa; rasa.__version__ = '3.7.0'; import connectors"],
        cwd=ROOT, env=project_env(), capture_output=True, text=True, timeout=300)
    assert started.returncode == 1
    assert "Rasa 3.7.0" in started.stderr and "Traceback" not in started.stderr


def test_an_outage_of_the_tracker_store_is_raised_and_any_other_error_logged(caplog):
    store = FailSafeTrackerStore(SQLTrackerStore(Domain.empty(), dialect="sqlite", db=":memory:"))
    rasa_patches.outages_of_the_tracker_store_are_errors(SimpleNamespace(ctx=SimpleNamespace(
        agent=SimpleNamespace(tracker_store=store))))
    outage = OperationalError("SELECT 1", {}, ConnectionRefusedError("database restarting"))
    with pytest.raises(OperationalError):
        store.on_tracker_store_error(outage)
    with caplog.at_level(logging.ERROR, logger="connectors.rasa_patches"):
        store.on_tracker_store_error(UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"))
    assert "UnicodeEncodeError" in caplog.text
    assert SQLTrackerStore.session_scope is rasa_patches._session_scope


class RestRequest:
    """What the REST channel's readers use of a Sanic request."""

    def __init__(self, body: bytes):
        self.body, self.ctx = body, SimpleNamespace()


@pytest.mark.parametrize("body, status", [
    (b"[1, 2]", 400),
    (b'{"sender": "rest:g:\\ud800", "message": "hi"}', 400),
    (b'{"sender": ["a"], "message": "hi"}', 400),
    (b'{"sender": "alice", "message": 5}', 400),
    (b'{"sender": "alice", "message": "hi", "metadata": "x"}', 400),
    (b'{"sender": "alice", "message": "hi", "metadata": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400),
    (b'{"sender": "alice", "message": "' + "啊".encode() * 30_000 + b'"}', 413),
])
def test_rasas_rest_channel_refuses_what_it_cannot_use_with_a_4xx(body, status):
    rest, request = RestInput(), RestRequest(body)
    with pytest.raises(SanicException) as refused:
        asyncio.run(rest._extract_sender(request))
        rest._extract_message(request)
        rest.get_metadata(request)
    assert refused.value.status_code == status


@pytest.mark.parametrize("sender", ["wecom:wrOgQhDgAAJinYuCheng01:alice", "dingtalk:dm:alice", "feishu:oc_1:ou_1",
                                    "onebot:123456:10001", "matrix:%21room%3Aexample.org:%40alice%3Aexample.org",
                                    "wec%6Fm:wrOgQhDgAAJinYuCheng01:alice", "wechat:g:alice"])
def test_rasas_rest_channel_refuses_a_sender_id_of_another_platform(sender):
    request = RestRequest(json.dumps({"sender": sender, "message": "我上次报的事处理得怎么样了"}).encode())
    with pytest.raises(SanicException) as refused:
        asyncio.run(RestInput()._extract_sender(request))
    assert refused.value.status_code == 400 and "REST channel takes only its own sender ids" in str(refused.value)


@pytest.mark.parametrize("sender", ["rest:wangjiang-demo:me", "rest:dm:vol_liu", "rest:c0ffee00", "c0ffee00",
                                    "wecom:alice"])
def test_rasas_rest_channel_takes_its_own_sender_ids(sender):
    request = RestRequest(json.dumps({"sender": sender, "message": "你好"}).encode())
    assert asyncio.run(RestInput()._extract_sender(request)) == sender


def test_rasas_rest_channel_passes_on_a_clean_message():
    rest = RestInput()
    request = RestRequest(json.dumps({"sender": "rest:g:alice", "message": "7号楼\u202e暖气不热",
                                      "metadata": {"display_name": "王阿姨\u202e\ud800"}}).encode())
    assert asyncio.run(rest._extract_sender(request)) == "rest:g:alice"
    assert rest._extract_message(request) == "7号楼暖气不热"
    assert rest.get_metadata(request) == {"display_name": "王阿姨\ufffd"}
    assert rest._extract_input_channel(request) == "rest"


def test_the_endpoints_file_names_the_guarded_store_and_rasa_builds_it(tmp_path):
    from rasa.core.tracker_store import TrackerStore
    from rasa.utils.endpoints import read_endpoint_config

    from bot.endpoints import write_endpoints
    write_endpoints(tmp_path / "endpoints.yml", f"sqlite:///{tmp_path / 'bot.db'}", "http://127.0.0.1:5055/webhook")
    config = read_endpoint_config(str(tmp_path / "endpoints.yml"), "tracker_store")
    built = TrackerStore.create(config, Domain.empty())
    assert isinstance(built, rasa_patches.GuardedSQLTrackerStore)
    with pytest.raises(UnicodeEncodeError):  # an error of the conversation, not SystemExit
        asyncio.run(built.save(conversation("rest:g:\ud800")))
