"""A logged row, read through its mapping into a standardized record (pure; no I/O).

Each mapped field keeps its raw value next to the standardized one; a value that does not
standardize keeps its raw value and a flag, and the record is still accepted. Identifiers are
the identifier-typed fields whose values standardized cleanly: a malformed phone is never
used for matching.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from c360.ingest.mapping import FieldSpec, Mapping
from c360.ingest.schema import IDENTIFIER_TYPES, PERSON_FIELDS
from c360.standardize import STANDARDIZERS
from c360.standardize.cells import cell_text
from c360.standardize.model import Standardized
from c360.standardize.names import full_name_parts

TYPE_OPTIONS: dict[str, frozenset[str]] = {
    "phone": frozenset({"default_region"}),
    "date": frozenset({"format", "day_first"}),
    "datetime": frozenset({"format", "timezone", "day_first"}),
    "money": frozenset({"currency"}),
    "province": frozenset({"country"}),
    "postal_code": frozenset({"country"}),
    "address": frozenset({"country"}),
    "national_id": frozenset({"country"}),
    "name": frozenset({"order"}),
}
"""The options each standardizer type understands; others are not passed to it."""

ADDRESS_PARTS = ("subdistrict", "district", "province", "postal_code")


@dataclass(frozen=True, slots=True)
class StandardizedRecord:
    fields: dict[str, Any]
    raw: dict[str, Any]
    flags: dict[str, str]
    extra: dict[str, dict[str, Any]]
    identifiers: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class _Step:
    section: str
    name: str
    columns: tuple[str, ...]
    join: str | None
    values: dict[str, str] | None
    default: str | None
    standardize: Callable[..., Standardized]
    options: dict[str, Any]
    identifier: str | None
    follows_row_country: tuple[str, ...]
    """Options taken from the source's defaults that the row's own country overrides."""


@dataclass(frozen=True, slots=True)
class _Plan:
    steps: tuple[_Step, ...]
    derive_name_parts: bool
    name_order: str
    address_country: str | None
    fill_address_parts: tuple[str, ...]
    country_step: _Step | None


def standardize_row(mapping: Mapping, fingerprint: str, row: dict[str, Any]) -> StandardizedRecord:
    """The record ``row`` becomes under ``mapping`` (``fingerprint`` names the mapping)."""
    plan = _plan_for(fingerprint, mapping)
    row_country = _row_country(plan, row)
    fields: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    flags: dict[str, str] = {}
    extra: dict[str, dict[str, Any]] = {}
    identifiers: list[tuple[str, str]] = []
    for step in plan.steps:
        value = _raw_value(row, step)
        if value is None:
            continue
        options = step.options
        if row_country is not None and step.follows_row_country:
            # A mixed file (a CRM for both countries): the row's country decides how to read
            # its local phone numbers and provinces, not the source's default region.
            options = {**options, **dict.fromkeys(step.follows_row_country, row_country)}
        result = step.standardize(value, **options)
        key = step.name
        if step.section == "identifiers" and key in fields:
            # Mapped twice (as a field and as an identifier): the field's reading stands.
            if result.ok and result.value is not None and step.identifier:
                identifiers.append((step.identifier, str(result.value)))
            continue
        raw[key] = value
        if result.flag is not None:
            flags[key] = result.flag
        elif result.value is not None:
            fields[key] = result.value
            if step.identifier:
                identifiers.append((step.identifier, str(result.value)))
        if result.extra:
            extra[key] = result.extra
    if plan.derive_name_parts and "full_name" in fields:
        for part, text in full_name_parts(fields["full_name"], order=plan.name_order).items():
            if text and part not in fields:
                fields[part] = text
    if plan.fill_address_parts and "address" in extra:
        _fill_address(plan, extra["address"], fields, flags, extra)
    return StandardizedRecord(fields, raw, flags, extra, list(dict.fromkeys(identifiers)))


def _row_country(plan: _Plan, row: dict[str, Any]) -> str | None:
    if plan.country_step is None:
        return None
    value = _raw_value(row, plan.country_step)
    if value is None:
        return None
    result = plan.country_step.standardize(value, **plan.country_step.options)
    return str(result.value) if result.ok and result.value else None


def _raw_value(row: dict[str, Any], step: _Step) -> Any:
    value: Any = None
    if step.join is not None:
        parts = [cell_text(row.get(c)) for c in step.columns]
        joined = step.join.join(p for p in parts if p)
        value = joined or None
    else:
        for column in step.columns:
            candidate = row.get(column)
            if cell_text(candidate):
                value = candidate
                break
    if value is not None and step.values is not None:
        mapped = step.values.get(str(value).strip().casefold())
        if mapped is not None:
            value = mapped
    if value is None and step.default is not None:
        value = step.default
    return value


def _fill_address(
    plan: _Plan,
    parts: dict[str, Any],
    fields: dict[str, Any],
    flags: dict[str, str],
    extra: dict[str, dict[str, Any]],
) -> None:
    """Fill the address parts the source has no column for from its one-line address."""
    for part in plan.fill_address_parts:
        text = parts.get(part)
        if not text:
            continue
        result = STANDARDIZERS[PERSON_FIELDS[part]](text, **_options_for(part, plan))
        if result.ok and result.value is not None:
            fields[part] = result.value
            if result.extra:
                extra[part] = result.extra


def _options_for(part: str, plan: _Plan) -> dict[str, Any]:
    kind = PERSON_FIELDS[part]
    if kind in ("province", "postal_code") and plan.address_country:
        return {"country": plan.address_country}
    return {}


_plans: dict[str, _Plan] = {}


def _plan_for(fingerprint: str, mapping: Mapping) -> _Plan:
    """The mapping compiled once into steps (mappings are immutable once stored)."""
    plan = _plans.get(fingerprint)
    if plan is None:
        if len(_plans) > 256:
            _plans.clear()
        plan = _plans[fingerprint] = _compile(mapping)
    return plan


def _compile(mapping: Mapping) -> _Plan:
    defaults = mapping.defaults
    base: dict[str, Any] = {
        "default_region": defaults.default_region,
        "timezone": defaults.timezone,
        "currency": defaults.currency,
        "country": defaults.country or defaults.default_region,
        "day_first": defaults.day_first,
    }
    steps: list[_Step] = []
    for section, name, spec in mapping.mapped_fields():
        steps.append(_step(mapping, section, name, spec, base))
    mapped = set(mapping.fields)
    name_spec = mapping.fields.get("full_name")
    order = (name_spec.order if name_spec else None) or "auto"
    return _Plan(
        steps=tuple(steps),
        derive_name_parts="full_name" in mapped,
        name_order=order,
        address_country=str(base["country"]) if base["country"] else None,
        fill_address_parts=tuple(p for p in ADDRESS_PARTS if p not in mapped)
        if "address" in mapped
        else (),
        country_step=next(
            (s for s in steps if s.section == "fields" and s.name == "country"), None
        ),
    )


def _step(
    mapping: Mapping,
    section: str,
    name: str,
    spec: FieldSpec,
    base: dict[str, Any],
) -> _Step:
    type_name = mapping.field_type(section, name, spec)
    understood = TYPE_OPTIONS.get(type_name, frozenset())
    options = {k: v for k, v in {**base, **spec.options()}.items() if k in understood}
    options = {k: v for k, v in options.items() if v is not None}
    explicit = spec.options()
    follows = tuple(
        k for k in ("default_region", "country") if k in understood and k not in explicit
    )
    identifier: str | None = None
    if section == "identifiers" or (section == "fields" and name in IDENTIFIER_TYPES):
        identifier = name
    values = {k.strip().casefold(): v for k, v in spec.values.items()} if spec.values else None
    return _Step(
        section=section,
        name=name,
        columns=tuple(spec.source_columns),
        join=spec.join,
        values=values,
        default=spec.default,
        standardize=STANDARDIZERS[type_name],
        options=options,
        identifier=identifier,
        follows_row_country=follows,
    )
