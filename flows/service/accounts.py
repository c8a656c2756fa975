"""Who is who: accounts, passwords, sign-in with lockout, sessions that expire, and the admin's changes.

People come from configs/organisation.yaml and from the admin's user page; an account (table
`accounts`, in the data directory) holds a person's password hash and what the admin changed (unit,
roles, disabled). The effective organisation the engine sees is the file's people with those
changes, plus the people the admin added, minus the disabled ones.

- Passwords are hashed with argon2id (argon2-cffi, OWASP's first choice); no password exists
  outside demo data: an empty data directory asks for the first admin.
- After `max_failed_logins` wrong passwords an account is locked for `lock_minutes`; while locked
  even the right password fails. Unknown names and wrong passwords get the same message.
- A session is a random token kept in the browser session; the data directory keeps only its
  sha256, with the time of its last use: idle longer than `session_idle_minutes`, it has expired.
- Every change is recorded in `account_log` (who, when, what), never a password or its hash.
Writes are versioned (expected_version), so two processes counting wrong passwords lose none.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from flows.core.errors import FlowError, NotFound
from flows.core.moments import iso
from flows.core.org import Organisation, User
from flows.service.platform import PlatformSettings
from storage import ConflictError, Store

ACCOUNTS = "accounts"
SESSIONS = "sessions"
LOG = "account_log"
_HASHER = PasswordHasher()
_WRONG = "用户名或密码错误"


class SignInRefused(FlowError):
    """A sign-in, session or password change refused; the message says why in Chinese."""


def _plain(doc: dict | None) -> dict:
    return {k: v for k, v in (doc or {}).items() if not k.startswith("_")}


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, store: Store, org_file: Organisation, settings: PlatformSettings,
                 clock: Callable[[], datetime] = datetime.now):
        self.store = store
        self.org_file = org_file
        self.settings = settings
        self.clock = clock
        self._org_cache: tuple[tuple, Organisation] | None = None

    # ------------------------------------------------------------ the people
    def _accounts(self) -> dict[str, dict]:
        return {a["_key"]: a for a in self.store.all(ACCOUNTS)}

    def people(self) -> list[dict]:
        """Everyone: {id, name, unit, roles, disabled, source, has_password}, the file's people first."""
        accounts = self._accounts()
        rows = []
        for user in self.org_file.users:
            acc = accounts.get(user.id, {})
            rows.append({"id": user.id, "name": acc.get("name") or user.name, "unit": acc.get("unit") or user.unit,
                         "roles": list(acc.get("roles") or user.roles), "disabled": bool(acc.get("disabled")),
                         "source": "file", "has_password": bool(acc.get("password"))})
        known = {u.id for u in self.org_file.users}
        for key, acc in sorted(accounts.items()):
            if key not in known:
                rows.append({"id": key, "name": acc["name"], "unit": acc["unit"], "roles": list(acc["roles"]),
                             "disabled": bool(acc.get("disabled")), "source": "admin",
                             "has_password": bool(acc.get("password"))})
        return rows

    def organisation(self) -> Organisation:
        """The organisation the engine and the messages see: file people with the admin's changes."""
        # every step asks: the versions alone are a short query where the accounts are a JSON document each
        signature = tuple(sorted(self.store.versions(ACCOUNTS).items()))
        if self._org_cache is None or self._org_cache[0] != signature:
            users = [User(id=p["id"], name=p["name"], unit=p["unit"], roles=p["roles"])
                     for p in self.people() if not p["disabled"]]
            org = self.org_file.model_copy(update={"users": users})
            self._org_cache = (signature, org)
        return self._org_cache[1]

    def person(self, user_id: str) -> dict:
        found = next((p for p in self.people() if p["id"] == user_id), None)
        if found is None:
            raise NotFound(f"没有账号「{user_id}」")
        return found

    def needs_first_admin(self) -> bool:
        """True while no enabled person with an admin role can sign in (a new data directory)."""
        admin_roles = set(self.settings.admin_roles)
        return not any(p["has_password"] and not p["disabled"] and admin_roles & set(p["roles"])
                       for p in self.people())

    # ------------------------------------------------------------ passwords
    def _check_password(self, password: str) -> None:
        least = self.settings.security.min_password_length
        if not isinstance(password, str) or len(password) < least:
            raise SignInRefused(f"密码至少需要 {least} 个字符")
        if len(password) > 256:
            raise SignInRefused("密码过长（最多 256 个字符）")
        if password.strip() != password or not password.isprintable():
            raise SignInRefused("密码不能以空格开头或结尾，也不能含有控制字符")

    def _update(self, user_id: str, change: Callable[[dict], dict]) -> dict:
        for _ in range(20):  # another process may write the account meanwhile: read again and redo
            current = self.store.get(ACCOUNTS, user_id)
            doc = change(_plain(current))
            try:
                return self.store.put(ACCOUNTS, user_id, doc, expected_version=current["_version"] if current else 0)
            except ConflictError:
                continue
        raise FlowError(f"账号「{user_id}」正被同时修改，请稍后重试")

    def _log(self, by: str, user_id: str, action: str, detail: str = "") -> None:
        seq = self.store.next_sequence(LOG)
        self.store.put(LOG, f"{seq:08d}", {"at": iso(self.clock()), "by": by, "user": user_id,
                                           "action": action, "detail": detail})

    def log(self, limit: int = 100) -> list[dict]:
        """The newest changes first."""
        rows = sorted(self.store.all(LOG), key=lambda r: r["_key"], reverse=True)
        return [_plain(r) for r in rows[:limit]]

    # ------------------------------------------------------------ signing in
    def sign_in(self, user_id: str, password: str) -> str:
        """A new session's token, or SignInRefused (wrong name or password, locked, disabled)."""
        now = self.clock()
        user_id = (user_id or "").strip()
        person = next((p for p in self.people() if p["id"] == user_id), None)
        account = self.store.get(ACCOUNTS, user_id) if person else None
        if person is None or account is None or not account.get("password"):
            _HASHER.hash("same time for an unknown name")  # do not tell unknown names by speed
            raise SignInRefused(_WRONG)
        locked_until = account.get("locked_until")
        if locked_until and locked_until > iso(now):
            raise SignInRefused(f"账号已锁定，请于 {locked_until[11:16]} 之后再试，或请管理员重置密码")
        if person["disabled"]:
            raise SignInRefused("账号已停用，请联系管理员")
        try:
            _HASHER.verify(account["password"], password or "")
        except (VerificationError, InvalidHashError):
            sec = self.settings.security

            def wrong(doc: dict) -> dict:
                failed = int(doc.get("failed", 0)) + 1
                if failed >= sec.max_failed_logins:
                    return {**doc, "failed": 0, "locked_until": iso(now + timedelta(minutes=sec.lock_minutes))}
                return {**doc, "failed": failed}

            doc = self._update(user_id, wrong)
            if doc.get("locked_until") and doc["locked_until"] > iso(now):
                self._log("system", user_id, "locked", f"连续 {sec.max_failed_logins} 次密码错误")
                raise SignInRefused(f"密码连续错误 {sec.max_failed_logins} 次，账号已锁定 {sec.lock_minutes} 分钟") from None
            raise SignInRefused(_WRONG) from None
        self._update(user_id, lambda doc: {**doc, "failed": 0, "locked_until": None, "last_sign_in": iso(now)})
        token = secrets.token_urlsafe(32)
        self.store.put(SESSIONS, _token_key(token), {"user": user_id, "created": iso(now), "last_seen": iso(now)})
        return token

    def session_user(self, token: str | None) -> str:
        """The person a live session belongs to (its last use moved to now), or SignInRefused."""
        if not isinstance(token, str) or not token or len(token) > 100:
            raise SignInRefused("请先登录")
        key = _token_key(token)
        session = self.store.get(SESSIONS, key)
        if session is None or session.get("ended"):
            raise SignInRefused("请先登录")
        now = self.clock()
        idle = timedelta(minutes=self.settings.security.session_idle_minutes)
        if datetime.fromisoformat(session["last_seen"]) + idle < now:
            self.store.put(SESSIONS, key, {**_plain(session), "ended": iso(now), "why": "expired"})
            raise SignInRefused(f"超过 {self.settings.security.session_idle_minutes} 分钟未操作，请重新登录")
        person = next((p for p in self.people() if p["id"] == session["user"]), None)
        if person is None or person["disabled"]:
            raise SignInRefused("账号已停用，请联系管理员")
        if (now - datetime.fromisoformat(session["last_seen"])).total_seconds() >= 60:  # one write a minute at most
            self.store.put(SESSIONS, key, {**_plain(session), "last_seen": iso(now)})
        return session["user"]

    def sign_out(self, token: str | None) -> None:
        if not isinstance(token, str) or not token:
            return
        key = _token_key(token)
        session = self.store.get(SESSIONS, key)
        if session is not None and not session.get("ended"):
            self.store.put(SESSIONS, key, {**_plain(session), "ended": iso(self.clock()), "why": "signed out"})

    def change_password(self, user_id: str, old: str, new: str) -> None:
        account = self.store.get(ACCOUNTS, user_id)
        try:
            _HASHER.verify((account or {}).get("password") or "", old or "")
        except (VerificationError, InvalidHashError):
            raise SignInRefused("原密码不正确") from None
        self._check_password(new)
        if new == old:
            raise SignInRefused("新密码不能与原密码相同")
        hashed = _HASHER.hash(new)
        self._update(user_id, lambda doc: {**doc, "password": hashed, "password_changed_at": iso(self.clock()),
                                           "must_change": False})
        self._log(user_id, user_id, "password_changed")

    # ------------------------------------------------------------ the admin's changes
    def _check_person(self, name: str, unit: str, roles: list[str]) -> None:
        if not name or not name.strip() or len(name) > 50:
            raise FlowError("姓名：必填，最多 50 个字符")
        if unit not in self.org_file.unit_names:
            raise FlowError(f"单位：「{unit}」不在组织机构中")
        unknown = [r for r in roles if r not in self.org_file.role_names]
        if not roles or unknown:
            raise FlowError("角色：" + (f"「{'、'.join(unknown)}」不在组织机构中" if unknown else "至少选择一个"))

    def create_first_admin(self, user_id: str, name: str, unit: str, password: str) -> None:
        """Only while no admin can sign in: the first start of an empty data directory."""
        if not self.needs_first_admin():
            raise FlowError("已有管理员账号，请由管理员在「用户」页添加人员")
        admin_role = self.settings.admin_roles[0]
        known = next((p for p in self.people() if p["id"] == user_id), None)
        if known is not None and admin_role not in known["roles"]:
            raise FlowError(f"账号「{user_id}」已存在且不是管理员")
        if known is None:
            self.add_user("system", user_id, name, unit, [admin_role], password, must_change=False)
        else:
            self.reset_password("system", user_id, password, must_change=False)
        self._log("system", user_id, "first_admin")

    def add_user(self, by: str, user_id: str, name: str, unit: str, roles: list[str], password: str,
                 must_change: bool = True) -> None:
        import re

        if not re.fullmatch(r"[a-z][a-z0-9_]{1,31}", user_id or ""):
            raise FlowError("账号：以小写字母开头，只含小写字母、数字和下划线，2–32 个字符")
        if any(p["id"] == user_id for p in self.people()):
            raise FlowError(f"账号「{user_id}」已存在")
        self._check_person(name, unit, roles)
        self._check_password(password)
        hashed = _HASHER.hash(password)
        try:
            self.store.put(ACCOUNTS, user_id, {"name": name.strip(), "unit": unit, "roles": list(roles),
                                               "password": hashed, "must_change": must_change, "failed": 0,
                                               "created_at": iso(self.clock()), "created_by": by},
                           expected_version=0)
        except ConflictError:
            raise FlowError(f"账号「{user_id}」已存在") from None
        self._log(by, user_id, "added", f"{name}，{unit}，{'、'.join(roles)}")

    def set_user(self, by: str, user_id: str, *, name: str | None = None, unit: str | None = None,
                 roles: list[str] | None = None) -> None:
        person = self.person(user_id)
        name, unit, roles = name or person["name"], unit or person["unit"], roles or person["roles"]
        self._check_person(name, unit, roles)
        self._update(user_id, lambda doc: {**doc, "name": name.strip(), "unit": unit, "roles": list(roles),
                                           "updated_at": iso(self.clock()), "updated_by": by})
        self._log(by, user_id, "changed", f"{name}，{unit}，{'、'.join(roles)}")

    def set_disabled(self, by: str, user_id: str, disabled: bool) -> None:
        self.person(user_id)
        if by == user_id and disabled:
            raise FlowError("不能停用自己的账号")
        self._update(user_id, lambda doc: {**doc, "disabled": disabled, "updated_at": iso(self.clock()),
                                           "updated_by": by})
        self._log(by, user_id, "disabled" if disabled else "enabled")

    def reset_password(self, by: str, user_id: str, password: str, must_change: bool = True) -> None:
        """A new password set by an admin: the person is asked to choose their own at the next sign-in."""
        self.person(user_id)
        self._check_password(password)
        hashed = _HASHER.hash(password)
        self._update(user_id, lambda doc: {**doc, "password": hashed, "failed": 0, "locked_until": None,
                                           "must_change": must_change, "updated_at": iso(self.clock()),
                                           "updated_by": by})
        self._log(by, user_id, "password_reset")

    def must_change_password(self, user_id: str) -> bool:
        return bool((self.store.get(ACCOUNTS, user_id) or {}).get("must_change"))
