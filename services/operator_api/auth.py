"""Sign-in, sessions, API keys, scope and the audit log of the operator API.

People sign in with a username and password (argon2id hashes) and get an opaque session token (cookie
`cc_session`, HttpOnly, SameSite=Strict, Secure outside development; or `Authorization: Bearer`), valid
for `session_idle_minutes` after the last use and at most `session_max_hours`. Integrations use API keys
(`X-Api-Key`), created and revoked by a group admin; only hashes are stored, for sessions and keys alike.
Five wrong passwords lock an account for 15 minutes; sign-in is rate limited per client address.
Every principal has a scope (a group, and within it regions or estates) that every query and command takes.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.contracts import ApiKeyChanged, Envelope
from shared.keyring import digest
from shared.org import ROOT, OrgDirectory
from shared.outbox import OutboxRelay, outbox_doc, outbox_entries
from shared.ratelimit import SharedRateLimiter
from shared.scope import Scope
from shared.settings import ServiceSettings

ROLES = ("operator", "handler", "supervisor", "estate_manager", "region_quality", "group_admin")
PII_ROLES = frozenset({"operator", "handler", "supervisor", "estate_manager", "group_admin"})
SESSION_COOKIE = "cc_session"
MAX_FAILURES = 5
LOCK_MINUTES = 15
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{1,63}$")
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def session_token(request: Any) -> str | None:
    """The session token a request carries: `Authorization: Bearer …`, else the session cookie."""
    bearer = request.headers.get("authorization", "")
    return bearer[7:].strip() if bearer.lower().startswith("bearer ") else request.cookies.get(SESSION_COOKIE)


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" | "key" | "dev"
    id: str
    role: str
    group_id: str
    scope: Scope
    name: str = ""
    staff_id: str = ""

    @property
    def sees_pii(self) -> bool:
        return self.kind == "user" and self.role in PII_ROLES


class AuthStore:
    def __init__(self, db: AsyncDatabase, org: OrgDirectory, *, idle_minutes: int, max_hours: int,
                 login_per_minute: int, settings: ServiceSettings, key_relay: OutboxRelay) -> None:
        self.db = db
        self.org = org
        self.settings = settings
        self.key_relay = key_relay  # ApiKeyChanged for the intake services, from the api_keys documents' outbox
        self.idle = timedelta(minutes=idle_minutes)
        self.max_age = timedelta(hours=max_hours)
        self.login_limiter = SharedRateLimiter(db["ratelimits"], login_per_minute)  # across every instance

    async def ensure_indexes(self) -> None:
        await self.db["sessions"].create_index([("expires_at", 1)])
        await self.db["audit"].create_index([("group_id", 1), ("at", -1)])
        await self.db["api_keys"].create_index([("group_id", 1), ("key_id", 1)])  # a group's keys; revoke by id

    # ---- accounts -------------------------------------------------------------------------------------
    async def create_account(self, username: str, password: str, *, role: str, group_id: str, name: str = "",
                             estate_ids: list[str] | None = None, region_ids: list[str] | None = None,
                             staff_id: str = "") -> bool:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        if len(password) < 10:
            raise ValueError("a password has at least 10 characters")
        try:
            await self.db["accounts"].insert_one({
                "_id": username, "name": name or username, "role": role, "group_id": group_id,
                "estate_ids": estate_ids or [], "region_ids": region_ids or [], "staff_id": staff_id,
                "password_hash": _hasher.hash(password), "failed": 0, "locked_until": None, "disabled": False,
                "created_at": datetime.now(UTC)})
        except DuplicateKeyError:
            return False
        return True

    async def seed(self, path: str | Path) -> list[dict[str, Any]]:
        """Development accounts, one per role, and one API key per integration, created when missing (never in
        production)."""
        p = Path(path)
        data = yaml.safe_load((p if p.is_absolute() else ROOT / p).read_text(encoding="utf-8"))
        for a in data["accounts"]:
            await self.create_account(a["username"], data["password"], role=a["role"], group_id=a["group_id"],
                                      name=a.get("name", ""), estate_ids=a.get("estate_ids"),
                                      region_ids=a.get("region_ids"), staff_id=a.get("staff_id", ""))
        for k in data.get("api_keys", []):
            with contextlib.suppress(DuplicateKeyError):
                await self.create_key(Principal("dev", "seed", "group_admin", k["group_id"], Scope(k["group_id"])),
                                      k["name"], k.get("estate_ids", []), k["uses"], key=k["key"])
        return data["accounts"]

    def scope_of(self, group_id: str, estate_ids: list[str], region_ids: list[str]) -> Scope:
        if not estate_ids and not region_ids:
            return Scope(group_id=group_id, estate_ids=frozenset(e.id for e in self.org.estates_of(group_id)))
        estates = set(estate_ids)
        for rid in region_ids:
            found = self.org.regions.get(rid)
            if found and found[0] == group_id:
                estates |= {e.id for e in found[1].estates}
        return Scope(group_id=group_id, estate_ids=frozenset(estates))

    def _principal(self, account: dict[str, Any]) -> Principal:
        return Principal("user", account["_id"], account["role"], account["group_id"],
                         self.scope_of(account["group_id"], account["estate_ids"], account["region_ids"]),
                         account.get("name", ""), account.get("staff_id", ""))

    # ---- sessions -------------------------------------------------------------------------------------
    async def login(self, username: str, password: str, client: str) -> tuple[str, datetime, Principal]:
        if not await self.login_limiter.allow(client):
            raise AuthError(429, "登录过于频繁，请稍后再试 too many sign-in attempts; try again in a minute")
        # a name no account can have is never looked up (nor are control characters sent to the database)
        account = await self.db["accounts"].find_one({"_id": username}) if USERNAME.match(username) else None
        now = datetime.now(UTC)
        if account is None or account.get("disabled"):
            _hasher.hash(password)  # same work either way: no timing hint that the name is unknown
            raise AuthError(401, "用户名或密码错误 wrong username or password")
        locked = account.get("locked_until")
        if locked and locked.replace(tzinfo=UTC) > now:
            raise AuthError(423, "账号已锁定，请15分钟后再试 account locked after repeated failures")
        try:
            _hasher.verify(account["password_hash"], password)
        except (VerifyMismatchError, VerificationError, InvalidHashError) as exc:
            # counted atomically: failures on several instances at once all count
            after = await self.db["accounts"].find_one_and_update(
                {"_id": username}, {"$inc": {"failed": 1}}, return_document=ReturnDocument.AFTER)
            if after is not None and after.get("failed", 0) >= MAX_FAILURES:
                await self.db["accounts"].update_one({"_id": username}, {"$set": {
                    "failed": 0, "locked_until": now + timedelta(minutes=LOCK_MINUTES)}})
            raise AuthError(401, "用户名或密码错误 wrong username or password") from exc
        if _hasher.check_needs_rehash(account["password_hash"]):
            await self.db["accounts"].update_one({"_id": username},
                                                 {"$set": {"password_hash": _hasher.hash(password)}})
        await self.db["accounts"].update_one({"_id": username}, {"$set": {"failed": 0, "locked_until": None,
                                                                          "last_login_at": now}})
        token = "ccs_" + secrets.token_urlsafe(32)
        expires = now + self.idle
        await self.db["sessions"].insert_one({"_id": digest(token), "account": username, "created_at": now,
                                              "expires_at": expires, "client": client})
        return token, expires, self._principal(account)

    async def logout(self, token: str) -> None:
        await self.db["sessions"].delete_one({"_id": digest(token)})

    async def from_session(self, token: str) -> Principal | None:
        now = datetime.now(UTC)
        s = await self.db["sessions"].find_one({"_id": digest(token)})
        if s is None or s["expires_at"].replace(tzinfo=UTC) <= now or \
                s["created_at"].replace(tzinfo=UTC) + self.max_age <= now:
            return None
        account = await self.db["accounts"].find_one({"_id": s["account"]})
        if account is None or account.get("disabled"):
            return None
        if s["expires_at"].replace(tzinfo=UTC) - now < self.idle / 2:  # sliding: refreshed while in use
            await self.db["sessions"].update_one({"_id": s["_id"]}, {"$set": {"expires_at": now + self.idle}})
        return self._principal(account)

    # ---- API keys -------------------------------------------------------------------------------------
    def _key_changed(self, doc: dict[str, Any], at: datetime, revoked: bool) -> Envelope[ApiKeyChanged]:
        return Envelope[ApiKeyChanged](
            type="ApiKeyChanged", correlation_id=uuid.uuid5(uuid.NAMESPACE_URL, f"apikey:{doc['key_id']}"),
            group_id=doc["group_id"], estate_id="*", complaint_id=f"apikey:{doc['key_id']}",
            payload=ApiKeyChanged(key_id=doc["key_id"], key_hash=doc["_id"], name=doc["name"],
                                  estate_ids=doc["estate_ids"], uses=doc["uses"], revoked=revoked, changed_at=at))

    async def create_key(self, by: Principal, name: str, estate_ids: list[str], uses: list[str],
                         key: str | None = None) -> tuple[str, dict[str, Any]]:
        """A new key (shown once; only its hash is kept), announced to the intake services through the outbox."""
        key = key or "cck_" + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        doc = {"_id": digest(key), "key_id": "k-" + secrets.token_hex(4), "name": name, "group_id": by.group_id,
               "estate_ids": estate_ids, "uses": uses, "created_by": by.id, "created_at": now, "revoked_at": None,
               "prefix": key[:8]}
        doc.update(outbox_doc(self.settings, [self._key_changed(doc, now, revoked=False)]))
        await self.db["api_keys"].insert_one(doc)
        await self.key_relay.try_flush(doc["_id"], doc["outbox"])
        return key, doc

    async def revoke_key(self, by: Principal, key_id: str) -> bool:
        doc = await self.db["api_keys"].find_one({"key_id": key_id, "group_id": by.group_id, "revoked_at": None})
        if doc is None:
            return False
        now = datetime.now(UTC)
        entries = outbox_entries(self.settings, [self._key_changed(doc, now, revoked=True)])
        r = await self.db["api_keys"].update_one({"_id": doc["_id"], "revoked_at": None}, {"$set": {
            "revoked_at": now, "revoked_by": by.id, **entries}})
        if r.matched_count == 1:
            await self.key_relay.try_flush(doc["_id"])
        return r.matched_count == 1

    async def list_keys(self, group_id: str) -> list[dict[str, Any]]:
        rows = await self.db["api_keys"].find({"group_id": group_id}, {"_id": 0, "outbox": 0}) \
            .sort("created_at", -1).to_list(None)
        return rows

    async def from_key(self, key: str) -> Principal | None:
        doc = await self.db["api_keys"].find_one({"_id": digest(key)})
        if doc is None or doc.get("revoked_at") or "operator_api" not in doc.get("uses", ["operator_api"]):
            return None
        return Principal("key", doc["key_id"], "integration", doc["group_id"],
                         self.scope_of(doc["group_id"], doc["estate_ids"], []), doc["name"])

    # ---- audit ----------------------------------------------------------------------------------------
    async def audit(self, who: Principal, action: str, target: str = "", estate_id: str = "",
                    details: dict[str, Any] | None = None) -> None:
        await self.db["audit"].insert_one({"at": datetime.now(UTC), "group_id": who.group_id, "actor": who.id,
                                           "actor_kind": who.kind, "role": who.role, "action": action,
                                           "target": target, "estate_id": estate_id, "details": details or {}})

    async def read_audit(self, group_id: str, *, actor: str | None = None, action: str | None = None,
                         target: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        flt: dict[str, Any] = {"group_id": group_id}
        for k, v in (("actor", actor), ("action", action), ("target", target)):
            if v:
                flt[k] = v
        rows = await self.db["audit"].find(flt, {"_id": 0}).sort("at", -1).limit(limit).to_list(None)
        return rows


def install_audit(app: Any, auth: AuthStore) -> None:
    """Every change that succeeded (POST, PUT, PATCH, DELETE) is written to the audit log with who made it,
    before the response goes out. Plain ASGI (shared.gate explains why): the entry is written when the route
    starts its response, whose status is then known."""
    app.add_middleware(AuditChanges, auth=auth)


class AuditChanges:
    def __init__(self, app: Any, auth: AuthStore) -> None:
        self.app, self.auth = app, auth

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH", "DELETE") \
                or scope["path"].startswith("/api/v1/auth/"):
            await self.app(scope, receive, send)
            return

        async def audited(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                principal = scope.get("state", {}).get("principal")  # what the route's `request.state` holds
                if principal:
                    route = scope.get("route")
                    await self.auth.audit(principal, f"{scope['method']} {getattr(route, 'path', scope['path'])}",
                                          scope["path"], details={"status": message["status"]})
            await send(message)

        await self.app(scope, receive, audited)
