"""The Rasa server's endpoints file, made from the one database URL: the tracker store keeps
conversations in the same database as the tickets (SQLite file or PostgreSQL). With
`REDIS_URL` set (several Rasa servers behind a load balancer), Rasa's Redis lock store (made
atomic: `connectors.lock_store`) makes them take one conversation's messages one at a time, in
order. And the token of the Rasa server's HTTP API (`rasa_token`)."""
import secrets
from pathlib import Path

import yaml
from sqlalchemy.engine import make_url

from bot import settings

# Rasa's SQL tracker store with the connectors' guard: one conversation's database error (a lone
# surrogate in a sender id) is that conversation's, not the end of the server.
GUARDED_TRACKER_STORE = "connectors.rasa_patches.GuardedSQLTrackerStore"
LOCK_STORE = "connectors.lock_store.AtomicRedisLockStore"

def tracker_store(database_url: str) -> dict:
    """Rasa's SQL tracker store settings for `database_url`."""
    url = make_url(database_url)
    store = {"type": "SQL", "dialect": url.get_backend_name(), "db": url.database}
    for key, value in (("host", url.host), ("port", url.port), ("username", url.username),
                       ("password", url.password), ("query", dict(url.query))):
        if value:
            store[key] = value
    return store


def lock_store(redis_url: str) -> dict:
    """Rasa's Redis lock store settings for `redis://host:port/db`, with an optional
    `?key_prefix=` (letters and digits) when several bots share one Redis."""
    url = make_url(redis_url)
    store = {"type": LOCK_STORE, "url": url.host or "localhost", "port": url.port or 6379,
             "db": int(url.database or 1)}
    if url.password:
        store["password"] = url.password
    if url.query.get("key_prefix"):
        store["key_prefix"] = url.query["key_prefix"]
    return store


def write_endpoints(path: str | Path, database_url: str, action_url: str, redis_url: str | None = None) -> None:
    """Write the endpoints file; `redis_url` (default: the `REDIS_URL` variable) adds the lock store."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # in the endpoints file Rasa hands the store the `url` entry as its host (and refuses a `host`)
    store = {"url" if key == "host" else key: value for key, value in tracker_store(database_url).items()}
    store["type"] = GUARDED_TRACKER_STORE
    content = {"action_endpoint": {"url": action_url}, "tracker_store": store}
    redis_url = redis_url or settings.redis_url()
    if redis_url:
        content["lock_store"] = lock_store(redis_url)
    Path(path).write_text("# Made by `python -m bot endpoints` from DATABASE_URL; do not edit.\n"
                          + yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8")


def rasa_token(path: str | Path) -> str:
    """The token `rasa run --auth-token` asks of every call to its HTTP API (read a conversation,
    add events to it): `RASA_TOKEN`, else the one kept in `path`, made on the first start and
    readable by its owner only."""
    if token := settings.rasa_token():
        return token
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        # hex: a token starting with "-" would be taken by `rasa run` for an option
        path.write_text(secrets.token_hex(32) + "\n", encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()
