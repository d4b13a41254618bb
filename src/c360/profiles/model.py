"""A profile as the API shows it, and the identifiers that point at it."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class IdentifierType(StrEnum):
    """Identifier types every store has (sources add their own: ``loyalty_no``...)."""

    USER_ID = "user_id"
    ANONYMOUS_ID = "anonymous_id"
    EMAIL = "email"
    PHONE = "phone"
    NATIONAL_ID = "national_id"
    CUSTOMER_ID = "customer_id"
    LINE_USER_ID = "line_user_id"
    ZALO_USER_ID = "zalo_user_id"


ACTIVATION_SOURCE = "c360-activation"
"""The source of what c360 itself does to a person: messages sent, opened, clicked, replied to,
and traits a journey set. Its messages name their profile in ``context.externalIds``."""
PROFILE_ID_TYPE = "c360_profile_id"
RECTIFICATION_SOURCE = "c360-privacy"
"""The source of rectifications (``c360 privacy rectify``): identify messages filed under the
profile they name, whose values win over every other source in the golden record."""
OWN_SOURCES = frozenset({ACTIVATION_SOURCE, RECTIFICATION_SOURCE})
"""c360's own sources: their messages name their profile rather than an identity."""


@dataclass(frozen=True, slots=True)
class Identifier:
    type: str
    value: str
    source: str


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    traits: dict[str, Any]
    identifiers: list[Identifier] = field(default_factory=list)
    created_seq: int = 0
    updated_seq: int = 0
    event_count: int = 0
    household_id: str | None = None
    golden: dict[str, Any] | None = None
    computed: dict[str, Any] = field(default_factory=dict)
    """Computed traits (``c360.profiles.traits``) as of their last refresh."""
    linked: dict[str, int] = field(default_factory=dict)
    """How many records of each kind the profile holds (``order``: 12...)."""
    segments: list[str] = field(default_factory=list)
    """The segments the profile is in now, by name."""


def identifiers_of(message_type: str, payload: dict[str, Any]) -> list[tuple[str, str]]:
    """The (type, value) identifiers a message carries, strongest first."""
    found: list[tuple[str, str]] = []
    user_id = _text(payload.get("userId"))
    if user_id:
        found.append(("user_id", user_id))
    anonymous_id = _text(payload.get("anonymousId"))
    if anonymous_id:
        found.append(("anonymous_id", anonymous_id))
    if message_type == "identify":
        email = traits_of(payload).get("email")
        if isinstance(email, str) and "@" in email:
            found.append(("email", email.strip().lower()))
    return found


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def previous_id_of(payload: dict[str, Any]) -> str | None:
    return _text(payload.get("previousId"))


def traits_of(payload: dict[str, Any]) -> dict[str, Any]:
    """An identify's traits: ``traits``, or ``context.traits`` where SDKs (RudderStack) put them."""
    traits = payload.get("traits")
    if isinstance(traits, dict) and traits:
        return traits
    context = payload.get("context")
    nested = context.get("traits") if isinstance(context, dict) else None
    return nested if isinstance(nested, dict) else {}
