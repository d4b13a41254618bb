"""What identity resolution looks at in a record: its identifiers, its comparison features and
its blocking keys (pure; no I/O).

A *node* is one thing that can belong to a person: a source record (a CRM contact, an invoice,
a POS receipt), or an identity seen by the tracking API (a ``userId``, an ``anonymousId``).
Features are short, JSON-ready strings, computed once when the node changes and stored with
it, so candidates are scored without re-reading or re-standardizing their records.
"""

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from c360.identity.config import IdentityConfig
from c360.standardize import name_key, name_tokens_key

NODE_RECORD = "record"
NODE_USER = "user_id"
NODE_ANONYMOUS = "anonymous_id"

FEATURE_NAMES = ("fn", "fk", "nn", "ln", "lk", "tk", "dob", "em", "ph", "pc", "pv", "hn", "g")
"""given name, its key, nickname key, family name, its key, whole-name tokens key, birth date,
email, phone, postal code, province code, house number, gender."""

RULE_FEATURES = {
    "first_name": "fk",
    "last_name": "lk",
    "birth_date": "dob",
    "postal_code": "pc",
    "gender": "g",
}
"""Features a deterministic rule may name besides identifier types."""


@dataclass(slots=True)
class NodeInput:
    """A node as its area hands it over: the node's key and what it says about the person."""

    source_id: int
    node_type: str
    key: str
    kind: str
    fields: dict[str, Any]
    identifiers: list[tuple[str, str]]
    links: list[tuple[str, str]] = field(default_factory=list)
    """Identifiers of *other* nodes this one was seen with (an anonymousId with a userId, an
    alias's previousId): deterministic evidence that they are one person."""
    seq: int = 0
    at_us: int = 0
    first_seq: int = 0
    """The log entry that first brought the node (its record's first version), if known."""
    traits: dict[str, Any] | None = None
    """A tracked identity's traits as sent (accumulated over its identify calls); its
    ``fields`` are standardized from them."""


def identifier_keys(
    config: IdentityConfig, source_id: int, identifiers: list[tuple[str, str]]
) -> list[str]:
    """Index keys of the identifiers that may link (blocked values are left out)."""
    keys: list[str] = []
    for id_type, value in identifiers:
        if not value:
            continue
        rule = config.identifier(id_type)
        if rule.is_blocked(value):
            continue
        keys.append(id_key(id_type, value, source_id if rule.per_source else None))
    return sorted(set(keys))


def id_key(id_type: str, value: str, source_id: int | None = None) -> str:
    if source_id is not None:
        return f"{id_type}:{source_id}:{value}"
    return f"{id_type}:{value}"


def key_type(key: str) -> str:
    return key.split(":", 1)[0]


PLACEHOLDER_NAMES = frozenset(
    {
        "walk-in",
        "walk in",
        "walkin",
        "walk-in customer",
        "guest",
        "customer",
        "cash",
        "cash customer",
        "retail customer",
        "khách lẻ",
        "khach le",
        "khách hàng",
        "khách",
        "ลูกค้า",
        "ลูกค้าทั่วไป",
        "ลูกค้าเงินสด",
        "ลูกค้าหน้าร้าน",
        "n/a",
        "na",
        "none",
        "null",
        "unknown",
        "test",
        "-",
    }
)
"""What counters and forms write when they do not know the name: not a name."""

MIDDLE_NAMES = frozenset({"văn", "thị", "hữu", "đình", "công", "van", "thi", "huu", "dinh", "cong"})
"""Vietnamese middle names so common that they cannot tell people apart."""

KINSHIP_TITLES = frozenset(
    {"anh", "chị", "em", "cô", "chú", "bác", "ông", "bà", "a.", "c.", "khun", "คุณ"}
)
"""Forms of address written before a given name (Vietnamese kinship terms, Thai Khun)."""


def features_of(fields: dict[str, Any]) -> dict[str, str]:
    """The comparison features of a record's standardized fields (absent ones left out)."""
    out: dict[str, str] = {}
    first = _text(fields.get("first_name"))
    last = _text(fields.get("last_name"))
    full = _text(fields.get("full_name"))
    whole_name = " ".join(p for p in (first, last) if p) or full or ""
    if _fold_case(whole_name) in PLACEHOLDER_NAMES or (
        full is not None and _fold_case(full) in PLACEHOLDER_NAMES
    ):
        first = last = full = None
    middle = _text(fields.get("middle_name"))
    if first and last and middle and _fold_case(last) in MIDDLE_NAMES:
        # "Van Hung Phan" read as family-first: Văn is a middle name, never a family name, so
        # the name was written given-first (family Phan, given Hung)
        first, last = middle, first
    if first and last and _fold_case(first) in KINSHIP_TITLES:
        # "Chị Thủy", "Anh Đạt": how a Vietnamese agent writes a caller's name
        first, last = last, None
        full = None
    if first is None and last is None and full is not None:
        first = full
    if first:
        out["fn"] = _fold_case(first)
        # "Văn Hùng" in a first-name column: the middle name says nothing about the person
        # (half of Vietnamese men are Văn, women Thị), the given name is the last word
        words = first.split()
        given = words[-1] if len(words) > 1 and _fold_case(words[0]) in MIDDLE_NAMES else first
        key = name_key(given)
        if key:
            out["fk"] = key
    if last:
        out["ln"] = _fold_case(last)
        key = name_key(last)
        if key:
            out["lk"] = key
    whole = full or " ".join(p for p in (last, _text(fields.get("middle_name")), first) if p)
    if whole:
        tokens = name_tokens_key(whole)
        if tokens:
            out["tk"] = tokens
    nickname = _text(fields.get("nickname"))
    if nickname:
        key = name_key(nickname)
        if key:
            out["nn"] = key
    for name, feature in (("birth_date", "dob"), ("email", "em"), ("phone", "ph")):
        value = _text(fields.get(name))
        if value:
            out[feature] = value
    postal = _text(fields.get("postal_code"))
    if postal:
        out["pc"] = postal
    province = _text(fields.get("province"))
    if province:
        out["pv"] = _fold_case(province)
    house = _house_number(fields)
    if house:
        out["hn"] = house
    gender = _text(fields.get("gender"))
    if gender in {"male", "female"}:
        out["g"] = gender
    return out


def blocking_keys(features: dict[str, str]) -> list[str]:
    """Keys under which a node meets its candidates (besides its identifiers)."""
    keys: list[str] = []
    fk, lk, dob, pc = (
        features.get("fk"),
        features.get("lk"),
        features.get("dob"),
        features.get("pc"),
    )
    first_token = fk.split(" ")[0] if fk else None
    if fk and dob:
        keys.append(f"b:fd:{first_token}|{dob}")
    if lk and dob:
        keys.append(f"b:ld:{lk}|{dob}")
    if fk and lk:
        keys.append(f"b:fl:{first_token}|{lk}")
    if fk and pc:
        keys.append(f"b:fp:{first_token}|{pc}")
    tk = features.get("tk")
    if tk and " " in tk:
        keys.append(f"b:tk:{tk}")
    phone = features.get("ph")
    if phone and len(phone) > 8:
        # The same subscriber number under another country code (a national-format number
        # read with the wrong default country) or with one digit mistyped at the front.
        keys.append(f"b:p8:{phone[-8:]}")
    email = features.get("em")
    if email and "@" in email:
        local = email.split("@", 1)[0]
        if len(local) >= 4:
            keys.append(f"b:el:{local}")
    return keys


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        return text or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _fold_case(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _house_number(fields: dict[str, Any]) -> str | None:
    for name in ("address_line1", "address"):
        value = _text(fields.get(name))
        if value:
            token = value.replace(",", " ").split(" ", 1)[0]
            if token and token[0].isdigit():
                return token
    return None


_TRAIT_NAMES = {
    "first_name": ("firstName", "first_name"),
    "last_name": ("lastName", "last_name"),
    "full_name": ("name",),
    "birth_date": ("birthday", "birth_date", "birthDate"),
    "gender": ("gender",),
}


def tracked_fields(traits: dict[str, Any]) -> dict[str, Any]:
    """Standardized person fields from a tracked identity's traits (Segment's reserved names:
    ``email``, ``phone``, ``firstName``, ``lastName``, ``name``, ``birthday``, ``address``).

    A phone written without a country code is read in the country the traits give
    (``address.country`` or ``country``) and left out when they give none: ``0812345678`` is a
    valid number in Thailand and in Vietnam."""
    from c360.standardize import country as standard_country
    from c360.standardize import date, email, full_name_parts, gender, phone

    out: dict[str, Any] = {}
    mail = email(traits.get("email"))
    if mail.ok and mail.value:
        out["email"] = mail.value
    given_address = traits.get("address")
    address: dict[str, Any] = given_address if isinstance(given_address, dict) else {}
    region = standard_country(address.get("country") or traits.get("country")).value
    raw_phone = _text(traits.get("phone"))
    if raw_phone:
        if region:
            number = phone(raw_phone, default_region=str(region))
        elif raw_phone.startswith("+"):
            number = phone(raw_phone)
        else:
            number = None
        if number is not None and number.ok and number.value:
            out["phone"] = number.value
    for field_name, names in _TRAIT_NAMES.items():
        raw = next((traits[n] for n in names if _text(traits.get(n))), None)
        if raw is None:
            continue
        if field_name == "birth_date":
            born = date(raw)
            if born.ok and born.value:
                out["birth_date"] = born.value
        elif field_name == "gender":
            said = gender(raw)
            if said.ok and said.value:
                out["gender"] = said.value
        elif field_name == "full_name":
            parts = full_name_parts(raw)
            out.setdefault("first_name", parts["first_name"])
            out.setdefault("last_name", parts["last_name"])
            out["full_name"] = _text(raw)
        else:
            out[field_name] = _text(raw)
    postal = _text(address.get("postal_code") or address.get("postalCode"))
    if postal:
        out["postal_code"] = postal
    return {k: v for k, v in out.items() if v}


OWN_REFERENCE = {
    "order": "order_id",
    "invoice": "invoice_id",
    "shipment": "shipment_id",
    "payment": "payment_id",
    "ticket": "ticket_id",
}
"""The field that names a business object of each kind (its own reference)."""
REFERENCES = ("order_id", "invoice_id", "shipment_id", "ticket_id")
"""Fields by which a record points at another business object: a shipment at its order, a
payment at its invoice, an order line at its order."""
REFERENCE_TYPES = frozenset({*REFERENCES, *OWN_REFERENCE.values()})
"""Identifiers of business objects (an order id), not of the person."""
NOT_PERSONAL = frozenset({"product"})
"""Record kinds that describe no person: they are not resolved."""


def record_node(
    source_id: int,
    record_id: str,
    kind: str,
    fields: dict[str, Any],
    identifiers: list[tuple[str, str]],
    seq: int,
    at_us: int,
    first_seq: int = 0,
) -> NodeInput | None:
    """The node of a source record (``None`` for kinds that describe no person).

    Besides its identifiers, a record holds its own reference (an order its ``order_id``) and
    links to those it points at (a shipment to the ``order_id`` it delivers): a record with
    no contact details of its own still reaches its person through them."""
    if kind in NOT_PERSONAL:
        return None
    ids = list(identifiers)
    links: list[tuple[str, str]] = []
    own = OWN_REFERENCE.get(kind)
    for name in REFERENCES:
        value = _text(fields.get(name))
        if not value:
            continue
        if name == own:
            ids.append((name, value))
        else:
            links.append((name, value))
    if own is not None and own not in REFERENCES:
        value = _text(fields.get(own))
        if value:
            ids.append((own, value))
    return NodeInput(
        source_id,
        NODE_RECORD,
        record_id,
        kind,
        fields,
        ids,
        links,
        seq=seq,
        at_us=at_us,
        first_seq=first_seq,
    )
