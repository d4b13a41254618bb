"""Roles, what each may call in the management API, and which personal data each sees.

One table decides authorization: every management route (method and path template, e.g.
``GET /api/profiles/{profile_id}``) belongs to a :class:`Capability`, and every role holds a set
of capabilities. A route the table does not name is refused for every role but admin, so a new
route is safe until someone decides who may call it (and a test fails until they do).

A second table, the field policy, says which kinds of personal data (:class:`PiiField`) a role
sees unmasked; :mod:`c360.privacy.masking` masks the rest in every response.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from c360.errors import Forbidden, InvalidInput


class Role(StrEnum):
    """What a key or a user may do (docs/access-control.md)."""

    ADMIN = "admin"  # everything, every field
    MARKETER = "marketer"  # segments, journeys, personalization, consent; profiles masked
    SALES = "sales"  # profiles with contact data, feedback work
    SERVICE = "service"  # profiles with contact data and birth date, feedback, consent, requests
    FINANCE = "finance"  # profiles with billing data (national id for tax invoices)
    ANALYST = "analyst"  # aggregates, reports, masked profiles and masked exports
    READ = "read"  # reads everything an analyst reads and more, masked; writes nothing
    WRITER = "writer"  # a source's key: sends messages to /v1, reads nothing


USER_ROLES = tuple(r for r in Role if r is not Role.WRITER)
"""Roles a person signing in to the web app may have (writer keys are for sources only)."""


class Capability(StrEnum):
    PROFILES_READ = "profiles.read"  # profiles, events, timeline, briefing, change feed
    IDENTITY_READ = "identity.read"  # review queue
    IDENTITY_WRITE = "identity.write"  # split, decide reviews
    SOURCES_READ = "sources.read"  # sources, their quarantine, data quality, message status
    SEGMENTS_READ = "segments.read"
    SEGMENTS_WRITE = "segments.write"
    SEGMENTS_EXPORT = "segments.export"
    JOURNEYS_READ = "journeys.read"
    JOURNEYS_WRITE = "journeys.write"
    SUPPRESSIONS_READ = "suppressions.read"
    SUPPRESSIONS_WRITE = "suppressions.write"
    PERSONALIZE_READ = "personalize.read"
    PERSONALIZE_WRITE = "personalize.write"
    FEEDBACK_READ = "feedback.read"
    FEEDBACK_WORK = "feedback.work"  # assign, start, resolve, notes
    CONSENT_READ = "consent.read"
    CONSENT_WRITE = "consent.write"
    PRIVACY_READ = "privacy.read"  # data subject requests and their reports
    PRIVACY_CREATE = "privacy.create"  # file a request on a person's behalf
    PRIVACY_MANAGE = "privacy.manage"  # run, reject, verify requests
    AUDIT_READ = "audit.read"
    CONFIG = "config"  # subscriptions, sync, retention, settings
    ACCESS_ADMIN = "access.admin"  # keys and users


C = Capability

ROUTES: dict[tuple[str, str], Capability] = {
    # profiles and what they hold
    ("GET", "/api/profiles"): C.PROFILES_READ,
    ("GET", "/api/profiles/by-identifier/{type}/{value}"): C.PROFILES_READ,
    ("GET", "/api/profiles/{profile_id}"): C.PROFILES_READ,
    ("GET", "/api/profiles/{profile_id}/events"): C.PROFILES_READ,
    ("GET", "/api/profiles/{profile_id}/timeline"): C.PROFILES_READ,
    ("GET", "/api/profiles/{profile_id}/briefing"): C.PROFILES_READ,
    ("GET", "/api/profiles/{profile_id}/identity"): C.PROFILES_READ,
    ("GET", "/api/profiles/{profile_id}/recommendations"): C.PROFILES_READ,
    ("GET", "/api/profiles/{profile_id}/messages"): C.PROFILES_READ,
    ("GET", "/api/personalize/{profile_id}"): C.PROFILES_READ,
    ("GET", "/api/changes"): C.PROFILES_READ,
    ("GET", "/api/dashboard"): C.PROFILES_READ,  # each section also needs its own area
    ("GET", "/api/changes/stream"): C.PROFILES_READ,
    # identity decisions
    ("GET", "/api/identity/reviews"): C.IDENTITY_READ,
    ("POST", "/api/identity/reviews/{item_id}"): C.IDENTITY_WRITE,
    ("POST", "/api/profiles/{profile_id}/split"): C.IDENTITY_WRITE,
    # sources and data quality
    ("GET", "/api/sources"): C.SOURCES_READ,
    ("GET", "/api/sources/{source}/rejects"): C.SOURCES_READ,
    ("GET", "/api/quality"): C.SOURCES_READ,
    ("GET", "/api/events/{message_id}"): C.SOURCES_READ,
    ("GET", "/api/sources/{source}/imports"): C.SOURCES_READ,
    ("GET", "/api/sources/{source}/mapping"): C.SOURCES_READ,
    # replaying quarantined rows may store a new mapping: configuration
    ("POST", "/api/sources/{source}/rejects/retry"): C.CONFIG,
    # API keys
    ("GET", "/api/keys"): C.ACCESS_ADMIN,
    ("POST", "/api/keys"): C.ACCESS_ADMIN,
    ("POST", "/api/keys/{key_id}/rotate"): C.ACCESS_ADMIN,
    ("POST", "/api/keys/{key_id}/revoke"): C.ACCESS_ADMIN,
    # segments
    ("GET", "/api/segments"): C.SEGMENTS_READ,
    ("GET", "/api/segments/{name}"): C.SEGMENTS_READ,
    ("GET", "/api/segments/{name}/members"): C.SEGMENTS_READ,
    ("POST", "/api/segments/preview"): C.SEGMENTS_READ,  # counts and samples, stores nothing
    ("POST", "/api/segments"): C.SEGMENTS_WRITE,
    ("PATCH", "/api/segments/{name}"): C.SEGMENTS_WRITE,
    ("DELETE", "/api/segments/{name}"): C.SEGMENTS_WRITE,
    ("GET", "/api/segments/{name}/export"): C.SEGMENTS_EXPORT,
    # journeys
    ("GET", "/api/journeys"): C.JOURNEYS_READ,
    ("GET", "/api/journeys/{name}"): C.JOURNEYS_READ,
    ("GET", "/api/journeys/{name}/report"): C.JOURNEYS_READ,
    ("POST", "/api/journeys"): C.JOURNEYS_WRITE,
    ("PUT", "/api/journeys/{name}"): C.JOURNEYS_WRITE,
    ("DELETE", "/api/journeys/{name}"): C.JOURNEYS_WRITE,
    ("POST", "/api/journeys/{name}/pause"): C.JOURNEYS_WRITE,
    ("POST", "/api/journeys/{name}/resume"): C.JOURNEYS_WRITE,
    # renders a message for one person: for those who write the templates
    ("POST", "/api/journeys/{name}/preview"): C.JOURNEYS_WRITE,
    ("POST", "/api/journeys/preview"): C.JOURNEYS_WRITE,  # the builder's unsaved template
    # suppressions (addresses that must never get a message)
    ("GET", "/api/suppressions"): C.SUPPRESSIONS_READ,
    ("POST", "/api/suppressions"): C.SUPPRESSIONS_WRITE,
    ("DELETE", "/api/suppressions/{channel}/{address}"): C.SUPPRESSIONS_WRITE,
    # personalization rules
    ("GET", "/api/personalize/rules"): C.PERSONALIZE_READ,
    ("GET", "/api/personalize/rules/{name}"): C.PERSONALIZE_READ,
    ("POST", "/api/personalize/rules"): C.PERSONALIZE_WRITE,
    ("PUT", "/api/personalize/rules/{name}"): C.PERSONALIZE_WRITE,
    ("DELETE", "/api/personalize/rules/{name}"): C.PERSONALIZE_WRITE,
    # feedback
    ("GET", "/api/feedback"): C.FEEDBACK_READ,
    ("GET", "/api/feedback/report"): C.FEEDBACK_READ,
    ("GET", "/api/feedback/{item_id}"): C.FEEDBACK_READ,
    ("POST", "/api/feedback/{item_id}/assign"): C.FEEDBACK_WORK,
    ("POST", "/api/feedback/{item_id}/start"): C.FEEDBACK_WORK,
    ("POST", "/api/feedback/{item_id}/resolve"): C.FEEDBACK_WORK,
    ("POST", "/api/feedback/{item_id}/notes"): C.FEEDBACK_WORK,
    ("GET", "/api/feedback-inbox"): C.FEEDBACK_READ,
    ("GET", "/api/feedback-inbox/filters"): C.FEEDBACK_READ,
    # data subject requests: filing and reading them is exact, everything else is managing
    ("POST", "/api/privacy/requests"): C.PRIVACY_CREATE,
    # an access export is the person's whole file: for those who manage requests only
    ("GET", "/api/privacy/requests/{request_id}/export"): C.PRIVACY_MANAGE,
}
"""Every management route by (method, path template). HEAD is checked as GET."""


@dataclass(frozen=True, slots=True)
class AreaRule:
    """Routes of an area by path prefix, for areas whose routes grow: reads (GET) need
    ``read``, anything else ``write``. An exact entry in :data:`ROUTES` wins."""

    prefix: str
    read: Capability
    write: Capability

    def matches(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")


AREAS: tuple[AreaRule, ...] = (
    AreaRule("/api/consents", C.CONSENT_READ, C.CONSENT_WRITE),
    AreaRule("/api/profiles/{profile_id}/consents", C.CONSENT_READ, C.CONSENT_WRITE),
    AreaRule("/api/profiles/{profile_id}/consent", C.CONSENT_READ, C.CONSENT_WRITE),
    AreaRule("/api/privacy/requests", C.PRIVACY_READ, C.PRIVACY_MANAGE),
    AreaRule("/api/privacy", C.PRIVACY_MANAGE, C.PRIVACY_MANAGE),
    AreaRule("/api/audit", C.AUDIT_READ, C.AUDIT_READ),
    AreaRule("/api/keys", C.ACCESS_ADMIN, C.ACCESS_ADMIN),
    AreaRule("/api/users", C.ACCESS_ADMIN, C.ACCESS_ADMIN),
    AreaRule("/api/retention", C.CONFIG, C.CONFIG),
    AreaRule("/api/subscriptions", C.CONFIG, C.CONFIG),
    AreaRule("/api/sync", C.CONFIG, C.CONFIG),
)
"""Areas other parts of c360 add routes to (consent, privacy requests, audit, config)."""

_READS = frozenset(
    {
        C.PROFILES_READ,
        C.IDENTITY_READ,
        C.SOURCES_READ,
        C.SEGMENTS_READ,
        C.SEGMENTS_EXPORT,
        C.JOURNEYS_READ,
        C.SUPPRESSIONS_READ,
        C.PERSONALIZE_READ,
        C.FEEDBACK_READ,
        C.CONSENT_READ,
    }
)

CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.ADMIN: frozenset(Capability),
    Role.MARKETER: frozenset(
        {
            C.PROFILES_READ,
            C.SEGMENTS_READ,
            C.SEGMENTS_WRITE,
            C.SEGMENTS_EXPORT,
            C.JOURNEYS_READ,
            C.JOURNEYS_WRITE,
            C.SUPPRESSIONS_READ,
            C.SUPPRESSIONS_WRITE,
            C.PERSONALIZE_READ,
            C.PERSONALIZE_WRITE,
            C.FEEDBACK_READ,
            C.CONSENT_READ,
            C.CONSENT_WRITE,
        }
    ),
    Role.SALES: frozenset(
        {
            C.PROFILES_READ,
            C.SEGMENTS_READ,
            C.JOURNEYS_READ,
            C.SUPPRESSIONS_READ,
            C.FEEDBACK_READ,
            C.FEEDBACK_WORK,
            C.CONSENT_READ,
        }
    ),
    Role.SERVICE: frozenset(
        {
            C.PROFILES_READ,
            C.SEGMENTS_READ,
            C.SUPPRESSIONS_READ,
            C.SUPPRESSIONS_WRITE,  # "never call me again" is said to an agent
            C.FEEDBACK_READ,
            C.FEEDBACK_WORK,
            C.CONSENT_READ,
            C.CONSENT_WRITE,
            C.PRIVACY_READ,
            C.PRIVACY_CREATE,
        }
    ),
    Role.FINANCE: frozenset({C.PROFILES_READ, C.SEGMENTS_READ, C.FEEDBACK_READ}),
    Role.ANALYST: frozenset(
        {
            C.PROFILES_READ,
            C.IDENTITY_READ,
            C.SOURCES_READ,
            C.SEGMENTS_READ,
            C.SEGMENTS_EXPORT,
            C.JOURNEYS_READ,
            C.PERSONALIZE_READ,
            C.FEEDBACK_READ,
        }
    ),
    Role.READ: _READS,
    Role.WRITER: frozenset(),
}
"""What each role may call. Admin holds every capability, including routes no entry names."""


class PiiField(StrEnum):
    """Kinds of personal data the field policy masks."""

    NAME = "name"
    EMAIL = "email"
    PHONE = "phone"  # with messaging ids (LINE, Zalo)
    ADDRESS = "address"  # street level: house, street, subdistrict, district, postal code
    BIRTH_DATE = "birth_date"
    NATIONAL_ID = "national_id"  # with tax ids and passport numbers


CONTACT = frozenset({PiiField.NAME, PiiField.EMAIL, PiiField.PHONE, PiiField.ADDRESS})

VISIBLE: dict[Role, frozenset[PiiField]] = {
    Role.ADMIN: frozenset(PiiField),
    Role.SALES: CONTACT,
    Role.SERVICE: CONTACT | {PiiField.BIRTH_DATE},  # agents check a caller's birth date
    Role.FINANCE: CONTACT | {PiiField.NATIONAL_ID},  # tax invoices carry the national id
    Role.MARKETER: frozenset(),
    Role.ANALYST: frozenset(),
    Role.READ: frozenset(),
    Role.WRITER: frozenset(),
}
"""The field policy: the personal data each role sees unmasked (the rest is masked)."""


def hidden_fields(role: Role) -> frozenset[PiiField]:
    """The kinds of personal data masked for ``role``."""
    return frozenset(PiiField) - VISIBLE[role]


def capability_of(method: str, path: str) -> Capability | None:
    """The capability a route needs, or None when the table does not know the route."""
    method = "GET" if method.upper() == "HEAD" else method.upper()
    exact = ROUTES.get((method, path))
    if exact is not None:
        return exact
    for area in AREAS:
        if area.matches(path):
            return area.read if method == "GET" else area.write
    return None


def may(role: Role, method: str, path: str) -> bool:
    """Whether ``role`` may call the route (``path`` is the route's template)."""
    if role is Role.ADMIN:
        return True
    needed = capability_of(method, path)
    return needed is not None and needed in CAPABILITIES[role]


def authorize(role: Role, method: str, path: str) -> None:
    """Raise Forbidden unless ``role`` may call the route, saying what it lacks."""
    if may(role, method, path):
        return
    if role is Role.WRITER:
        raise Forbidden("a writer key can only send messages to /v1; use a key with a role")
    needed = capability_of(method, path)
    if needed is None:
        raise Forbidden(f"{method} {path} is open to admins only (the role table has no entry)")
    holders = ", ".join(r.value for r in Role if needed in CAPABILITIES[r])
    raise Forbidden(
        f"the {role.value} role may not do this ({needed.value}); roles that may: {holders}"
    )


def parse_role(value: str, allowed: Iterable[Role] = tuple(Role)) -> Role:
    """The role named ``value``, or InvalidInput listing the roles there are."""
    names = [r.value for r in allowed]
    if value not in names:
        raise InvalidInput(f"unknown role {value!r}; roles: {', '.join(names)}")
    return Role(value)
