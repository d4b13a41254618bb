"""Standardizers: one canonical value per raw cell, or a flag saying why there is none.

Each standardizer takes a raw value (text, or a number, date or bool from a typed source) and
keyword-only options, and returns a :class:`Standardized`. They never raise on bad input (only
on a bad option, such as an unknown time zone, which is a configuration error) and keep no
state beyond caches. The import pipeline finds them by type name in :data:`STANDARDIZERS`; a
field's configured options are passed as keywords, so an option a standardizer does not
understand fails at the first row instead of being ignored.

Options by type: ``phone``: ``default_region``; ``date``: ``format``, ``day_first``;
``datetime``: ``format``, ``timezone``, ``day_first``; ``money``: ``currency``; ``name``:
``order``; ``province``, ``postal_code``, ``address``, ``national_id``: ``country``. The
others take none.
"""

from collections.abc import Callable

from c360.standardize.address import address, postal_code, province
from c360.standardize.country import country, gender
from c360.standardize.dates import date, datetime
from c360.standardize.email import email
from c360.standardize.identifiers import boolean, identifier, national_id, text
from c360.standardize.model import EMPTY, Standardized
from c360.standardize.money import currency, integer, money, number
from c360.standardize.names import full_name_parts, name, name_key, name_tokens_key, phonetic_key
from c360.standardize.phone import phone

STANDARDIZERS: dict[str, Callable[..., Standardized]] = {
    "text": text,
    "name": name,
    "email": email,
    "phone": phone,
    "date": date,
    "datetime": datetime,
    "money": money,
    "number": number,
    "integer": integer,
    "boolean": boolean,
    "country": country,
    "gender": gender,
    "province": province,
    "postal_code": postal_code,
    "national_id": national_id,
    "identifier": identifier,
    "currency": currency,
    "address": address,
}
"""Standardizers by type name, as field mappings name them."""

__all__ = [
    "EMPTY",
    "STANDARDIZERS",
    "Standardized",
    "address",
    "boolean",
    "country",
    "currency",
    "date",
    "datetime",
    "email",
    "full_name_parts",
    "gender",
    "identifier",
    "integer",
    "money",
    "name",
    "name_key",
    "name_tokens_key",
    "national_id",
    "number",
    "phone",
    "phonetic_key",
    "postal_code",
    "province",
    "text",
]
