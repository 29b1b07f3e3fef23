"""常见问题 (FAQ): a YAML file staff maintain, or the same entries in the database, kept in the
console (`bot.faq_store`).

Each entry has an id, several ways residents ask it, the answer, and optionally a contact, a
link and the community it is meant for. The FAQ is not part of the Rasa model: the intent
classifier only learns that a message is a question (`ask_info`, trained on general questions);
`bot.faq_matcher` reads the FAQ at run time and decides whether to answer, suggest or say it is
not sure, so an edit answers the very next question.
"""
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

# What a question may come as: an information question, or a message the intent classifier is
# unsure of (the FAQ may still know it).
ASK_INTENT = "ask_info"
QUESTION_INTENTS = (ASK_INTENT, "nlu_fallback")
NOT_SURE = ("这个问题我不太确定，怕说错耽误您的事。您可以回复“转人工”，社区工作人员会为您解答；"
            "如果是要反映问题，直接描述就行，比如“7号楼电梯坏了”。")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class FaqFileError(ValueError):
    """A FAQ file that cannot be used, naming the entry."""


@dataclass(frozen=True)
class Entry:
    id: str
    questions: tuple[str, ...]
    answer: str
    contact: str | None = None
    link: str | None = None
    community: str | None = None

    def reply(self) -> str:
        """The answer as residents read it."""
        lines = [self.answer.strip()]
        if self.contact:
            lines.append(f"联系：{self.contact}")
        if self.link:
            lines.append(f"详情：{self.link}")
        return "\n".join(lines)


def _entry(item, number: int, seen: set[str]) -> Entry:
    where = f"entries[{number}]"
    if not isinstance(item, dict):
        raise FaqFileError(f"{where}: must be a mapping with id, questions and answer")
    entry_id = str(item.get("id") or "").strip()
    where = f"entries[{number}] ({entry_id or 'no id'})"
    try:
        check_entry_id(entry_id)
    except FaqFileError as error:
        raise FaqFileError(f"{where}: {error}") from None
    if entry_id in seen:
        raise FaqFileError(f"{where}: duplicate id {entry_id!r}")
    questions = item.get("questions")
    if not isinstance(questions, list) or len({str(q).strip() for q in questions if str(q).strip()}) < 2:
        raise FaqFileError(f"{where}: needs at least two different questions")
    answer = str(item.get("answer") or "").strip()
    if not answer:
        raise FaqFileError(f"{where}: the answer is empty")
    unknown = set(item) - {"id", "questions", "answer", "contact", "link", "community"}
    if unknown:
        raise FaqFileError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    seen.add(entry_id)
    return Entry(entry_id, tuple(dict.fromkeys(str(q).strip() for q in questions if str(q).strip())), answer,
                 _optional(item, "contact"), _optional(item, "link"), _optional(item, "community"))


def check_entry_id(entry_id: str) -> None:
    """An entry's id: lowercase letters, digits and underscores, as in a FAQ file."""
    if not _ID.match(entry_id or ""):
        raise FaqFileError("id must be lowercase letters, digits and underscores (条目编号只能用小写字母、数字和下划线)")


def dump(entries: list[Entry]) -> str:
    """A FAQ file (YAML) of `entries`, which `load` reads back."""
    items = []
    for entry in entries:
        item = {"id": entry.id, "questions": list(entry.questions), "answer": entry.answer}
        item.update({key: value for key, value in (("contact", entry.contact), ("link", entry.link),
                                                    ("community", entry.community)) if value})
        items.append(item)
    return _yaml({"entries": items})


def _optional(item: dict, key: str) -> str | None:
    value = item.get(key)
    return str(value).strip() if value not in (None, "") else None


def load(path: str | Path) -> list[Entry]:
    """The entries of a FAQ file, checked; a bad file raises FaqFileError naming the entry."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise FaqFileError(f"{path}: {error.strerror}") from None
    return loads(text, str(path))


def loads(text: str, name: str) -> list[Entry]:
    """The entries of a FAQ file's text (`name`: what the errors call it, e.g. an upload's name)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise FaqFileError(f"{name}: not valid YAML: {error}") from None
    items = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise FaqFileError(f"{name}: needs a non-empty `entries:` list")
    seen: set[str] = set()
    entries = [_entry(item, number, seen) for number, item in enumerate(items)]
    _no_question_twice(entries)
    return entries


def _no_question_twice(entries: list[Entry]) -> None:
    owner: dict[str, str] = {}
    for entry in entries:
        for question in entry.questions:
            if owner.setdefault(question, entry.id) != entry.id:
                raise FaqFileError(f"entry {entry.id}: question {question!r} is also under {owner[question]}")


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as `|` blocks, as FAQ files are written by hand."""


_BlockDumper.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


def _yaml(data: dict) -> str:
    return yaml.dump(data, Dumper=_BlockDumper, allow_unicode=True, sort_keys=False, width=1000)
