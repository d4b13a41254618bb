"""A sync destination as an operator writes it (YAML), validated.

::

    name: shipping
    source: shipping                  # the app's source in c360: its record ids are the app's keys
    table:
      url: mysql+pymysql://sync@ship-db/shipping
      name: consignees
      key: code                       # the app's key column (the mapping's record_id)
      cursor: updated_at              # read back incrementally past this column
      version_column: c360_version    # every c360 write sets it (an integer or a time)
      password_secret: shipping_db    # C360_SYNC_SECRET_SHIPPING_DB holds the password
      delete: true                    # erasure deletes the person's rows (default)
    country: TH                       # ISO 3166 alpha-2: where the app is hosted
    mapping:                          # how the table is read back (docs/sources.md)
      kind: contact
      record_id: code
      fields: {address_line1: ship_street, province: ship_province}
    fields:                           # golden value: column, or {column, owner}
      address_line1: {column: ship_street, owner: newest}
      province: ship_province         # owner: c360 unless default_owner says otherwise
      phone: {column: phone, owner: app}
    create_missing: false
"""

import difflib
import re
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from c360.activation.sync.model import FieldRule, Ownership, RestSpec, TableSpec
from c360.changes.subscriptions import COUNTRIES
from c360.errors import InvalidInput
from c360.ingest.mapping import parse_mapping
from c360.profiles.golden import ADDRESS_GROUP, SURVIVING_FIELDS, TYPED_ADDRESS_FIELDS

OBJECT_FIELDS = (*TYPED_ADDRESS_FIELDS.values(), "latest_delivery_address")
"""Golden values that are objects (a whole address): a field map names one of their parts."""
GOLDEN_FIELDS = (*SURVIVING_FIELDS, *OBJECT_FIELDS)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
_SECRET = re.compile(r"^[A-Za-z0-9_]{1,100}$")
_HEADER = re.compile(r"^[A-Za-z0-9-]{1,100}$")


class FieldConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(min_length=1, max_length=300)
    owner: Ownership | None = None


class TableConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1)
    name: str = Field(min_length=1, max_length=300)
    key: str = Field(min_length=1, max_length=300)
    cursor: str | None = None
    version_column: str | None = None
    password_secret: str | None = Field(None, pattern=_SECRET.pattern)
    delete: bool = True
    """Whether erasing a person deletes their rows (``DELETE FROM name WHERE key = ...``)."""


class DeleteConfig(BaseModel):
    """How the app deletes one of its records when c360 erases the person."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["DELETE", "POST"] = "DELETE"
    path: str = Field("{key}", min_length=1, max_length=500)
    """``{key}`` is the app's key, URL-encoded. Relative (``{key}``, ``{key}/erase``): under
    ``url``; absolute (``/gdpr/customers/{key}``): on ``url``'s host."""

    @field_validator("path")
    @classmethod
    def _has_key(cls, value: str) -> str:
        if value.count("{key}") != 1:
            raise ValueError(
                f"{value!r}: the path names the record once, as {{key}} (e.g. /customers/{{key}})"
            )
        rest = value.replace("{key}", "")
        if "{" in rest or "}" in rest or "?" in rest or "#" in rest or "//" in value:
            raise ValueError(f"{value!r}: only {{key}} may be filled in; no query or fragment")
        return value


class AuthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    secret: str = Field(pattern=_SECRET.pattern)
    header: str = Field("Authorization", pattern=_HEADER.pattern)
    scheme: str = Field("Bearer", max_length=50)


class RestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1, max_length=2048)
    method: Literal["PATCH", "PUT"] = "PATCH"
    auth: AuthConfig | None = None
    version_field: str | None = None
    timeout_s: float = Field(10.0, gt=0, le=300)
    record_kind: str | None = None
    delete: DeleteConfig | None = None
    """The app's delete request, used when c360 erases a person (None: it cannot delete)."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r}: give an http:// or https:// base URL with a host")
        if parts.username is not None or parts.password is not None or parts.query:
            raise ValueError(
                f"{value!r}: no user, password or query in the URL; credentials go in 'auth'"
            )
        return value.strip().rstrip("/")


class DestinationConfig(BaseModel):
    """One destination: a ``table`` or a ``rest`` app, its source, its fields and owners."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME.pattern)
    source: str = Field(min_length=1, max_length=100)
    table: TableConfig | None = None
    rest: RestConfig | None = None
    mapping: dict[str, Any] | None = None
    fields: dict[str, str | FieldConfig]
    default_owner: Ownership = Ownership.C360
    create_missing: bool = False
    consent_purpose: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,49}$")
    """The consent a person needs to be pushed (None: the app is the business's own system
    holding the person's records, as their source; restricted people are never pushed)."""
    country: str | None = Field(None, min_length=2, max_length=2)
    """ISO 3166 alpha-2 code of where the app is hosted; outside ``C360_HOME_COUNTRY`` it is a
    transfer abroad, listed in the register with the fields it receives."""

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if code not in COUNTRIES:
            raise ValueError(
                f"{value!r} is not an ISO 3166 alpha-2 country code (TH, VN, SG, JP, US ...)"
            )
        return code

    @field_validator("fields")
    @classmethod
    def _known_paths(cls, value: dict[str, str | FieldConfig]) -> dict[str, str | FieldConfig]:
        if not value:
            raise ValueError("name at least one golden field and the column that holds it")
        for path in value:
            golden_path_problem(path)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> "DestinationConfig":
        if (self.table is None) == (self.rest is None):
            raise ValueError("give exactly one of 'table' or 'rest'")
        if self.table is not None:
            if self.mapping is None:
                raise ValueError(
                    "a table destination needs 'mapping': how c360 reads the table back as "
                    "the source (docs/sources.md)"
                )
            mapping = parse_mapping(yaml.safe_dump(self.mapping), origin="mapping")
            if mapping.record_id_columns != [self.table.key]:
                raise ValueError(
                    f"the mapping's record_id must be the key column {self.table.key!r} (the "
                    "crosswalk finds a profile's rows by their record ids)"
                )
            if mapping.source is not None and mapping.source != self.source:
                raise ValueError(
                    f"the mapping is for source {mapping.source!r}, not {self.source!r}"
                )
        elif self.mapping is not None:
            raise ValueError(
                "a REST destination is not read back by c360: its app sends changes to "
                "/v1/webhooks/{source} (give the source its mapping with c360 sources set-mapping)"
            )
        columns = [r.column for r in self.rules()]
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ValueError(f"column {repeated[0]!r} is given to more than one field")
        if self.table is not None and self.table.version_column in columns:
            raise ValueError("the version column cannot also hold a field")
        return self

    def rules(self) -> tuple[FieldRule, ...]:
        found = []
        for path, spec in self.fields.items():
            if isinstance(spec, str):
                found.append(FieldRule(path, spec, self.default_owner))
            else:
                found.append(FieldRule(path, spec.column, spec.owner or self.default_owner))
        return tuple(found)

    def table_spec(self) -> TableSpec | None:
        t = self.table
        if t is None:
            return None
        return TableSpec(
            t.url, t.name, t.key, t.cursor, t.version_column, t.password_secret, t.delete
        )

    def transfer_fields(self) -> tuple[str, ...]:
        """The golden values c360 sends the app (its allow-list): every field but the app's."""
        return tuple(r.path for r in self.rules() if r.owner != Ownership.APP)

    def rest_spec(self) -> RestSpec | None:
        r = self.rest
        if r is None:
            return None
        auth = r.auth
        return RestSpec(
            url=r.url,
            method=r.method,
            auth_header=auth.header if auth else "Authorization",
            auth_scheme=auth.scheme if auth else "Bearer",
            auth_secret=auth.secret if auth else None,
            version_field=r.version_field,
            timeout_s=r.timeout_s,
            delete_method=r.delete.method if r.delete else None,
            delete_path=r.delete.path if r.delete else None,
        )

    def record_kind(self) -> str | None:
        if self.mapping is not None:
            return str(self.mapping.get("kind")) if self.mapping.get("kind") else None
        return self.rest.record_kind if self.rest is not None else None

    def mapping_text(self) -> str | None:
        if self.mapping is None:
            return None
        return yaml.safe_dump(self.mapping, allow_unicode=True, sort_keys=False)


def golden_path_problem(path: str) -> None:
    """Raise ValueError unless ``path`` names a golden value (``province``) or a part of an
    object value (``delivery_address.postal_code``)."""
    base, _, part = path.partition(".")
    if base not in GOLDEN_FIELDS:
        close = difflib.get_close_matches(base, list(GOLDEN_FIELDS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"{base!r} is not a golden record value{hint}")
    if base in OBJECT_FIELDS:
        if part not in ADDRESS_GROUP:
            raise ValueError(
                f"{base!r} is a whole address: name one part, such as '{base}.address_line1' "
                f"(parts: {', '.join(ADDRESS_GROUP)})"
            )
    elif part:
        raise ValueError(f"{base!r} has no parts; use {base!r}")


def parse_destination(
    text_or_data: str | dict[str, Any], *, origin: str = "destination"
) -> DestinationConfig:
    """Read and validate a destination; InvalidInput names the file, the key and the problem."""
    data: Any = text_or_data
    if isinstance(text_or_data, str):
        try:
            data = yaml.safe_load(text_or_data)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{origin}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{origin}: a destination is a YAML object with 'name' and 'source'")
    try:
        config = DestinationConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'destination'}: {_message(e['msg'])}"
            for e in exc.errors()
        )
        raise InvalidInput(f"{origin}: {problems}") from None
    except InvalidInput as exc:  # the mapping's own message
        raise InvalidInput(f"{origin}: {exc}") from None
    if config.table is not None and _has_password(config.table.url):
        raise InvalidInput(
            f"{origin}: table.url: leave the password out of the URL (it would be stored); "
            "name a secret in table.password_secret and set C360_SYNC_SECRET_<NAME>"
        )
    return config


def _message(text: str) -> str:
    return text.removeprefix("Value error, ")


def _has_password(url: str) -> bool:
    try:
        return make_url(url).password is not None
    except ArgumentError:
        raise InvalidInput(f"table.url: not a database URL: {url!r}") from None
