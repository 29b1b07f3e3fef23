"""What enters from a platform, checked and made harmless once, at the edge of the shared core.

Every connector reads a platform's JSON with `json_object`, refuses what it cannot take with a
`Refusal`, and every message reaches the core as an `Incoming` (connectors/group_chat.py), whose
ids pass `checked_id` and whose text and display name pass `clean_text`. Past this edge an id is
well-formed Unicode that the database and Rasa's tracker store can encode, and nothing a resident
typed can reorder what staff read.
"""
import itertools
import json
import re

MAX_DEPTH = 32  # platforms nest 4 or 5 levels; Python's json parser recurses once per level
MAX_ID = 128  # ids go to columns of 200 characters, a group and a user id together to one of 300
MAX_NAME = 100  # what the database keeps of a display name
MAX_TEXT = 64 * 1024  # bytes of UTF-8 in one message's text: far more than anyone types

# Bidirectional controls (LRE RLE PDF LRO RLO, LRI RLI FSI PDI, LRM RLM, ALM): a resident's
# U+202E would turn the rest of a staff notification around.
_BIDI = r"\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_CONTROLS = r"\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 and C1 but the tab and the newline, which texts keep
_SURROGATES = r"\ud800-\udfff"  # in a str each one stands alone: JSON joins the pairs it is sent
_LONE_SURROGATE = re.compile(f"[{_SURROGATES}]")
_UNWANTED_IN_TEXT = re.compile(f"[{_CONTROLS}{_BIDI}]")
_UNWANTED_IN_ID = re.compile(rf"[\t\n{_CONTROLS}{_BIDI}{_SURROGATES}]")
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class Refusal(Exception):
    """A request refused at the edge: answered with `status` (4xx) and logged with `reason`, never
    with a secret or the body (`connectors.webhook`). A platform's parser or signature check
    raises it: 401 wrong signature, 403 another account's, 400 malformed, 413 too large."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class MalformedMessage(Refusal, ValueError):
    """A callback whose fields have the wrong types or values (forged or broken): answered 400."""
    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(self.status, reason)


class TextTooLong(MalformedMessage):
    """A message whose text is over `MAX_TEXT`: answered 413, as a body over the limit is."""
    status = 413


def json_object(raw: bytes | str) -> dict:
    """A platform's JSON object; MalformedMessage for anything else, and for nesting deeper
    than `MAX_DEPTH`, which is refused before the parser recurses into it."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")  # what every platform sends; json.loads would guess UTF-16 too
        except UnicodeDecodeError:
            raise MalformedMessage("JSON is not UTF-8") from None
    if not isinstance(raw, str):
        raise MalformedMessage("JSON is not text")
    if nesting(raw) > MAX_DEPTH:
        raise MalformedMessage(f"JSON nested deeper than {MAX_DEPTH}")
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        raise MalformedMessage("unreadable JSON") from None
    if not isinstance(parsed, dict):
        raise MalformedMessage("JSON is not an object")
    return parsed


def nesting(raw: str) -> int:
    """How deep the arrays and objects of a JSON text go, the brackets inside strings left out.
    Regular expressions without backtracking, so a hostile body costs milliseconds; for broken
    JSON the count may be off, but json.loads refuses that anyway."""
    outside_strings = _STRING.sub("", _ESCAPE.sub("", raw))  # escapes first: then no string holds a quote
    brackets = _NOT_A_BRACKET.sub("", outside_strings)
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


def clean_text(text: str) -> str:
    """A text as residents and staff should read it: lone surrogates as U+FFFD, control
    characters but newlines and tabs removed, bidirectional controls removed."""
    text = _LONE_SURROGATE.sub("\ufffd", text).replace("\r\n", "\n").replace("\r", "\n")
    return _UNWANTED_IN_TEXT.sub("", text)


def checked_text(text: str) -> str:
    """A message's text, cleaned, and refused when it is over `MAX_TEXT`."""
    text = clean_text(text)
    if len(text) * 4 > MAX_TEXT and len(text.encode("utf-8")) > MAX_TEXT:
        raise TextTooLong(f"text over {MAX_TEXT // 1024} KB")
    return text


def clean_name(name: str) -> str:
    """A display name, cleaned and cut to what the database keeps."""
    return clean_text(name).strip()[:MAX_NAME]


def checked_id(value: object, what: str = "id") -> str:
    """An id as a platform sends it, or MalformedMessage: a non-empty string of at most `MAX_ID`
    characters, with no control, bidirectional or lone surrogate character (an id is compared
    and stored, never cleaned: two different ids must not become one)."""
    if not isinstance(value, str) or not value:
        raise MalformedMessage(f"{what} is not text")
    if len(value) > MAX_ID:
        raise MalformedMessage(f"{what} longer than {MAX_ID}")
    if _UNWANTED_IN_ID.search(value):
        raise MalformedMessage(f"{what} holds control or unpaired characters")
    return value
