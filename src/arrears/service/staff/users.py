"""Staff users, their sessions and the integrations' API tokens.

* Passwords are hashed with Argon2id (``argon2-cffi``'s defaults, rehashed when they change);
  a wrong password and an unknown user answer the same, in about the same time.
* After :data:`LOCK_AFTER` failures in a row a name is locked for :data:`LOCK_MINUTES` (a
  success resets the count); attempts are counted atomically in the store, per name whether
  the user exists or not, and every refusal answers the same (:func:`authenticate`).
* A session is a random token in a cookie; the store keeps only its SHA-256, with a CSRF token
  and an expiry (:data:`SESSION_HOURS`).
* An API token (``arr_<id>_<secret>``) is shown once; the store keeps its SHA-256 and scopes
  (``read``, ``write``).
* Who viewed whose personal data is logged (:func:`log_access`).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update

from arrears.bootstrap import App
from arrears.service.errors import Conflict, Invalid, ServiceError
from arrears.service.store import require_current
from arrears.store import tables as t
from arrears.store.db import as_utc

ROLES = ("admin", "strategy_manager", "supervisor", "collector", "field_agent", "compliance",
         "agency")  # fmt: skip
SCOPES = ("read", "write")
LOCK_AFTER = 5
LOCK_MINUTES = 15
SESSION_HOURS = 12
MIN_PASSWORD = 10

_hasher = PasswordHasher()
#: verified against when the user does not exist, so both answers take as long
_DUMMY = _hasher.hash("arrears-no-such-user")


class AuthError(ServiceError):
    """Wrong credentials, a locked account, an expired session or token."""


@dataclass(frozen=True)
class Staff:
    user_id: str
    username: str
    display_name: str
    role: str
    agency: str | None
    collector_id: str | None
    queues: tuple[str, ...] = ()


#: the queues a role works when a supervisor has assigned none
DEFAULT_QUEUES: dict[str, tuple[str, ...]] = {
    "collector": ("early_callback", "mid_calls", "late_calls", "legal_desk", "call_back"),
    "field_agent": ("field",),
}


def work_queues(user: Staff) -> tuple[str, ...]:
    """The in-house queues ``user`` works: assigned ones, else the role's; none for an agency
    (it works what is placed with it)."""
    if user.role == "agency":
        return ()
    return user.queues or DEFAULT_QUEUES.get(user.role, DEFAULT_QUEUES["collector"])


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _staff(row: object) -> Staff:
    r = row._mapping  # type: ignore[attr-defined]
    queues = tuple(q for q in (r["queues"] or "").split(",") if q)
    return Staff(
        r["user_id"],
        r["username"],
        r["display_name"],
        r["role"],
        r["agency"],
        r["collector_id"],
        queues,
    )


def add_user(
    app: App,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    agency: str | None = None,
    collector_id: str | None = None,
    queues: list[str] | None = None,
) -> str:
    """A new staff user; returns the user id. An agency user belongs to one agency; a collector
    or field agent works the ``queues`` assigned."""
    require_current(app)
    if role not in ROLES:
        raise Invalid(f"role: expected one of {', '.join(ROLES)}, got {role!r}", field="role")
    if not username or len(username) > 64 or not username.replace("_", "").isalnum():
        raise Invalid("username: 1 to 64 letters, digits or _", field="username")
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password: at least {MIN_PASSWORD} characters", field="password")
    if (role == "agency") != bool(agency):
        raise Invalid("agency: an agency user names its agency; nobody else does", field="agency")
    user_id = f"u-{uuid.uuid4().hex[:12]}"
    with app.engine.begin() as conn:
        taken = conn.execute(
            select(t.staff_user.c.user_id).where(t.staff_user.c.username == username)
        ).first()
        if taken:
            raise Conflict(f"username: {username} is taken", field="username")
        conn.execute(
            insert(t.staff_user).values(
                user_id=user_id,
                username=username,
                display_name=display_name or username,
                role=role,
                agency=agency,
                collector_id=collector_id,
                queues=",".join(queues) if queues else None,
                password_hash=_hasher.hash(password),
                failed_logins=0,
                active=True,
                created_at=app.clock(),
            )
        )
    return user_id


#: the one answer to every refused sign-in: a wrong password, an unknown name and a locked
#: account look alike (the console translates it)
REFUSED = (f"wrong username or password, or too many failed sign-ins (after {LOCK_AFTER} in a "
           f"row, sign-in is locked for {LOCK_MINUTES} minutes)")  # fmt: skip


def authenticate(app: App, username: str, password: str) -> Staff:
    """The user whose password this is; :class:`AuthError` otherwise.

    Every refusal is the same error after the same work (an Argon2 verification, against a
    dummy hash when there is no user or the name is locked out), so neither the answer nor its
    time tells a wrong password from an unknown name or a locked account. Attempts are counted
    per name, known or not, in the store and before the password is checked
    (:func:`arrears.service.throttle.reserve`): concurrent guesses count one by one, and after
    :data:`LOCK_AFTER` in a row the name is locked for :data:`LOCK_MINUTES`."""
    from arrears.service.throttle import clear, reserve

    u = t.staff_user
    bucket = "staff:" + username.casefold()
    allowed = reserve(app, bucket, LOCK_AFTER, timedelta(minutes=LOCK_MINUTES))
    with app.engine.connect() as conn:
        row = conn.execute(select(u).where(u.c.username == username, u.c.active)).first()
    if row is None or not allowed:
        try:
            _hasher.verify(_DUMMY, password)
        except VerificationError:
            pass
        raise AuthError(REFUSED)
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise AuthError(REFUSED) from None
    clear(app, bucket)
    if _hasher.check_needs_rehash(row.password_hash):
        with app.engine.begin() as conn:
            conn.execute(
                update(u)
                .where(u.c.user_id == row.user_id)
                .values(password_hash=_hasher.hash(password))
            )
    return _staff(row)


def open_session(app: App, user_id: str) -> tuple[str, str]:
    """A new session for ``user_id``: (the cookie's token, the CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = app.clock()
    with app.engine.begin() as conn:
        conn.execute(delete(t.staff_session).where(t.staff_session.c.expires_at < now))
        conn.execute(
            insert(t.staff_session).values(
                token_hash=_digest(token),
                user_id=user_id,
                csrf=csrf,
                created_at=now,
                expires_at=now + timedelta(hours=SESSION_HOURS),
            )
        )
    return token, csrf


def session_user(app: App, token: str) -> tuple[Staff, str] | None:
    """The user and CSRF token of a live session, or None."""
    s, u = t.staff_session, t.staff_user
    with app.engine.connect() as conn:
        row = conn.execute(
            select(u, s.c.csrf, s.c.expires_at)
            .join(s, s.c.user_id == u.c.user_id)
            .where(s.c.token_hash == _digest(token), u.c.active)
        ).first()
    if row is None or as_utc(row.expires_at) <= app.clock():
        return None
    return _staff(row), str(row.csrf)


def close_session(app: App, token: str) -> None:
    with app.engine.begin() as conn:
        conn.execute(delete(t.staff_session).where(t.staff_session.c.token_hash == _digest(token)))


def create_token(app: App, name: str, scopes: list[str]) -> str:
    """A new API token for an integration; the secret is returned once and never stored."""
    require_current(app)
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise Invalid(f"scopes: choose from {', '.join(SCOPES)}", field="scopes")
    token_id = uuid.uuid4().hex[:12]
    secret = f"arr_{token_id}_{secrets.token_urlsafe(32)}"
    with app.engine.begin() as conn:
        conn.execute(
            insert(t.api_token).values(
                token_id=token_id,
                name=name,
                token_hash=_digest(secret),
                scopes=",".join(sorted(set(scopes))),
                created_at=app.clock(),
            )
        )
    return secret


def token_scopes(app: App, secret: str) -> tuple[str, set[str]] | None:
    """The name and scopes of a live API token, or None."""
    a = t.api_token
    with app.engine.connect() as conn:
        row = conn.execute(
            select(a.c.name, a.c.scopes).where(
                a.c.token_hash == _digest(secret), a.c.revoked_at.is_(None)
            )
        ).first()
    if row is None:
        return None
    return str(row.name), set(row.scopes.split(","))


def revoke_token(app: App, token_id: str) -> None:
    a = t.api_token
    with app.engine.begin() as conn:
        done = conn.execute(
            update(a)
            .where(a.c.token_id == token_id, a.c.revoked_at.is_(None))
            .values(revoked_at=app.clock())
        ).rowcount
    if done != 1:
        raise Invalid(f"token_id: {token_id} is not a live token", field="token_id")


def log_access(app: App, user: Staff, borrower_id: str, what: str, unmasked: bool) -> None:
    """Record that ``user`` viewed ``borrower_id``'s personal data."""
    with app.engine.begin() as conn:
        conn.execute(
            insert(t.access_log).values(
                at=app.clock(),
                user_id=user.user_id,
                borrower_id=borrower_id,
                what=what,
                unmasked=unmasked,
            )
        )


def known_queues(app: App) -> set[str]:
    """The queues work can be in: the strategy in force's, and the call-back queue."""
    from arrears.service.daily.cycle import strategy_from
    from arrears.service.outreach.worklist import CALL_BACK_QUEUE

    return {*strategy_from(app, None).queues, CALL_BACK_QUEUE}


def assign_queues(app: App, username: str, queues: list[str]) -> None:
    """Give ``username`` these work queues (a supervisor's assignment)."""
    assign_many(app, [username], queues)


def assign_many(app: App, usernames: list[str], queues: list[str]) -> None:
    """Give every one of ``usernames`` these work queues, all or none: only queues that exist
    (the strategy in force's, and the call-back queue) and only people who do; a typo is
    refused, never assigned."""
    known = known_queues(app)
    unknown = [q for q in queues if q not in known]
    if unknown:
        raise Invalid(
            f"queues: {', '.join(unknown)} is not a queue (there are {', '.join(sorted(known))})",
            field="queues",
        )
    if not usernames:
        raise Invalid("username: choose at least one person", field="username")
    u = t.staff_user
    with app.engine.begin() as conn:
        for name in usernames:
            done = conn.execute(
                update(u).where(u.c.username == name).values(queues=",".join(queues) or None)
            ).rowcount
            if done != 1:  # the transaction is rolled back: nobody was reassigned
                raise Invalid(f"username: {name} is not a user", field="username")
