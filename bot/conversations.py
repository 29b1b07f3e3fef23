"""Who is talking, from the Rasa sender id: `<platform>:<group id>:<user id>`, or
`<platform>:dm:<user id>` in a one-to-one chat. Each resident has their own conversation
inside a group, so two residents reporting at once never share a form.

A ':' or '%' inside an id (Matrix's `!room:server`, `@user:server`) is percent-encoded so the
three parts always split back apart."""
from dataclasses import dataclass
from urllib.parse import quote, unquote

DIRECT = "dm"


@dataclass(frozen=True)
class Resident:
    platform: str
    group_id: str | None  # None in a one-to-one chat
    user_id: str
    display_name: str | None = None

    @property
    def sender_id(self) -> str:
        return ":".join(_encode(part) for part in (self.platform, self.group_id or DIRECT, self.user_id))


def _encode(part: str) -> str:
    return quote(part, safe="") if (":" in part or "%" in part) else part


def sender_id(platform: str, group_id: str | None, user_id: str) -> str:
    return Resident(platform, group_id, user_id).sender_id


def resident_from(sender: str, metadata: dict | None = None) -> Resident:
    """The resident behind a sender id; any other id (rasa shell's "default") is a direct chat."""
    metadata = metadata or {}
    parts = sender.split(":", 2)
    if len(parts) == 3 and all(parts):
        platform, group, user = (unquote(part) for part in parts)
        return Resident(platform, None if group == DIRECT else group, user, metadata.get("display_name"))
    return Resident("rest", None, sender, metadata.get("display_name"))
