"""The changes this project makes to Rasa itself, all in one place, each written against the code
of one Rasa release, `WRITTEN_FOR`. On any other release this module refuses to be imported, so a
Rasa server naming our channels or our tracker store does not start: a patch over code that has
moved on would fail later, in a resident's conversation, not here.

- `check_action_results_with_one_validator`: Rasa 3.6 checks every answer of the action server
  with `jsonschema.validate`, which first checks the schema (a constant) against the JSON Schema
  metaschema, every time, which under load is much of the Rasa server's work (docs/benchmarks.md).
  The same check, with the same error, against a validator built once.
- `exit_only_when_the_schema_is_missing`: Rasa 3.6's SQL tracker store takes any ValueError
  met while a session is open for a missing PostgreSQL schema, and stops the server. A sender
  id the database cannot encode (a lone surrogate, valid JSON) is a ValueError too: one request,
  through any channel, would end the server for everyone. Only the schema check may exit now.
- `outages_of_the_tracker_store_are_errors`: what Rasa does when its tracker store fails.
- `check_what_rest_takes_in`: Rasa's REST channel passes on whatever JSON it is given (a list
  as the body is a 500, a number as the text fails in the NLU, a sender id the database cannot
  encode fails every action). It bypasses our connectors, so it gets their edge here
  (`connectors.inbound`): a JSON object, a usable sender id, a text, metadata as an object.
  And a sender id of its own: `wecom:<group>:<user>` would speak as that WeCom member in their
  group (report in their name, read their tickets' status, get staff replies meant for them).

`connectors/__init__.py` applies the second and the last at import, so they are in place in any
Rasa server that names one of our channels, for Rasa's REST channel too; the channels apply the
others when the server starts (`RasaGroupChat.start_with`). Each may be applied any number of
times.
"""
import contextlib
import logging
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import rasa
import rasa.shared.utils.cli
from jsonschema import validators
from jsonschema.exceptions import best_match
from rasa.core import tracker_store
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.rest import RestInput
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.constants import DOCS_BASE_URL
from sanic.exceptions import SanicException
from sanic.request import Request
from sqlalchemy.orm import Session

from bot.conversations import resident_from
from bot.db import OUTAGES
from connectors.inbound import MalformedMessage, checked_id, checked_text, clean_text, json_object

log = logging.getLogger(__name__)

WRITTEN_FOR = "3.6.21"  # the Rasa release whose code these patches replace (pinned in requirements.txt)


def require_the_rasa_written_for() -> None:
    """Stop, saying why, unless the installed Rasa is the release these patches were written for:
    even a patch release may change a method one of them replaces."""
    if rasa.__version__ != WRITTEN_FOR:
        raise SystemExit(
            f"社区小助手对 Rasa 的补丁（connectors/rasa_patches.py）是按 Rasa {WRITTEN_FOR} 写的，"
            f"现在安装的是 Rasa {rasa.__version__}，不能启动。请安装 requirements.txt 指定的版本"
            f"（pip install rasa=={WRITTEN_FOR}）；要换 Rasa 版本，先逐个核对补丁替换的 Rasa 代码，再改 WRITTEN_FOR。")


require_the_rasa_written_for()


# the action server's answers ---------------------------------------------------------------
@lru_cache(maxsize=None)
def _validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _validate_action_result(_action: RemoteAction, result: dict) -> bool:
    """What `RemoteAction._validate_action_result` does, without checking the schema again."""
    error = best_match(_validator().iter_errors(result))
    if error is not None:
        error.message += (". Failed to validate Action server response from API, make sure your response "
                          f"from the Action endpoint is valid. For more information about the format visit "
                          f"{DOCS_BASE_URL}/custom-actions")
        raise error
    return True


def check_action_results_with_one_validator() -> None:
    """Use the validator built once for every action server answer."""
    RemoteAction._validate_action_result = _validate_action_result


# the tracker store -------------------------------------------------------------------------
@contextlib.contextmanager
def _session_scope(self: SQLTrackerStore) -> Iterator[Session]:
    """Rasa 3.6's `SQLTrackerStore.session_scope`, but a ValueError of the work done in the
    session is raised like any other error: only a missing schema stops the server."""
    session = self.sessionmaker()
    try:
        try:
            tracker_store.ensure_schema_exists(session)
        except ValueError as schema:
            rasa.shared.utils.cli.print_error_and_exit(
                f"Requested PostgreSQL schema '{schema}' was not found in the database. To "
                f"continue, please create the schema by running 'CREATE DATABASE {schema};' "
                f"or unset the '{tracker_store.POSTGRESQL_SCHEMA}' environment variable in order to "
                f"use the default schema. Exiting application.")
        yield session
    finally:
        session.close()


class GuardedSQLTrackerStore(SQLTrackerStore):
    """The tracker store `bot.endpoints` names in endpoints.yml: Rasa's SQL store with the session
    guard above. Naming it also makes every Rasa server import this package, so its guards hold
    whichever channels credentials.yml opens, Rasa's REST channel alone included."""
    session_scope = _session_scope


def exit_only_when_the_schema_is_missing() -> None:
    """Let the SQL tracker store's errors be one conversation's, not the server's end: Rasa's
    FailSafeTrackerStore then logs them and goes on with that conversation in memory."""
    SQLTrackerStore.session_scope = _session_scope


def outages_of_the_tracker_store_are_errors(app: Any) -> None:
    """Rasa answers a tracker store that cannot be reached from memory (a conversation without its
    past, a message never stored); an outage is raised instead, and the turn held. Any other
    error of the store is one conversation's: logged, and Rasa goes on."""
    exit_only_when_the_schema_is_missing()
    store = getattr(getattr(app.ctx, "agent", None), "tracker_store", None)
    if isinstance(store, FailSafeTrackerStore):
        store._on_tracker_store_error = _raise_outages


def _raise_outages(error: Exception) -> None:
    if isinstance(error, OUTAGES):
        raise error
    log.error("the tracker store failed (%s); Rasa goes on with one in memory", error.__class__.__name__)


# Rasa's REST channel ------------------------------------------------------------------------
def _read(request: Request, part: Callable[[dict], Any]) -> Any:
    """A part of the REST channel's body, which is read once a request with the connectors'
    reader; a refusal is a 4xx (Sanic answers a SanicException with its status, no traceback)."""
    try:
        if not hasattr(request.ctx, "rest_body"):
            request.ctx.rest_body = json_object(request.body)
        return part(request.ctx.rest_body)
    except MalformedMessage as malformed:
        log.warning("rest webhook refused with %s: %s", malformed.status, malformed)
        raise SanicException(str(malformed), status_code=malformed.status) from None


def _sender(body: dict) -> str | None:
    if body.get("sender") is None:
        return None  # Rasa's default
    sender = checked_id(body["sender"], "sender")
    platform = resident_from(sender).platform  # read as the actions read it: "wec%6Fm" is wecom too
    if platform != RestInput.name():
        raise MalformedMessage(f"sender names the platform {platform!r}: the REST channel takes only its own "
                               "sender ids, rest:<group>:<user> or an id without a platform")
    return sender


def _message(body: dict) -> str:
    if not isinstance(body.get("message"), str):
        raise MalformedMessage("message is not text")
    return checked_text(body["message"])


def _input_channel(body: dict) -> str:
    channel = body.get("input_channel")
    return RestInput.name() if channel is None else checked_id(channel, "input_channel")


def _metadata(body: dict) -> dict | None:
    if not isinstance(body.get("metadata"), dict | None):
        raise MalformedMessage("metadata is not an object")
    return _cleaned(body.get("metadata"))


def _cleaned(value: Any) -> Any:
    """Metadata with every text in it cleaned (a display name is read from it); its nesting is
    bounded by `json_object`."""
    if isinstance(value, dict):
        return {clean_text(key): _cleaned(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_cleaned(inner) for inner in value]
    return clean_text(value) if isinstance(value, str) else value


async def _extract_sender(_self: RestInput, request: Request) -> str | None:
    return _read(request, _sender)


def check_what_rest_takes_in() -> None:
    """Give Rasa's REST channel the connectors' edge: what it cannot use is refused with a 4xx."""
    RestInput._extract_sender = _extract_sender  # awaited by Rasa, unlike the others
    RestInput._extract_message = lambda _self, request: _read(request, _message)
    RestInput._extract_input_channel = lambda _self, request: _read(request, _input_channel)
    RestInput.get_metadata = lambda _self, request: _read(request, _metadata)
