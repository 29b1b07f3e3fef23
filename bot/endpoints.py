"""The Rasa server's endpoints file, made from the one database URL: the tracker store keeps
conversations in the same database as the tickets (SQLite file or PostgreSQL)."""
from pathlib import Path

import yaml
from sqlalchemy.engine import make_url


def tracker_store(database_url: str) -> dict:
    """Rasa's SQL tracker store settings for `database_url`."""
    url = make_url(database_url)
    store = {"type": "SQL", "dialect": url.get_backend_name(), "db": url.database}
    for key, value in (("host", url.host), ("port", url.port), ("username", url.username),
                       ("password", url.password)):
        if value:
            store[key] = value
    return store


def write_endpoints(path: str | Path, database_url: str, action_url: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    content = {"action_endpoint": {"url": action_url}, "tracker_store": tracker_store(database_url)}
    Path(path).write_text("# Made by `python -m bot endpoints` from DATABASE_URL; do not edit.\n"
                          + yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8")
