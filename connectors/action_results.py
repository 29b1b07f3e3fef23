"""The one change to Rasa itself on the hot path (found with py-spy under `make bench`).

Rasa 3.6 checks every answer of the action server with `jsonschema.validate`, which first
checks the schema (a constant) against the JSON Schema metaschema, every time: a quarter of
the Rasa server's time under load. `check_action_results_with_one_validator` makes the same
check, with the same error, against a validator built once.
"""
from functools import lru_cache
from typing import Any

from jsonschema import validators
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


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
    """Use the validator built once for every action server answer (idempotent)."""
    RemoteAction._validate_action_result = _validate_action_result
