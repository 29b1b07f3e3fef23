"""The environment (环境变量): every variable the bot, the worker and the console read, and its default.

Each is read when asked, not at import, so a variable set after import (a test's monkeypatch)
counts. An empty variable counts as unset. docs/deployment.md says where an operator sets them.
"""
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The one database of tickets and conversations: DATABASE_URL, default the SQLite file `var/community.db`."""
    return os.environ.get("DATABASE_URL") or "sqlite:///var/community.db"


def redis_url() -> str | None:
    """Rasa's Redis lock store, for several Rasa servers: REDIS_URL, default none (no lock store)."""
    return os.environ.get("REDIS_URL") or None


def rasa_token() -> str | None:
    """The Rasa HTTP API's `--auth-token`: RASA_TOKEN, default none (the caller's fallback)."""
    return os.environ.get("RASA_TOKEN") or None


def rasa_url() -> str:
    """Where the console reaches the Rasa server: RASA_URL, default `http://127.0.0.1:5005`."""
    return os.environ.get("RASA_URL") or "http://127.0.0.1:5005"


def faq_file() -> Path:
    """The FAQ file imported into an empty database and scored by eval-faq: FAQ_FILE, default the sample."""
    return Path(os.environ.get("FAQ_FILE") or "faq/sample_faq.yml")


def office_hours() -> str:
    """Office hours of a community the directory gives none: OFFICE_HOURS, default 周一至周五 8:30-17:30."""
    return os.environ.get("OFFICE_HOURS") or "周一至周五 8:30-17:30"


def media_dir() -> Path:
    """Where residents' photos and voice messages are kept: MEDIA_DIR, default `var/media` in the project."""
    return Path(os.environ.get("MEDIA_DIR") or ROOT / "var" / "media")


def media_retention_days() -> int:
    """Days media are kept after their ticket is closed: MEDIA_RETENTION_DAYS, default 180."""
    return _whole_number("MEDIA_RETENTION_DAYS", 180)


def media_per_resident_per_day() -> int:
    """Files one resident may send in 24 hours: MEDIA_PER_RESIDENT_PER_DAY, default 30."""
    return _whole_number("MEDIA_PER_RESIDENT_PER_DAY", 30)


def media_total_mb() -> int:
    """Megabytes all kept media may take together: MEDIA_TOTAL_MB, default 5120."""
    return _whole_number("MEDIA_TOTAL_MB", 5120)


def embedding_cache() -> Path:
    """Where embedded texts are kept between processes: EMBEDDING_CACHE, default `var/cache`."""
    return Path(os.environ.get("EMBEDDING_CACHE") or ROOT / "var" / "cache")


def console_host() -> str:
    """The address the staff console listens on: CONSOLE_HOST, default 127.0.0.1."""
    return os.environ.get("CONSOLE_HOST") or "127.0.0.1"


def console_port() -> int:
    """The staff console's port: CONSOLE_PORT, default 8080."""
    return int(os.environ.get("CONSOLE_PORT") or "8080")


def console_secret() -> str | None:
    """The console's cookie key, base64 of 32 bytes: CONSOLE_SECRET, default none (a key kept in a file)."""
    return os.environ.get("CONSOLE_SECRET") or None


def _whole_number(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name) or default)
    except ValueError:
        log.error("%s is not a whole number; using %s", name, default)
        return default
