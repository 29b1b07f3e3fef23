"""Staff accounts for the console (工作人员账号): creating them, password hashing, logging in.

Passwords are stored as salted scrypt hashes (`scrypt$n$r$p$salt$hash`, base64). After
`MAX_FAILED_LOGINS` wrong passwords in a row an account is locked for `LOCK_TIME`, so a
password cannot be guessed by trying many.
"""
import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.models import Community, Compound, User

ROLES = {"admin": "管理员", "community_staff": "社区工作者", "branch_secretary": "小区党支部书记"}
MAX_FAILED_LOGINS = 5
LOCK_TIME = timedelta(minutes=15)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1


class UserError(ValueError):
    """A request the account rules refuse (unknown role, unknown community, taken name …)."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


# Checked when the user name is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(session: Session, username: str, role: str, password: str, now: datetime,
                communities: list[str] = (), compounds: list[str] = ()) -> User:
    """A new account covering the named communities (community staff) or compounds (secretaries)."""
    username = username.strip()
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if not username:
        raise UserError("the user name is empty")
    if len(password) < 8:
        raise UserError("the password needs at least 8 characters")
    if session.scalars(select(User).where(User.username == username)).first():
        raise UserError(f"the user {username!r} exists already")
    if role == "community_staff" and not communities:
        raise UserError("community staff need at least one --community")
    if role == "branch_secretary" and not compounds:
        raise UserError("a branch secretary needs at least one --compound")
    user = User(username=username, role=role, password_hash=hash_password(password), failed_logins=0,
                created_at=now, communities=[_named(session, Community, name) for name in communities],
                compounds=[_named(session, Compound, name) for name in compounds])
    session.add(user)
    session.flush()
    return user


def _named(session: Session, model, name: str):
    row = session.scalars(select(model).where(model.name == name)).first()
    if row is None:
        raise UserError(f"no {model.__tablename__[:-1]} named {name!r} in the org directory")
    return row


@dataclass(frozen=True)
class LoginResult:
    user: User | None          # the account, when the password was right
    locked_until: datetime | None = None  # set when the account is locked


def authenticate(session: Session, username: str, password: str, now: datetime) -> LoginResult:
    """Check a login; count wrong passwords and lock the account after too many."""
    user = session.scalars(select(User).where(User.username == username.strip())).first()
    if user is None:
        verify_password(password, _DUMMY_HASH)
        return LoginResult(None)
    if user.locked_until and user.locked_until > now:
        return LoginResult(None, user.locked_until)
    if not verify_password(password, user.password_hash):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.failed_logins = 0
            user.locked_until = now + LOCK_TIME
            return LoginResult(None, user.locked_until)
        return LoginResult(None)
    user.failed_logins = 0
    user.locked_until = None
    return LoginResult(user)


def ensure_admin(engine: Engine, credentials_file: Path, now: datetime) -> str | None:
    """On the first start: create the `admin` account with a generated password, write the
    credentials to `credentials_file` (readable by its owner only) and return the password.
    Returns None when any admin exists already."""
    with Session(engine, future=True) as session, session.begin():
        if session.scalar(select(func.count()).select_from(User).where(User.role == "admin")):
            return None
        password = generate_password()
        create_user(session, "admin", "admin", password, now)
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    credentials_file.touch(mode=0o600)
    credentials_file.write_text(f"user: admin\npassword: {password}\n", encoding="utf-8")
    return password
