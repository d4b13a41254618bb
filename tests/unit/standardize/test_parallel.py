"""Standardizing in worker processes gives exactly what standardizing in line gives."""

import orjson

from c360.ingest.mapping import parse_mapping
from c360.ingest.records import MappingVersion
from c360.standardize.parallel import SMALLEST_SHARED, PooledStandardizer
from c360.standardize.service import INLINE

MAPPING = parse_mapping(
    """
kind: contact
record_id: id
fields:
  full_name: name
  phone: phone
  birth_date: {column: dob, format: "%d/%m/%Y"}
  province: province
identifiers:
  email: email
"""
)


def test_pooled_and_inline_standardizing_agree() -> None:
    version = MappingVersion(1, 1, MAPPING, MAPPING.fingerprint())
    names = ["นาย สมชาย ใจดี", "Nguyễn Văn An", "NGUYEN THI MAI", "Ploy"]
    phones = ["081-234-5678", "0912 345 678", "+84 98 765 4321", "12345"]
    items = []
    for n in range(SMALLEST_SHARED * 2 + 7):
        row = {
            "id": str(n),
            "name": names[n % 4],
            "phone": phones[n % 4],
            "dob": f"{1 + n % 28:02d}/0{1 + n % 9}/25{30 + n % 40}",
            "province": ["กทม.", "TP.HCM", "Chiang Mai", "nowhere"][n % 4],
            "email": f"person{n}@Example.com" if n % 5 else "not-an-email",
        }
        items.append((version, orjson.dumps({"row": row}).decode()))
    pool = PooledStandardizer(2)
    try:
        pooled = pool.standardize(items)
    finally:
        pool.close()
    inline = INLINE.standardize(items)
    assert len(pooled) == len(items)
    assert pooled == inline
    assert pooled[2].fields["phone"] == "+84987654321"
    assert pooled[3].flags["phone"] == "invalid_phone"
