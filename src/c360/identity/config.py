"""How identity resolution is configured: identifier types, deterministic rules, thresholds.

The defaults are generic (nothing in them names a source or is tuned to one data set); a YAML
file given to ``c360 resolve --config`` or ``c360 identity simulate --config`` overrides any part.

```yaml
identifiers:
  phone:
    blocked: ["+6620000000"]          # the shop counter's phone
    blocked_patterns: ["^\\+?0+$"]
  loyalty_no: {merge_alone: true, limit: 1}   # a custom identifier type
rules:
  - [email, first_name]
thresholds: {merge: 0.995, review: 0.8}
```
"""

import hashlib
import math
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from c360.errors import InvalidInput


class IdentifierRule(BaseModel):
    """How one identifier type takes part in resolution."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    priority: int = 50
    """Lower is stronger: the order identifiers are shown and a profile's anchor is chosen."""
    limit: int | None = None
    """How many distinct values one profile may hold (``None``: no limit)."""
    merge_alone: bool = False
    """Records sharing a value are one person without further evidence."""
    per_source: bool = False
    """Values are only meaningful inside one source (a source's own customer numbers)."""
    household: bool = False
    """A value shared by different people makes them one household, not one profile."""
    blocked: tuple[str, ...] = ()
    blocked_patterns: tuple[str, ...] = ()
    generic_after: int | None = None
    """A value held by more profiles than this is generic: it links and blocks nothing."""
    reference: bool = False
    """A business object's reference (``order_id``): records pointing at it join the one
    record holding it; records merely sharing it are not compared for it."""

    @field_validator("blocked_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"blocked pattern {pattern!r} is not a regular expression: {exc}"
                ) from None
        return patterns

    @cached_property
    def _compiled(self) -> re.Pattern[str] | None:
        if not self.blocked_patterns:
            return None
        return re.compile("|".join(f"(?:{p})" for p in self.blocked_patterns), re.IGNORECASE)

    def is_blocked(self, value: str) -> bool:
        if value in self.blocked or value.lower() in self.blocked:
            return True
        compiled = self._compiled
        return compiled is not None and compiled.search(value) is not None


_PLACEHOLDER_EMAILS = (
    r"^(?:test|noemail|no-?email|none|null|na|n/a|nomail|no\.email|example|abc|xxx+|"
    r"asdf|dummy|fake|unknown|noreply|no-?reply)@",
    r"@(?:test|example|email|mailinator|noemail)\.(?:com|org|net)$",
)
_PLACEHOLDER_IDS = (
    r"^[0\-\s.]*$",
    r"^-?1$",
    r"^(?:null|none|nil|n/?a|unknown|anonymous|undefined|test)$",
)
_PLACEHOLDER_PHONES = (
    r"^\+\d{1,3}0+$",  # +660000000
    r"^\+\d{1,3}(\d)\1{7,}$",  # +66 888888888
    r"^\+\d{1,3}0?123456789$",
)


def _default_identifiers() -> dict[str, IdentifierRule]:
    return {
        "user_id": IdentifierRule(
            priority=1, limit=1, merge_alone=True, blocked_patterns=_PLACEHOLDER_IDS
        ),
        "national_id": IdentifierRule(
            priority=2, limit=1, merge_alone=True, blocked_patterns=_PLACEHOLDER_IDS
        ),
        "line_user_id": IdentifierRule(
            priority=3, merge_alone=True, blocked_patterns=_PLACEHOLDER_IDS
        ),
        "zalo_user_id": IdentifierRule(
            priority=3, merge_alone=True, blocked_patterns=_PLACEHOLDER_IDS
        ),
        "customer_id": IdentifierRule(
            priority=4, merge_alone=True, per_source=True, blocked_patterns=_PLACEHOLDER_IDS
        ),
        "email": IdentifierRule(
            priority=5, household=True, generic_after=5, blocked_patterns=_PLACEHOLDER_EMAILS
        ),
        "phone": IdentifierRule(
            priority=6, household=True, generic_after=5, blocked_patterns=_PLACEHOLDER_PHONES
        ),
        "device_id": IdentifierRule(
            priority=20, generic_after=5, blocked_patterns=_PLACEHOLDER_IDS
        ),
        "anonymous_id": IdentifierRule(priority=30, blocked_patterns=_PLACEHOLDER_IDS),
        # References between business objects (a shipment names its order): they link a
        # record to the one record holding that reference, and block nothing.
        **{
            name: IdentifierRule(priority=60, reference=True)
            for name in ("order_id", "invoice_id", "shipment_id", "payment_id", "ticket_id")
        },
    }


CUSTOM_IDENTIFIER = IdentifierRule(priority=40, merge_alone=True, per_source=True)
"""Identifier types the configuration does not name: a source's own key for the person."""


class Thresholds(BaseModel):
    """Match probabilities: at or above ``merge`` records become one profile; between
    ``review`` and ``merge`` a person decides (the review queue)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    merge: float = Field(0.995, gt=0, lt=1)
    review: float = Field(0.8, gt=0, lt=1)

    @property
    def merge_weight(self) -> float:
        return math.log2(self.merge / (1 - self.merge))

    @property
    def review_weight(self) -> float:
        return math.log2(self.review / (1 - self.review))


class IdentityConfig(BaseModel):
    """Everything that decides which records are one person."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    identifiers: dict[str, IdentifierRule] = Field(default_factory=_default_identifiers)
    rules: tuple[tuple[str, ...], ...] = (
        ("email", "first_name"),
        ("phone", "first_name", "last_name"),
        ("phone", "first_name", "birth_date"),
    )
    """Deterministic rules: records agreeing exactly on every listed feature are one person.
    Features are identifier types or ``first_name``, ``last_name``, ``birth_date``,
    ``postal_code`` (names compare by match key)."""
    thresholds: Thresholds = Field(default_factory=Thresholds)
    block_cap: int = Field(50, ge=2)
    """A blocking key shared by more records than this produces no candidate pairs (the
    records still meet through their other keys); hitting it is counted in the resolve report."""
    survivorship: dict[str, Any] = Field(default_factory=dict)
    """The golden record's survivorship rules (see docs/golden-record.md); kept here so one
    file configures how profiles are formed and what they show."""
    require_person_evidence: bool = True
    """A probabilistic merge needs a given name or birth date that agrees: shared contact
    points and family names alone make a household, not one person."""

    @field_validator("rules")
    @classmethod
    def _rules_known(cls, rules: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        for rule in rules:
            if len(rule) < 2:
                raise ValueError(f"rule {list(rule)} needs at least two features")
        return rules

    def identifier(self, id_type: str) -> IdentifierRule:
        return self.identifiers.get(id_type, CUSTOM_IDENTIFIER)

    @property
    def limited(self) -> dict[str, int]:
        return {t: r.limit for t, r in self.identifiers.items() if r.limit is not None}

    def fingerprint(self) -> str:
        body = orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(body).hexdigest()[:16]


DEFAULT_CONFIG = IdentityConfig()


def parse_config(data: Any, *, origin: str = "identity configuration") -> IdentityConfig:
    """An ``IdentityConfig`` from parsed YAML; identifier entries extend the defaults."""
    if data is None:
        return DEFAULT_CONFIG
    if not isinstance(data, dict):
        raise InvalidInput(f"{origin}: expected a mapping at the top, got {type(data).__name__}")
    merged: dict[str, Any] = dict(data)
    given = data.get("identifiers") or {}
    if not isinstance(given, dict):
        raise InvalidInput(f"{origin}: 'identifiers' must map identifier types to settings")
    identifiers = {t: r.model_dump() for t, r in _default_identifiers().items()}
    for id_type, settings in given.items():
        if settings is None:
            continue
        if not isinstance(settings, dict):
            raise InvalidInput(f"{origin}: identifiers.{id_type} must be a mapping of settings")
        identifiers[id_type] = {
            **identifiers.get(id_type, CUSTOM_IDENTIFIER.model_dump()),
            **settings,
        }
    merged["identifiers"] = identifiers
    try:
        return IdentityConfig.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'top'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"{origin}: {problems}") from None


def load_config(path: Path | None) -> IdentityConfig:
    if path is None:
        return DEFAULT_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path} is not valid YAML: {exc}") from None
    return parse_config(data, origin=str(path))
