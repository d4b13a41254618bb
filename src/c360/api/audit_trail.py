"""The management API's audit trail: one ASGI middleware that notes every request under
``/api`` that reads a person's data, exports, or changes anything, with who, what, when, from
where and the outcome.

Why a middleware and not a call in each route: a route added tomorrow is audited without anyone
remembering to, and requests refused before any route code runs (no key: 401, wrong role: 403,
a body that does not validate: 422) are seen too.

What is noted (docs/audit.md):

- every request that changes something (POST, PUT, PATCH, DELETE), whatever its outcome;
- reads of personal data: profiles and everything under them, searches, segment members,
  exports, feedback, the change feed, quarantined payloads, the audit log itself; reads of
  configuration only (segment and journey definitions, sources, data quality) are not;
- refused attempts (401, 403) on any route, at most ``denied_per_client`` per client address
  and ``denied_total`` overall per minute, so a flood of unauthenticated calls cannot fill the
  disk; how many were left out is written on the next entry that gets through.

A search's words are personal data (a name, a phone number): they are not written, not even
hashed (a phone number's hash is found again by hashing every phone number). The entry keeps
how many profiles were found and their ids, which is what a breach report needs. Path values
that are themselves identifiers (``by-identifier/{type}/{value}``, a suppressed address) are
written as a SHA-256 prefix; a profile read by identifier is written under the profile id the
answer carries.

Entries go through :class:`c360.privacy.audit.AuditBuffer` (a background thread appending in
batches): a read does not wait for a disk flush. A clean shutdown (the ASGI lifespan's end)
writes everything; a killed process loses at most the last ``flush_interval_s``.
"""

import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Engine

from c360.privacy.audit import Actor, AuditBuffer, Entry

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DENIED = frozenset({401, 403})

CONFIGURATION_READS = frozenset(
    {
        "/api/sources",
        "/api/quality",
        "/api/segments",
        "/api/segments/{name}",
        "/api/journeys",
        "/api/journeys/{name}",
        "/api/journeys/{name}/report",
        "/api/personalize/rules",
        "/api/personalize/rules/{name}",
    }
)
"""GET routes that show definitions and counts, not a person's data: not noted when allowed."""

VERBS = frozenset(
    {
        "assign",
        "cancel",
        "confirm",
        "decide",
        "download",
        "export",
        "import",
        "members",
        "pause",
        "preview",
        "reject",
        "report",
        "resolve",
        "resume",
        "revoke",
        "rotate",
        "run",
        "search",
        "split",
        "start",
        "stream",
        "verify",
        "withdraw",
    }
)
"""Path words that name what is done rather than a thing: ``/segments/{name}/export`` is
``segment.export``, ``/feedback/{id}/notes`` is ``note.create`` on the feedback item."""

IDENTIFYING_PARAMETERS = frozenset({"value", "address", "email", "phone"})
"""Path parameters holding an identifier: written as a hash prefix, never as sent."""

MAX_CAPTURE_BYTES = 4 * 1024 * 1024
MAX_PROFILE_IDS = 1000

_LIVE: "weakref.WeakSet[AuditBuffer]" = weakref.WeakSet()


def flush_pending(timeout_s: float = 10.0) -> None:
    """Write what this process's trails hold, so a query of the log sees every request
    answered before it."""
    for buffer in list(_LIVE):
        buffer.flush(timeout_s)


@dataclass(frozen=True, slots=True)
class Classified:
    """What a route does, for the log."""

    action: str
    object_type: str | None
    id_params: tuple[str, ...]  # path parameters that name the object, in path order
    view: str | None = None  # the part of a profile read (events, timeline...)
    noted_when_allowed: bool = True
    capture: bool = False  # read the JSON answer for the profile ids it shows
    export: bool = False


def _singular(word: str) -> str:
    word = word.replace("-", "_")
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _by_method(method: str, *, item: bool) -> str:
    if method in ("GET", "HEAD"):
        return "read" if item else "list"
    if method == "DELETE":
        return "delete"
    if method in ("PUT", "PATCH") or item:
        return "update"
    return "create"


@lru_cache(maxsize=1024)
def classify(method: str, template: str) -> Classified:
    """The action, object type and object id parameters of a route template: overrides for
    the routes whose names matter to investigations, a rule for the rest (so a route added
    later gets a sensible name without anyone editing this)."""
    reading = method in ("GET", "HEAD")
    parts = [p for p in template.removeprefix("/api").split("/") if p]
    params = tuple(p[1:-1].split(":")[0] for p in parts if p.startswith("{"))
    if template == "/api/profiles" and reading:
        return Classified("profile.search", "profile", (), capture=True)
    if template == "/api/profiles/by-identifier/{type}/{value}" and reading:
        return Classified("profile.read", "profile", (), view="by-identifier", capture=True)
    if parts[:2] == ["profiles", "{profile_id}"] and reading:
        view = "/".join(p for p in parts[2:] if not p.startswith("{")) or None
        return Classified("profile.read", "profile", ("profile_id",), view=view)
    if template == "/api/personalize/{profile_id}" and reading:
        return Classified("profile.read", "profile", ("profile_id",), view="personalize")
    if template == "/api/profiles/{profile_id}/split":
        return Classified("identity.split", "profile", ("profile_id",))
    if template == "/api/identity/reviews/{item_id}" and not reading:
        return Classified("identity.review", "identity_review", ("item_id",))
    first = next((i for i, p in enumerate(parts) if p.startswith("{")), len(parts))
    nouns = parts[:first]
    tail = [p for p in parts[first:] if not p.startswith("{")]
    verb: str | None = None
    if first == len(parts) and len(nouns) > 1 and nouns[-1] in VERBS:
        verb, nouns = nouns[-1], nouns[:-1]
    object_type = "_".join([*nouns[:-1], _singular(nouns[-1])]) if nouns else "api"
    if tail:
        last = tail[-1].replace("-", "_")
        if last in VERBS or reading:
            verb = last
        else:  # a thing under the object: POST /feedback/{id}/notes is note.create
            object_type_sub = _singular(last)
            return Classified(
                f"{object_type_sub}.{_by_method(method, item=False)}", object_type, params
            )
    action = f"{object_type}.{verb or _by_method(method, item=bool(params))}"
    return Classified(
        action,
        object_type,
        params,
        noted_when_allowed=not reading or template not in CONFIGURATION_READS,
        # the audit log's own answers name profiles by id only: reading them shows no one
        capture=reading and verb not in ("export", "stream") and object_type != "audit",
        export=verb in ("export", "download"),
    )


class DeniedLimiter:
    """How many refused requests are written per minute: ``per_client`` for one address,
    ``total`` for all; the rest are counted and the count is written with the next entry."""

    def __init__(self, per_client: int = 20, total: int = 600, window_s: float = 60.0) -> None:
        self.per_client = per_client
        self.total = total
        self.window_s = window_s
        self._lock = threading.Lock()
        self._window = 0.0
        self._counts: dict[str, int] = {}
        self._all = 0
        self._left_out = 0

    def admit(self, client: str) -> int | None:
        """None when this one is left out; else how many were left out before it."""
        now = time.monotonic()
        with self._lock:
            if now - self._window >= self.window_s:
                self._window, self._counts, self._all = now, {}, 0
            seen = self._counts.get(client, 0)
            if seen >= self.per_client or self._all >= self.total:
                self._left_out += 1
                if len(self._counts) < 100_000:  # many addresses: the total still bounds it
                    self._counts[client] = seen + 1
                return None
            self._counts[client] = seen + 1
            self._all += 1
            left_out, self._left_out = self._left_out, 0
            return left_out


def _identifying(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


def _actor(state: MutableMapping[str, Any], client: str | None) -> Actor:
    """The caller as the auth dependency left it: ``state.actor`` (an Actor), else the API key
    it accepted, else nobody (the request was refused before a key was accepted)."""
    actor = state.get("actor")
    if isinstance(actor, Actor):
        return actor if actor.client else Actor(actor.name, actor.role, client)
    key = state.get("api_key")
    if key is not None:
        role = getattr(key.role, "value", key.role)
        return Actor(f"key:{key.id} {key.name}", str(role) if role else None, client)
    return Actor("anonymous", None, client)


def _profile_ids(body: Any, found: list[str], seen: set[str]) -> None:
    stack = [body]
    while stack and len(found) < MAX_PROFILE_IDS:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "profile_id" and isinstance(value, str) and value not in seen:
                    seen.add(value)
                    found.append(value)
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(reversed(item))


def shown_profiles(action: str, body: bytes) -> tuple[list[str], int | None]:
    """The profile ids a JSON answer shows (and, for a search, how many it found)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return [], None
    found: list[str] = []
    seen: set[str] = set()
    if action == "profile.search" and isinstance(data, dict):
        hits = data.get("profiles") or []
        for hit in hits:
            if isinstance(hit, dict) and isinstance(hit.get("id"), str):
                seen.add(hit["id"])
                found.append(hit["id"])
        return found[:MAX_PROFILE_IDS], len(hits)
    if action == "profile.read" and isinstance(data, dict) and isinstance(data.get("id"), str):
        return [data["id"]], None
    _profile_ids(data, found, seen)
    return found, None


def _created(body: bytes) -> str | None:
    """What a POST to a collection made, named as its answer names it (``name`` or ``id``)."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    found = data.get("name", data.get("id"))
    return str(found)[:200] if isinstance(found, (str, int)) else None


class AuditTrail:
    """ASGI middleware writing the management API's audit entries (see the module's doc)."""

    def __init__(
        self,
        app: ASGIApp,
        engine: Engine,
        *,
        flush_interval_s: float = 0.05,
        denied: DeniedLimiter | None = None,
    ) -> None:
        self.app = app
        self.buffer = AuditBuffer(engine, flush_interval_s=flush_interval_s)
        self.denied = denied or DeniedLimiter()
        _LIVE.add(self.buffer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        outcome: dict[str, Any] = {"status": 500, "bytes": 0, "body": [], "complete": False}
        capture = [True]

        started = time.perf_counter()
        noted = [False]

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                headers = dict(message.get("headers") or [])
                content_type = headers.get(b"content-type", b"")
                capture[0] = content_type.startswith(b"application/json")
                if content_type.startswith(b"text/event-stream"):
                    # a stream may stay open for days: it is noted when it starts
                    noted[0] = True
                    self._note_safely(scope, state, outcome, False, 0.0)
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                outcome["bytes"] += len(chunk)
                if capture[0]:
                    if outcome["bytes"] <= MAX_CAPTURE_BYTES:
                        outcome["body"].append(chunk)
                    else:
                        capture[0] = False
                        outcome["body"] = []
                if not message.get("more_body", False):
                    outcome["complete"] = True
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            if not noted[0]:
                elapsed_s = time.perf_counter() - started
                self._note_safely(scope, state, outcome, capture[0], elapsed_s)

    def _note_safely(
        self,
        scope: Scope,
        state: MutableMapping[str, Any],
        outcome: dict[str, Any],
        captured: bool,
        elapsed_s: float,
    ) -> None:
        try:
            self._note(scope, state, outcome, captured, elapsed_s)
        except Exception:  # the answer is on its way; a bug here must not turn it into a 500
            log.exception("could not note an audit entry")

    def _lifespan_send(self, send: Send) -> Send:
        async def lifespan_send(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                self.buffer.close()
            elif message["type"] == "lifespan.startup.complete":
                self.buffer.reopen()
            await send(message)

        return lifespan_send

    def _note(
        self,
        scope: Scope,
        state: MutableMapping[str, Any],
        outcome: dict[str, Any],
        captured: bool,
        elapsed_s: float,
    ) -> None:
        method = scope["method"]
        status = int(outcome["status"])
        route = scope.get("route")
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
        if template is not None and not template.startswith("/api"):
            template = "/api" + template
        denied = status in DENIED
        if template is None:
            if method not in CHANGES and not denied:
                return  # GET of a path that does not exist
            kind = Classified("api.unknown", None, ())
        else:
            kind = classify(method, template)
        if not kind.noted_when_allowed and not denied:
            return
        client_address = scope.get("client")
        client = str(client_address[0]) if client_address else None
        detail: dict[str, Any] = {
            "method": method,
            "route": template or scope["path"][:200],
            "status": status,
            "duration_us": int(elapsed_s * 1_000_000),
        }
        if denied:
            left_out = self.denied.admit(client or "")
            if left_out is None:
                return
            detail["denied"] = True
            if left_out:
                detail["denied_left_out"] = left_out
        params = scope.get("path_params") or {}
        values = [
            _identifying(str(params[p])) if p in IDENTIFYING_PARAMETERS else str(params[p])
            for p in kind.id_params
            if p in params
        ]
        object_id = "/".join(values) if values else None
        if kind.view:
            detail["view"] = kind.view
        if kind.view == "by-identifier":
            detail["identifier_type"] = str(params.get("type", ""))[:50]
        if kind.export:
            query = scope.get("query_string", b"").decode("latin-1")
            fmt = next((q[7:] for q in query.split("&") if q.startswith("format=")), None)
            detail.update(format=(fmt or "default")[:20], bytes=outcome["bytes"])
            detail["complete"] = outcome["complete"]
        if kind.capture and captured and status < 300 and outcome["body"]:
            ids, results = shown_profiles(kind.action, b"".join(outcome["body"]))
            if results is not None:
                detail["results"] = results
            if kind.view == "by-identifier" and ids:
                object_id = ids[0]
            elif ids:
                detail["profile_ids"] = ids
        if method in CHANGES and object_id is None and status < 300 and captured:
            object_id = _created(b"".join(outcome["body"]))
        actor = _actor(state, client)
        self.buffer.add(Entry(actor, kind.action, kind.object_type, object_id, detail))
