"""Staff accounts for the console (工作人员账号): creating them, password hashing, logging in,
the sessions a login opens, and what an admin does to an account (停用, 重置密码, 结束会话).

Passwords are stored as Argon2id hashes (argon2-cffi's recommended parameters). Accounts made
before kept salted scrypt hashes (`scrypt$n$r$p$salt$hash`); those still verify and are
replaced by Argon2id at the account's next successful login.

Guessing is slowed per client (its remote address), never per account alone, so nobody can
lock another person out from elsewhere: `MAX_FAILED_LOGINS` wrong passwords for one name from
one client within `FAILURE_WINDOW` refuse that name from that client, and `MAX_CLIENT_FAILURES`
across all names refuse the client. Unknown names count exactly like real ones, so the answers
never tell which accounts exist.

A login is a row of `console_sessions` whose random id the cookie carries: ending the row ends
every copy of the cookie. It lasts `SESSION_TIME` at most, and ends when the account is disabled
or its password reset.
"""
import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.models import Community, Compound, ConsoleSession, LoginFailure, User

ROLES = {"admin": "管理员", "community_staff": "社区工作者", "branch_secretary": "小区党支部书记"}
MAX_FAILED_LOGINS = 5      # per account name and client
MAX_CLIENT_FAILURES = 20   # per client, across every name it tries
FAILURE_WINDOW = timedelta(minutes=15)
SESSION_TIME = timedelta(hours=12)
SEEN_EVERY = timedelta(minutes=1)  # `last_seen_at` is written at most this often, not at every page
HASHER = PasswordHasher()  # Argon2id, RFC 9106's low-memory profile


class UserError(ValueError):
    """A request the account rules refuse (unknown role, unknown community, taken name …)."""


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password: str, stored: str) -> bool:
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        _scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def needs_new_hash(stored: str) -> bool:
    """Whether a hash is of an older kind (scrypt) or has other parameters than `HASHER`'s."""
    return stored.startswith("scrypt$") or HASHER.check_needs_rehash(stored)


@cache  # made at the first need, not at import: every `python -m bot` command imports this module
def _dummy_hash() -> str:
    """Checked when the user name is unknown, so that a wrong name takes as long as a wrong password."""
    return hash_password(secrets.token_hex(8))


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(session: Session, username: str, role: str, password: str, now: datetime,
                communities: list[str] = (), compounds: list[str] = ()) -> User:
    """A new account covering the named communities (community staff) or compounds (secretaries)."""
    username = username.strip()
    if role not in ROLES:
        raise UserError(f"没有 {role!r} 这个角色，可用：{', '.join(ROLES)}")
    if not username:
        raise UserError("用户名为空")
    if len(password) < 8:
        raise UserError("密码至少要 8 个字符")
    if session.scalars(select(User).where(User.username == username)).first():
        raise UserError(f"用户 {username!r} 已经存在")
    if role == "community_staff" and not communities:
        raise UserError("社区工作者至少要用 --community 指定一个社区")
    if role == "branch_secretary" and not compounds:
        raise UserError("小区党支部书记至少要用 --compound 指定一个小区")
    user = User(username=username, role=role, password_hash=hash_password(password), created_at=now,
                communities=[_named(session, Community, name) for name in communities],
                compounds=[_named(session, Compound, name) for name in compounds])
    session.add(user)
    session.flush()
    return user


def _named(session: Session, model, name: str):
    row = session.scalars(select(model).where(model.name == name)).first()
    if row is None:
        raise UserError(f"组织架构里没有名为 {name!r} 的{'社区' if model is Community else '小区'}")
    return row


@dataclass(frozen=True)
class LoginResult:
    user: User | None                      # the account, when the password was right and it may log in
    refused_until: datetime | None = None  # this client tried too often: the password was not checked
    disabled: bool = False                 # the password was right, but the account is disabled


def authenticate(session: Session, username: str, password: str, client: str, now: datetime) -> LoginResult:
    """Check a login from `client`; count a wrong password or unknown name against the name and
    the client, and refuse a client that tried too often."""
    username, client = username.strip()[:100], client[:64]
    since = now - FAILURE_WINDOW
    session.execute(delete(LoginFailure).where(LoginFailure.at < since))  # forgotten once they no longer count
    refused_until = _refused_until(session, username, client, since)
    if refused_until:
        return LoginResult(None, refused_until)
    user = session.scalars(select(User).where(User.username == username)).first()
    right = verify_password(password, user.password_hash if user else _dummy_hash())  # as slow for unknown names
    if user is None or not right:
        session.add(LoginFailure(username=username, client=client, at=now))
        session.flush()
        return LoginResult(None, _refused_until(session, username, client, since))
    if user.disabled_at:
        return LoginResult(None, disabled=True)
    session.execute(delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.client == client))
    if needs_new_hash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    return LoginResult(user)


def _refused_until(session: Session, username: str, client: str, since: datetime) -> datetime | None:
    """Until when `client` is refused for `username`: when the oldest of the failures that
    reach a limit leaves the window. None when it may try."""
    ends = []
    for limit, which in ((MAX_FAILED_LOGINS, and_(LoginFailure.client == client, LoginFailure.username == username)),
                         (MAX_CLIENT_FAILURES, LoginFailure.client == client)):
        recent = session.scalars(select(LoginFailure.at).where(which, LoginFailure.at >= since)
                                 .order_by(LoginFailure.at.desc()).limit(limit)).all()
        if len(recent) >= limit:
            ends.append(recent[-1] + FAILURE_WINDOW)
    return max(ends, default=None)


def start_session(session: Session, user: User, now: datetime) -> str:
    """A new login of `user`; returns the id its cookie carries."""
    session.execute(delete(ConsoleSession).where(ConsoleSession.created_at <= now - SESSION_TIME))  # never live again
    session_id = secrets.token_urlsafe(32)
    session.add(ConsoleSession(id=session_id, user_id=user.id, created_at=now, last_seen_at=now))
    return session_id


def session_user_id(session: Session, session_id: str, now: datetime) -> int | None:
    """The account of a live login (not ended, not older than `SESSION_TIME`, its account not
    disabled), noting that it was seen; None for any other id."""
    row = session.scalars(select(ConsoleSession).join(User).where(
        ConsoleSession.id == session_id, ConsoleSession.ended_at.is_(None),
        ConsoleSession.created_at > now - SESSION_TIME, User.disabled_at.is_(None))).first()
    if row is None:
        return None
    if now - row.last_seen_at >= SEEN_EVERY:
        row.last_seen_at = now
    return row.user_id


def end_session(session: Session, session_id: str, now: datetime) -> None:
    session.execute(update(ConsoleSession).where(ConsoleSession.id == session_id, ConsoleSession.ended_at.is_(None))
                    .values(ended_at=now))


def end_sessions_of(session: Session, user_id: int, now: datetime) -> None:
    """Ends every login of the account."""
    session.execute(update(ConsoleSession).where(ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None))
                    .values(ended_at=now))


@dataclass(frozen=True)
class LiveSessions:
    count: int
    last_seen_at: datetime


def live_sessions(session: Session, now: datetime) -> dict[int, LiveSessions]:
    """user id → that account's live logins: how many, and when one was last used."""
    rows = session.execute(select(ConsoleSession.user_id, func.count(), func.max(ConsoleSession.last_seen_at)).where(
        ConsoleSession.ended_at.is_(None), ConsoleSession.created_at > now - SESSION_TIME)
        .group_by(ConsoleSession.user_id))
    return {user_id: LiveSessions(count, last_seen_at) for user_id, count, last_seen_at in rows}


def set_disabled(session: Session, user: User, disabled: bool, now: datetime) -> None:
    """停用 (its logins end with it) or 启用 an account."""
    user.disabled_at = now if disabled else None
    if disabled:
        end_sessions_of(session, user.id, now)


def reset_password(session: Session, user: User, now: datetime) -> str:
    """A new generated password for the account (returned, to be shown once); whoever was
    logged in with the old one is logged out."""
    password = generate_password()
    user.password_hash = hash_password(password)
    end_sessions_of(session, user.id, now)
    return password


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
