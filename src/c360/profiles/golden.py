"""The golden record: one value per person field, chosen from a profile's records (pure; no I/O).

A profile is a cluster of source records (a CRM contact, a billing customer, shop orders,
shipments, POS receipts, tickets...). For each person field the survivorship rules pick one
value and say why it won; every other value stays visible as an alternative, and every address
the person gave is kept with its type (billing, delivery, contact) and dates. See
``docs/golden-record.md``.

The result depends only on the records, never on their order: ties fall to the newer record
(``at_us``, then ``seq``), then to ``source`` and ``record_id``.
"""

import difflib
import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from c360.errors import InvalidInput
from c360.ingest.schema import PERSON_FIELDS
from c360.profiles.model import RECTIFICATION_SOURCE

Strategy = Literal["source_priority", "most_recent", "most_frequent", "non_empty"]
STRATEGIES: tuple[str, ...] = ("source_priority", "most_recent", "most_frequent", "non_empty")

AddressType = Literal["billing", "delivery", "contact"]
ADDRESS_TYPES: tuple[AddressType, ...] = ("billing", "delivery", "contact")

NAME_GROUP: tuple[str, ...] = ("first_name", "middle_name", "last_name", "full_name")
"""Name parts survive together, from one record: never one source's first name with another's
last name."""

ADDRESS_GROUP: tuple[str, ...] = (
    "address",
    "address_line1",
    "address_line2",
    "subdistrict",
    "district",
    "city",
    "province",
    "postal_code",
    "country",
)
"""Address parts survive together, from one record: one real address, never a mix."""

GROUPS: dict[str, tuple[str, ...]] = {"name": NAME_GROUP, "address": ADDRESS_GROUP}

_NOT_SURVIVING = frozenset({"customer_id", "created_at", "updated_at"})
# customer_id is each source's own key for its record (tracked as an identity, not a trait);
# created_at and updated_at describe the record, not the person.

SURVIVING_FIELDS: tuple[str, ...] = tuple(f for f in PERSON_FIELDS if f not in _NOT_SURVIVING)
"""The person fields that survive, in output order. Business-object fields (order totals,
invoice amounts, ticket subjects, product names...) never take part."""

TYPED_ADDRESS_FIELDS: dict[AddressType, str] = {t: f"{t}_address" for t in ADDRESS_TYPES}
"""The value names of the surviving address of each type (``delivery_address``...)."""

_DELIVERY_KINDS = frozenset({"shipment", "order"})
_BILLING_KINDS = frozenset({"invoice", "payment"})
_GROUP_OF = {part: group for group, parts in GROUPS.items() for part in parts}


class FieldRule(BaseModel):
    """How a field (or a group of fields) picks its value among the profile's records."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy
    sources: list[str] = []
    """Source names in priority order (``source_priority`` only); a field none of them has
    falls back to the most recent value."""

    @field_validator("strategy", mode="before")
    @classmethod
    def _known_strategy(cls, value: Any) -> Any:
        if not isinstance(value, str) or value not in STRATEGIES:
            raise ValueError(f"unknown strategy {value!r}; use one of: {', '.join(STRATEGIES)}")
        return value

    @model_validator(mode="after")
    def _sources_fit(self) -> "FieldRule":
        if self.strategy == "source_priority" and not self.sources:
            raise ValueError("source_priority needs 'sources', the source names in priority order")
        if self.strategy != "source_priority" and self.sources:
            raise ValueError(f"'sources' only applies to source_priority, not {self.strategy}")
        if len(set(self.sources)) != len(self.sources):
            raise ValueError("'sources' names a source twice")
        if any(not s for s in self.sources):
            raise ValueError("'sources' has an empty source name")
        return self


def _short_rule(value: Any) -> Any:
    """``birth_date: most_frequent`` means ``birth_date: {strategy: most_frequent}``."""
    return {"strategy": value} if isinstance(value, str) else value


BUILT_IN_RULES: dict[str, FieldRule] = {
    "name": FieldRule(strategy="non_empty"),
    "birth_date": FieldRule(strategy="most_frequent"),
    "gender": FieldRule(strategy="most_frequent"),
}
"""Rules that apply unless the rules name the field themselves. A birth date or gender mistyped
once is outvoted by the records that agree; names take the most complete record's parts."""


class SurvivorshipRules(BaseModel):
    """Which value of each person field survives into the golden record.

    ``fields`` names a field, a group (``name``, ``address``) or a typed address
    (``billing_address``, ``delivery_address``, ``contact_address``); a rule given here
    replaces the built-in one (``BUILT_IN_RULES``) for that name, and ``default`` covers every
    name with neither. ``billing_sources`` are the sources whose contacts carry the billing
    address (an accounting system); ``extra_fields`` are custom fields that describe the
    person and survive like person fields.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: FieldRule = FieldRule(strategy="most_recent")
    fields: dict[str, FieldRule] = Field(default_factory=dict, validate_default=True)
    billing_sources: list[str] = []
    extra_fields: list[str] = []

    @field_validator("default", mode="before")
    @classmethod
    def _short_default(cls, value: Any) -> Any:
        return _short_rule(value)

    @field_validator("fields", mode="before")
    @classmethod
    def _with_built_ins(cls, value: Any) -> Any:
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            return value
        return {**BUILT_IN_RULES, **{k: _short_rule(v) for k, v in value.items()}}

    @model_validator(mode="after")
    def _known_names(self) -> "SurvivorshipRules":
        for name in self.extra_fields:
            if name in SURVIVING_FIELDS:
                raise ValueError(f"extra_fields: {name!r} is a person field already")
            if name in GROUPS or name in TYPED_ADDRESS_FIELDS.values():
                raise ValueError(f"extra_fields: {name!r} names a group of person fields")
        if len(set(self.extra_fields)) != len(self.extra_fields):
            raise ValueError("extra_fields: a field is listed twice")
        ungrouped = [f for f in (*SURVIVING_FIELDS, *self.extra_fields) if f not in _GROUP_OF]
        known = [*ungrouped, *GROUPS, *TYPED_ADDRESS_FIELDS.values()]
        for name in self.fields:
            if name in known:
                continue
            group = _GROUP_OF.get(name)
            if group is not None:
                raise ValueError(
                    f"fields: {name!r} survives together with the other {group} parts; "
                    f"set the rule on {group!r}"
                )
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"fields: {name!r} is not a person field{hint} (list a custom field that "
                "describes the person under 'extra_fields')"
            )
        return self

    def rule_for(self, name: str) -> FieldRule:
        """The rule for a field, group or typed address."""
        return self.fields.get(name, self.default)

    def address_type(self, record: "RecordFacts") -> AddressType:
        """What an address on ``record`` is: where goods go, where bills go, or where to reach."""
        if record.kind in _DELIVERY_KINDS:
            return "delivery"
        if record.kind in _BILLING_KINDS:
            return "billing"
        if record.kind == "contact" and record.source in self.billing_sources:
            return "billing"
        return "contact"


DEFAULT_RULES = SurvivorshipRules()
"""Names no source: the most recent value, except ``BUILT_IN_RULES``."""


def parse_rules(
    data: str | Mapping[str, Any], *, origin: str = "survivorship rules"
) -> SurvivorshipRules:
    """Rules from YAML text or an already-parsed object; errors name the field and the problem."""
    if isinstance(data, str):
        try:
            data = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{origin}: not valid YAML: {exc}") from None
        if data is None:
            data = {}
    if not isinstance(data, Mapping):
        raise InvalidInput(
            f"{origin}: survivorship rules are an object with 'default', 'fields', "
            "'billing_sources' and 'extra_fields'"
        )
    try:
        return SurvivorshipRules.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(e["loc"], e["msg"]) for e in exc.errors())
        raise InvalidInput(f"{origin}: {problems}") from None


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    message = message.removeprefix("Value error, ")
    return f"{'.'.join(str(p) for p in loc)}: {message}" if loc else message


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """One version of one source record of a profile, with its standardized fields."""

    source: str
    record_id: str
    kind: str
    fields: dict[str, Any]
    at_us: int
    """When this version was received or last updated (epoch microseconds)."""
    seq: int
    """Log sequence of this version."""


@dataclass(frozen=True, slots=True)
class FieldValue:
    """The surviving value of a field, where it came from and why it won."""

    value: Any
    source: str
    record_id: str
    kind: str
    at_us: int
    rule: str

    def as_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "source": self.source,
            "record_id": self.record_id,
            "kind": self.kind,
            "at_us": self.at_us,
            "rule": self.rule,
        }


@dataclass(frozen=True, slots=True)
class Alternative:
    """One distinct value a field has across the profile's records."""

    value: Any
    sources: list[str]
    record_count: int
    first_at_us: int
    last_at_us: int

    def as_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "sources": list(self.sources),
            "record_count": self.record_count,
            "first_at_us": self.first_at_us,
            "last_at_us": self.last_at_us,
        }


@dataclass(frozen=True, slots=True)
class Address:
    """One distinct address of one type; ``source`` and ``record_id`` are its newest record's."""

    type: AddressType
    parts: dict[str, Any]
    source: str
    record_id: str
    first_at_us: int
    last_at_us: int
    record_count: int

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "parts": dict(self.parts),
            "source": self.source,
            "record_id": self.record_id,
            "first_at_us": self.first_at_us,
            "last_at_us": self.last_at_us,
            "record_count": self.record_count,
        }


@dataclass(frozen=True, slots=True)
class GoldenRecord:
    values: dict[str, FieldValue]
    """Surviving value of each field that has one (``SURVIVING_FIELDS`` order, then
    ``extra_fields``, then the typed addresses)."""
    alternatives: dict[str, list[Alternative]]
    """Every distinct value of every field, the winner included, newest first."""
    addresses: list[Address]
    """Every distinct address with its type, newest first."""
    latest_delivery_address: Address | None
    """The newest delivery address, whatever the rules: where the next parcel goes."""

    def as_json(self) -> dict[str, Any]:
        """The record as JSON-ready dicts and lists, keys in a stable order."""
        latest = self.latest_delivery_address
        return {
            "values": {name: value.as_json() for name, value in self.values.items()},
            "alternatives": {
                name: [a.as_json() for a in alternatives]
                for name, alternatives in self.alternatives.items()
            },
            "addresses": [a.as_json() for a in self.addresses],
            "latest_delivery_address": latest.as_json() if latest is not None else None,
        }


Recency = tuple[int, int, str, str]


@dataclass(frozen=True, slots=True)
class _Version:
    record: RecordFacts
    recency: Recency
    identity: tuple[str, str]
    values: dict[str, tuple[Any, bytes]]
    """Non-empty canonical values by field, each with its comparison key."""
    address_type: AddressType


@dataclass(frozen=True, slots=True)
class _Candidate:
    value: Any
    key: bytes
    version: _Version


def golden_record(
    records: Iterable[RecordFacts], rules: SurvivorshipRules = DEFAULT_RULES
) -> GoldenRecord:
    """The golden record of the profile made of ``records`` (any versions, in any order).

    Only the newest version of each record (by ``at_us``, then ``seq``) competes for a value:
    a source's own correction replaces its old value. Every version still shows in the
    alternatives and addresses, which are the profile's history.
    """
    fields = (*SURVIVING_FIELDS, *rules.extra_fields)
    versions = sorted(
        (_version(record, fields, rules) for record in records),
        key=lambda v: (v.recency, _fields_key(v.values)),
    )
    newest = {v.identity: v for v in versions}  # sorted oldest first: the last one stays
    current = sorted(newest.values(), key=lambda v: v.recency)

    values: dict[str, FieldValue] = {}
    alternatives: dict[str, list[Alternative]] = {}
    present = {name for v in versions for name in v.values}
    for name in fields:
        group = _GROUP_OF.get(name)
        if name not in present and (group is None or present.isdisjoint(GROUPS[group])):
            continue  # no record has it: nothing to choose, nothing to list
        if group is None:
            won = _winner(_candidates(current, name), rules.rule_for(name), grouped=False)
            if won is not None:
                values[name] = _field_value(won[0].value, won[0].version, won[1])
        elif name == GROUPS[group][0]:
            won = _winner(_group_candidates(current, group), rules.rule_for(group), grouped=True)
            if won is not None:
                for part, part_value in won[0].value.items():
                    values[part] = _field_value(part_value, won[0].version, won[1])
        found = _alternatives(_candidates(versions, name))
        if found:
            alternatives[name] = found
    # Group winners were written part by part; put them back in field order.
    values = {name: values[name] for name in fields if name in values}

    current_addresses = _group_candidates(current, "address")
    every_address = _group_candidates(versions, "address")
    for address_type, name in TYPED_ADDRESS_FIELDS.items():
        typed = [c for c in current_addresses if _typed(c, address_type)]
        won = _winner(typed, rules.rule_for(name), grouped=True)
        if won is not None:
            values[name] = _field_value(won[0].value, won[0].version, won[1])
        every = [c for c in every_address if _typed(c, address_type)]
        found = _alternatives(every)
        if found:
            alternatives[name] = found

    addresses = _addresses(every_address)
    latest = next((a for a in addresses if a.type == "delivery"), None)
    return GoldenRecord(values, alternatives, addresses, latest)


def _version(record: RecordFacts, fields: tuple[str, ...], rules: SurvivorshipRules) -> _Version:
    values: dict[str, tuple[Any, bytes]] = {}
    for name in fields:
        value = _canonical(record.fields.get(name))
        if not _is_empty(value):
            values[name] = (value, _key(value))
    return _Version(
        record=record,
        recency=(record.at_us, record.seq, record.source, record.record_id),
        identity=(record.source, record.record_id),
        values=values,
        address_type=rules.address_type(record),
    )


def _canonical(value: Any) -> Any:
    """The form values compare and show in: NFC text, dicts with sorted keys and no empties."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        members = {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda i: str(i[0]))}
        return {k: v for k, v in members.items() if not _is_empty(v)}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict | list):
        return not value
    return False


def _key(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)


def _fields_key(values: dict[str, tuple[Any, bytes]]) -> bytes:
    # Two versions with the same time and sequence but different content: decide by content.
    return b"\x00".join(name.encode() + b"=" + key for name, (_, key) in sorted(values.items()))


def _candidates(versions: list[_Version], name: str) -> list[_Candidate]:
    return [_Candidate(*v.values[name], v) for v in versions if name in v.values]


def _group_candidates(versions: list[_Version], group: str) -> list[_Candidate]:
    """Each version's parts of ``group`` as one value (a country alone is no address)."""
    found = []
    for version in versions:
        parts = {p: version.values[p][0] for p in GROUPS[group] if p in version.values}
        if not parts or (group == "address" and set(parts) == {"country"}):
            continue
        found.append(_Candidate(parts, _key(parts), version))
    return found


def _typed(candidate: _Candidate, address_type: AddressType) -> bool:
    return candidate.version.address_type == address_type


def _newest(candidates: Iterable[_Candidate]) -> _Candidate:
    return max(candidates, key=lambda c: c.version.recency)


def _winner(
    candidates: list[_Candidate], rule: FieldRule, *, grouped: bool
) -> tuple[_Candidate, str] | None:
    """The winning candidate (newest versions only, one per record) and why it won."""
    if not candidates:
        return None
    # A person's rectification (``c360 privacy rectify``) outranks every rule and source: a
    # later import of the old value must not undo it. The newest rectification wins.
    rectified = [c for c in candidates if c.version.record.source == RECTIFICATION_SOURCE]
    if rectified:
        return _newest(rectified), "rectified on request"
    if rule.strategy == "source_priority":
        for source in rule.sources:
            own = [c for c in candidates if c.version.record.source == source]
            if own:
                return _newest(own), f"source priority: {source}"
        return _newest(candidates), f"most recent (no value from {', '.join(rule.sources)})"
    if rule.strategy == "most_frequent":
        by_value: dict[bytes, list[_Candidate]] = {}
        for candidate in candidates:
            by_value.setdefault(candidate.key, []).append(candidate)
        ranked = sorted(
            by_value.values(), key=lambda g: (len(g), _newest(g).version.recency), reverse=True
        )
        count = len(ranked[0])
        tied = len(ranked) > 1 and len(ranked[1]) == count
        plural = "record" if count == 1 else "records"
        why = f"most frequent ({count} {plural}" + (", newest of a tie)" if tied else ")")
        return _newest(ranked[0]), why
    if rule.strategy == "non_empty":
        if not grouped:
            return _newest(candidates), "non-empty, most recent"
        best = max(candidates, key=lambda c: (len(c.value), c.version.recency))
        return best, f"most complete ({len(best.value)} parts)"
    return _newest(candidates), "most recent"


def _field_value(value: Any, version: _Version, rule: str) -> FieldValue:
    record = version.record
    return FieldValue(value, record.source, record.record_id, record.kind, record.at_us, rule)


@dataclass(slots=True)
class _Tally:
    value: Any
    newest: _Version
    sources: set[str]
    identities: set[tuple[str, str]]
    first_at_us: int
    last_at_us: int

    @classmethod
    def of(cls, candidates: list[_Candidate]) -> list["_Tally"]:
        """One tally per distinct value, newest first."""
        tallies: dict[bytes, _Tally] = {}
        for c in candidates:
            tally = tallies.get(c.key)
            at_us = c.version.record.at_us
            if tally is None:
                tallies[c.key] = cls(c.value, c.version, set(), set(), at_us, at_us)
                tally = tallies[c.key]
            tally.sources.add(c.version.record.source)
            tally.identities.add(c.version.identity)
            tally.first_at_us = min(tally.first_at_us, at_us)
            tally.last_at_us = max(tally.last_at_us, at_us)
            if c.version.recency > tally.newest.recency:
                tally.newest = c.version
        return sorted(
            tallies.values(), key=lambda t: (t.newest.recency, _key(t.value)), reverse=True
        )


def _alternatives(candidates: list[_Candidate]) -> list[Alternative]:
    return [
        Alternative(t.value, sorted(t.sources), len(t.identities), t.first_at_us, t.last_at_us)
        for t in _Tally.of(candidates)
    ]


def _addresses(candidates: list[_Candidate]) -> list[Address]:
    """Every distinct (type, parts) address, newest first."""
    by_type: dict[AddressType, list[_Candidate]] = {}
    for candidate in candidates:
        by_type.setdefault(candidate.version.address_type, []).append(candidate)
    tallies = [(t, tally) for t, group in by_type.items() for tally in _Tally.of(group)]
    tallies.sort(key=lambda item: (item[1].newest.recency, item[0], _key(item[1].value)))
    return [
        Address(
            type=address_type,
            parts=tally.value,
            source=tally.newest.record.source,
            record_id=tally.newest.record.record_id,
            first_at_us=tally.first_at_us,
            last_at_us=tally.last_at_us,
            record_count=len(tally.identities),
        )
        for address_type, tally in reversed(tallies)
    ]


def golden_values(golden: dict[str, Any] | None) -> dict[str, Any]:
    """The golden record's surviving values without provenance, and where the next parcel
    goes."""
    if not golden:
        return {}
    values = {name: v.get("value") for name, v in golden.get("values", {}).items()}
    latest = golden.get("latest_delivery_address")
    if latest:
        values["latest_delivery_address"] = latest.get("parts")
    return values


def display_name(values: dict[str, Any]) -> str | None:
    """How to call the person: the full name, else the given and family names."""
    if values.get("full_name"):
        return str(values["full_name"])
    parts = [str(values[p]) for p in ("first_name", "last_name") if values.get(p)]
    return " ".join(parts) or None
