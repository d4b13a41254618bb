"""A source's mapping: which of its columns is the record id, and which canonical field each
column feeds (see ``docs/mapping.md`` for every option with examples).

::

    source: crm
    kind: contact
    record_id: "Customer No"
    defaults: {default_region: TH, timezone: Asia/Bangkok}
    fields:
      first_name: "First Name"
      birth_date: {column: DOB, format: "%d/%m/%Y"}
      industry: {columns: [Industry, Sector], values: {"ค้าปลีก": Retail}}
    identifiers:
      email: "E-mail"
    custom:
      loyalty_tier: Tier

The mapping is applied twice, by design: ingest reads only the record id from it (a row with
none is quarantined, everything else goes to the log as it came), and the standardize step
maps and cleans the logged row. Fixing a mapping and replaying therefore never needs the file.
"""

import difflib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from c360.errors import InvalidInput
from c360.ingest.schema import FIELD_TYPES, IDENTIFIER_TYPES, RecordKind, fields_of

Column = Annotated[str, Field(min_length=1, max_length=300)]


class FieldSpec(BaseModel):
    """Where a canonical field comes from, and how to read it.

    ``column`` names one source column; ``columns`` several that mean the same thing (the
    first non-empty wins, or all non-empty ones joined with ``join``). ``values`` maps source
    vocabularies onto one (matched case-insensitively after trimming). ``default`` fills an
    empty value. The rest are options of the field's standardizer.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: Column | None = None
    columns: list[Column] | None = None
    join: str | None = None
    values: dict[str, str] | None = None
    default: str | None = None
    type: str | None = None
    format: str | None = None
    default_region: str | None = None
    timezone: str | None = None
    currency: str | None = None
    country: str | None = None
    day_first: bool | None = None
    order: Literal["auto", "given_first", "family_first"] | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> "FieldSpec":
        if (self.column is None) == (self.columns is None) and self.default is None:
            raise ValueError("give exactly one of 'column' or 'columns' (or a 'default')")
        if self.columns is not None and not self.columns:
            raise ValueError("'columns' must name at least one column")
        if self.type is not None and self.type not in FIELD_TYPES:
            raise ValueError(f"unknown type {self.type!r}; known: {', '.join(sorted(FIELD_TYPES))}")
        return self

    @property
    def source_columns(self) -> list[str]:
        if self.columns is not None:
            return list(self.columns)
        return [self.column] if self.column is not None else []

    def options(self) -> dict[str, Any]:
        """The standardizer options this field sets."""
        names = (
            "format",
            "default_region",
            "timezone",
            "currency",
            "country",
            "day_first",
            "order",
        )
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


class Defaults(BaseModel):
    """Standardizer options for every field of the source unless the field says otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_region: str = "TH"
    timezone: str = "Asia/Bangkok"
    currency: str | None = None
    country: str | None = None
    day_first: bool = True


class ReadOptions(BaseModel):
    """How to read the source's files (each may also be given on the command line)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    format: Literal["csv", "jsonl", "parquet", "xlsx"] | None = None


def _spec(value: Any) -> Any:
    return {"column": value} if isinstance(value, str) else value


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | None = None
    kind: RecordKind
    record_id: Column | list[Column]
    defaults: Defaults = Defaults()
    read: ReadOptions = ReadOptions()
    fields: dict[str, FieldSpec] = {}
    identifiers: dict[str, FieldSpec] = {}
    custom: dict[str, FieldSpec] = {}

    @field_validator("fields", "identifiers", "custom", mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _spec(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _known_fields(self) -> "Mapping":
        known = fields_of(self.kind)
        for name in self.fields:
            if name not in known:
                close = difflib.get_close_matches(name, list(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"{name!r} is not a canonical field of a {self.kind.value} record{hint} "
                    "(put source-specific fields under 'custom')"
                )
        for name in self.custom:
            if name in known:
                raise ValueError(f"{name!r} is a canonical field: map it under 'fields'")
        if isinstance(self.record_id, list) and not self.record_id:
            raise ValueError("'record_id' must name at least one column")
        return self

    @property
    def record_id_columns(self) -> list[str]:
        return self.record_id if isinstance(self.record_id, list) else [self.record_id]

    def mapped_fields(self) -> Iterator[tuple[str, str, FieldSpec]]:
        """(section, name, spec) of every mapped field, in the mapping's order."""
        for section, specs in (
            ("fields", self.fields),
            ("identifiers", self.identifiers),
            ("custom", self.custom),
        ):
            for name, spec in specs.items():
                yield section, name, spec

    def field_type(self, section: str, name: str, spec: FieldSpec) -> str:
        """The standardizer type of a mapped field."""
        if spec.type is not None:
            return spec.type
        if section == "fields":
            return fields_of(self.kind)[name]
        if section == "identifiers":
            return IDENTIFIER_TYPES.get(name, "identifier")
        return "text"

    def record_id_of(self, row: dict[str, Any]) -> str | None:
        """The row's record id (composite ids joined with ``:``), or None when any part is empty."""
        parts = []
        for column in self.record_id_columns:
            value = row.get(column)
            text = _id_text(value)
            if text is None:
                return None
            parts.append(text)
        return ":".join(parts)

    def fingerprint(self) -> str:
        """A short hash of the mapping's meaning (not its formatting)."""
        body = orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(body).hexdigest()[:16]


def _id_text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if value != value:  # NaN: an empty spreadsheet cell
            return None
        if value.is_integer():
            return str(int(value))
    text = str(value).strip()
    return text or None


def parse_mapping(text: str, *, origin: str = "mapping") -> Mapping:
    """Parse and validate a mapping; errors name the file, the field and the problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{origin}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{origin}: a mapping is a YAML object with 'kind' and 'record_id'")
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'mapping'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"{origin}: {problems}") from None


def load_mapping(path: Path) -> tuple[Mapping, str]:
    """The mapping in ``path`` and its text (the text is stored with the source)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read mapping {path}: {exc.strerror}") from None
    return parse_mapping(text, origin=str(path)), text
