"""Sign-in and sign-out, the caller's own account, API keys and the audit log (group admins)."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.operator_api.auth import SESSION_COOKIE, USERNAME, AuthError, AuthStore, Principal, session_token
from services.operator_api.config import OperatorApiSettings
from services.operator_api.entrypoints import authenticate, jsonable, require
from shared.keyring import USES


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64, description="用户名")
    password: str = Field(min_length=1, max_length=200, description="密码")


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    username: str = Field(min_length=2, max_length=64, pattern=USERNAME.pattern)
    password: str = Field(min_length=10, max_length=200)
    name: str = Field("", max_length=100)
    role: Literal["operator", "handler", "supervisor", "estate_manager", "region_quality", "group_admin"]
    estate_ids: list[str] = Field(default_factory=list)
    region_ids: list[str] = Field(default_factory=list)
    staff_id: str = Field("", max_length=64)


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=2, max_length=100, description="用途, e.g. CTI 呼叫中心, 扫描仪 3F")
    estate_ids: list[str] = Field(default_factory=list, description="项目范围; empty = the whole group")
    uses: list[Literal["operator_api", "phone", "letter", "fax", "web"]] = Field(
        default_factory=lambda: list(USES), min_length=1,
        description="用途: operator_api, phone (CTI), letter (scanners), fax (gateway), web (owners' app backend)")


def _me(p: Principal) -> dict[str, Any]:
    return {"username": p.id, "name": p.name, "role": p.role, "group_id": p.group_id, "staff_id": p.staff_id,
            "estate_ids": sorted(p.scope.estate_ids or []), "sees_personal_data": p.sees_pii}


def build_auth_router(auth: AuthStore, settings: OperatorApiSettings) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["auth 登录"])
    Admin = Annotated[Principal, Depends(require(settings, "group_admin"))]

    @router.post("/auth/login", summary="登录 Sign in", responses={401: {"description": "Wrong username or password"},
                                                                423: {"description": "Locked"},
                                                                429: {"description": "Too many attempts"}})
    async def login(body: LoginIn, request: Request):
        client = request.client.host if request.client else "?"
        try:
            token, expires, principal = await auth.login(body.username, body.password, client)
        except AuthError as exc:
            raise HTTPException(exc.status, exc.message) from exc
        await auth.audit(principal, "sign_in", principal.id, details={"client": client})
        response = JSONResponse({"token": token, "expires_at": expires.isoformat(), "account": _me(principal)})
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict",
                            secure=settings.environment == "production", max_age=settings.session_max_hours * 3600)
        return response

    @router.post("/auth/logout", summary="退出 Sign out")
    async def logout(request: Request):
        principal = await authenticate(request, settings)
        token = session_token(request)
        if token:
            await auth.logout(token)
        await auth.audit(principal, "sign_out", principal.id)
        response = JSONResponse({"status": "signed out"})
        response.delete_cookie(SESSION_COOKIE)
        return response

    @router.get("/auth/me", summary="当前用户 Who am I")
    async def me(request: Request):
        return _me(await authenticate(request, settings))

    @router.post("/admin/accounts", status_code=201, tags=["admin 管理"], summary="新建账号 Create an account")
    async def create_account(admin: Admin, body: AccountIn):
        wrong = [e for e in body.estate_ids if not admin.scope.allows(admin.group_id, e)]
        wrong += [r for r in body.region_ids if (auth.org.regions.get(r) or ("",))[0] != admin.group_id]
        if wrong:
            raise HTTPException(404, f"{wrong[0]!r} not found")
        if not await auth.create_account(body.username, body.password, role=body.role, group_id=admin.group_id,
                                         name=body.name, estate_ids=body.estate_ids, region_ids=body.region_ids,
                                         staff_id=body.staff_id):
            raise HTTPException(409, f"username {body.username!r} is taken")
        return {"username": body.username, "role": body.role}

    @router.post("/admin/api-keys", status_code=201, tags=["admin 管理"],
                 summary="创建接口密钥 Create an API key for an integration (shown once)")
    async def create_key(admin: Admin, body: KeyIn):
        wrong = [e for e in body.estate_ids if not admin.scope.allows(admin.group_id, e)]
        if wrong:
            raise HTTPException(404, f"estate {wrong[0]!r} not found")
        uses = sorted(set(body.uses))
        key, doc = await auth.create_key(admin, body.name, body.estate_ids, uses)
        await auth.audit(admin, "create_api_key", doc["key_id"], details={"name": body.name,
                                                                          "estate_ids": body.estate_ids, "uses": uses})
        return {"key": key, "key_id": doc["key_id"], "name": body.name, "estate_ids": body.estate_ids, "uses": uses,
                "note": "只显示一次，请妥善保存 shown once: store it now"}

    @router.get("/admin/api-keys", tags=["admin 管理"], summary="接口密钥 API keys of the group (no secrets)")
    async def list_keys(admin: Admin):
        return jsonable(await auth.list_keys(admin.group_id))

    @router.delete("/admin/api-keys/{key_id}", tags=["admin 管理"], summary="吊销 Revoke an API key")
    async def revoke_key(admin: Admin, key_id: str):
        if not await auth.revoke_key(admin, key_id):
            raise HTTPException(404, "key not found")
        await auth.audit(admin, "revoke_api_key", key_id)
        return {"key_id": key_id, "status": "revoked"}

    @router.get("/admin/audit", tags=["admin 管理"], summary="审计日志 Who viewed personal data and who changed what")
    async def audit_log(admin: Admin, actor: str | None = Query(None, max_length=64),
                        action: str | None = Query(None, max_length=64),
                        target: str | None = Query(None, max_length=200), limit: int = Query(200, ge=1, le=1000)):
        return jsonable(await auth.read_audit(admin.group_id, actor=actor, action=action, target=target,
                                              limit=limit))

    return router
