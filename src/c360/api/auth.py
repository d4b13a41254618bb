"""Who is calling, and what they may see: API keys, web sessions, CSRF and response masking.

The management API accepts either ``Authorization: Bearer <key>`` or the ``c360_session``
cookie set by ``POST /auth/login``. A request authenticated by the cookie that changes
anything (any method but GET, HEAD, OPTIONS) must carry the session's CSRF token as
``X-CSRF-Token``; bearer requests need none (a browser never adds a bearer key by itself).

:class:`MaskResponses` masks personal data in every ``/api`` response for roles the field
policy (:mod:`c360.privacy.roles`) does not allow to see it: one place, so no route forgets.
"""

import codecs
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from c360.api.errors import ErrorBody
from c360.api.inputs import NoNulInput
from c360.errors import Forbidden, Unauthorized
from c360.kernel.clock import Clock, isoformat_us, system_clock
from c360.privacy import audit
from c360.privacy.keys import ApiKey, KeyCache
from c360.privacy.masking import CsvMasker, LineMasker, Masker
from c360.privacy.roles import CAPABILITIES, PiiField, Role, hidden_fields
from c360.privacy.users import (
    Session,
    SessionPolicy,
    TooManyAttempts,
    csrf_matches,
    csrf_token_for,
    find_session,
    sign_in,
    sign_out,
)

COOKIE = "c360_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MASKING_STATE = "masking"
"""``request.state.masking``: the kinds of personal data masked in the response."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request comes from: a key or a signed-in user, with the role they act under."""

    actor: audit.Actor
    role: Role
    api_key: ApiKey | None = None
    session: Session | None = None


class SessionAuth:
    """Web sessions for one app: the store, how long sessions last, the clock."""

    def __init__(
        self,
        engine: Engine,
        policy: SessionPolicy,
        *,
        clock: Clock = system_clock,
        cookie_secure: bool | None = None,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.clock = clock
        self.cookie_secure = cookie_secure

    def session_of(self, request: Request) -> tuple[Session, str] | None:
        """The live session of the request's cookie, with the cookie's token."""
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        with self.engine.begin() as conn:
            found = find_session(conn, token, policy=self.policy, now_us=self.clock())
        return (found, token) if found is not None else None

    def secure(self, request: Request) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return request.url.scheme == "https"


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def identify(
    request: Request,
    authorization: str | None,
    keys: KeyCache,
    sessions: SessionAuth | None,
) -> Caller:
    """The caller of a management request, or Unauthorized / Forbidden (a writer key, a
    cookie request without its CSRF token)."""
    client = client_of(request)
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("send a key as Authorization: Bearer <key>, or sign in")
        key = keys.lookup(token.strip())
        if key is None:
            raise Unauthorized("the key is not valid, was revoked, or its grace period ended")
        if key.role is Role.WRITER:
            raise Forbidden("a writer key can only send messages to /v1; use a key with a role")
        return Caller(audit.Actor(key.actor_name, key.role.value, client), key.role, api_key=key)
    found = sessions.session_of(request) if sessions is not None else None
    if found is None:
        raise Unauthorized(
            "sign in (POST /auth/login) or send a key as Authorization: Bearer <key>"
        )
    session, token = found
    if request.method not in SAFE_METHODS and not csrf_matches(
        token, request.headers.get(CSRF_HEADER)
    ):
        raise Forbidden(
            "a request signed in by cookie must send the session's CSRF token as X-CSRF-Token"
        )
    user = session.user
    return Caller(audit.Actor(user.actor_name, user.role.value, client), user.role, session=session)


class LoginIn(NoNulInput):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class MeOut(BaseModel):
    kind: str = Field(description="user (signed in by cookie) or key (a bearer key)")
    name: str = Field(description="The username or the key's name")
    role: str
    display_name: str | None = None
    csrf_token: str | None = Field(
        None, description="Send as X-CSRF-Token on every non-GET request made with the cookie"
    )
    expires_at: str | None = Field(None, description="When the session ends at the latest")
    capabilities: list[str] = Field(
        default_factory=list, description="What the role may do (the web app shows only these)"
    )
    masked: list[str] = Field(
        default_factory=list, description="Kinds of personal data masked for the role"
    )


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON"},
    401: {"model": ErrorBody, "description": "Wrong username or password, or not signed in"},
    429: {"model": ErrorBody, "description": "Too many failed sign-ins; see Retry-After"},
}


def build_auth_router(sessions: SessionAuth, keys: KeyCache) -> APIRouter:
    """``/auth/login``, ``/auth/logout`` and ``/auth/me`` for the web app."""
    router = APIRouter(prefix="/auth", tags=["auth"])

    @router.post("/login", response_model=MeOut, responses=AUTH_ERRORS)
    def login(body: LoginIn, request: Request, response: Response) -> Any:
        """Sign in: sets the ``c360_session`` cookie (HttpOnly, SameSite=Strict, Secure over
        HTTPS) and returns the CSRF token the page sends back as ``X-CSRF-Token``."""
        failure: Unauthorized | TooManyAttempts | None = None
        with sessions.engine.begin() as conn:
            try:
                opened = sign_in(
                    conn,
                    body.username,
                    body.password,
                    client=client_of(request),
                    policy=sessions.policy,
                    clock=sessions.clock,
                )
            except (Unauthorized, TooManyAttempts) as exc:
                failure = exc  # the failure is in the audit log: commit it, then answer
        if isinstance(failure, TooManyAttempts):
            return JSONResponse(
                {"code": failure.code, "message": str(failure)},
                status_code=429,
                headers={"Retry-After": str(failure.retry_after_s)},
            )
        if failure is not None:
            raise failure
        session = opened.session
        response.set_cookie(
            COOKIE,
            opened.token,
            max_age=int(sessions.policy.absolute_s),
            path="/",
            secure=sessions.secure(request),
            httponly=True,
            samesite="strict",
        )
        response.headers["Cache-Control"] = "no-store"
        return _me_of_session(session, opened.csrf_token)

    @router.post(
        "/logout",
        status_code=204,
        responses={
            **AUTH_ERRORS,
            403: {"model": ErrorBody, "description": "Signed in, but no CSRF token sent"},
        },
    )
    def logout(request: Request) -> Response:
        """Sign out: the session ends on the server and the cookie is cleared."""
        found = sessions.session_of(request)
        if found is not None:
            session, token = found
            if not csrf_matches(token, request.headers.get(CSRF_HEADER)):
                raise Forbidden("sign out with the session's CSRF token as X-CSRF-Token")
            with sessions.engine.begin() as conn:
                sign_out(conn, session, client=client_of(request), now_us=sessions.clock())
        answer = Response(status_code=204)
        answer.delete_cookie(
            COOKIE, path="/", secure=sessions.secure(request), httponly=True, samesite="strict"
        )
        return answer

    @router.get("/me", response_model=MeOut, responses=AUTH_ERRORS)
    def me(
        request: Request,
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> MeOut:
        """Who is signed in (or whose key this is), with the session's CSRF token."""
        caller = identify(request, authorization, keys, sessions)
        if caller.session is not None:
            token = request.cookies.get(COOKIE, "")
            return _me_of_session(caller.session, csrf_token_for(token))
        key = caller.api_key
        assert key is not None
        return MeOut(kind="key", name=key.name, role=key.role.value, **_reach(key.role))

    return router


def _me_of_session(session: Session, csrf: str) -> MeOut:
    user = session.user
    return MeOut(
        kind="user",
        name=user.username,
        role=user.role.value,
        display_name=user.display_name,
        csrf_token=csrf,
        expires_at=isoformat_us(session.expires_at_us),
        **_reach(user.role),
    )


def _reach(role: Role) -> dict[str, list[str]]:
    return {
        "capabilities": sorted(c.value for c in CAPABILITIES[role]),
        "masked": sorted(f.value for f in hidden_fields(role)),
    }


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_ALL = frozenset(PiiField)


class MaskResponses:
    """ASGI middleware: masks personal data in ``/api`` responses for the caller's role.

    The management API's auth dependency puts the kinds to mask in ``request.state.masking``;
    a successful ``/api`` response without it is masked entirely (fail closed). JSON bodies
    are masked whole; CSV, JSON Lines and server-sent events as they stream."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        streaming: CsvMasker | LineMasker | None = None
        masker: Masker | None = None
        start: Message | None = None
        buffered: list[bytes] = []
        decoder = codecs.getincrementaldecoder("utf-8")("replace")

        async def masked_send(message: Message) -> None:
            nonlocal streaming, masker, start
            if message["type"] == "http.response.start":
                hidden = scope.get("state", {}).get(MASKING_STATE)
                status = int(message["status"])
                if hidden is None and 200 <= status < 300:
                    hidden = _ALL
                if not hidden:
                    await send(message)
                    return
                masker = Masker(hidden)
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"content-length"]
                kind = _content_type(message.get("headers", []))
                if kind == "application/json":
                    start = {**message, "headers": headers}  # sent with the masked body
                    return
                if kind == "text/csv":
                    streaming = CsvMasker(masker)
                elif kind in ("application/x-ndjson", "text/event-stream"):
                    streaming = LineMasker(masker)
                else:
                    await send(message)
                    masker = None
                    return
                await send({**message, "headers": headers})
                return
            if message["type"] != "http.response.body" or masker is None:
                await send(message)
                return
            more = bool(message.get("more_body", False))
            chunk = bytes(message.get("body", b""))
            if start is not None:  # JSON: the whole body, then masked at once
                buffered.append(chunk)
                if more:
                    return
                body = masker.json_bytes(b"".join(buffered)) if any(buffered) else b""
                headers = [*start["headers"], (b"content-length", str(len(body)).encode())]
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            if isinstance(streaming, CsvMasker):
                text = streaming.feed(decoder.decode(chunk, final=not more), final=not more)
                out = text.encode("utf-8")
            elif streaming is not None:
                out = streaming.feed(chunk, final=not more)
            else:
                out = chunk
            await send({"type": "http.response.body", "body": out, "more_body": more})

        await self.app(scope, receive, masked_send)


def _content_type(headers: list[tuple[bytes, bytes]]) -> str:
    for key, value in headers:
        if key.lower() == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return ""
