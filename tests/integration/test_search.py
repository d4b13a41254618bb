"""Profile search on both stores: names in any script or spelling, e-mails, phones, identifiers."""

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, func, select

from c360.errors import InvalidInput
from c360.profiles.golden import RecordFacts, golden_record
from c360.profiles.search import index_profiles, search_profiles, terms_of
from c360.storage.tables import profile_terms

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z

SOMCHAI = "p-th-somchai"
SOMCHAI_LATIN = "p-th-somchai-wong"
ANH = "p-vn-anh"
AN = "p-vn-an"
SOMSAK = "p-th-somsak"


def golden(*records: dict[str, Any]) -> dict[str, Any]:
    """The golden record JSON of a profile made of these (standardized) source records."""
    facts = [
        RecordFacts(r.pop("source"), r.pop("record_id"), "contact", r, T0 + i, i + 1)
        for i, r in enumerate(dict(r) for r in records)
    ]
    return golden_record(facts).as_json()


PROFILES: dict[str, tuple[dict[str, Any], list[tuple[str, str]]]] = {
    SOMCHAI: (
        golden(
            {
                "source": "crm",
                "record_id": "C-1001",
                "first_name": "สมชาย",
                "last_name": "ใจดี",
                "full_name": "สมชาย ใจดี",
                "nickname": "ต้น",
                "email": "somchai@example.co.th",
                "phone": "+66812345678",
            }
        ),
        [
            ("email", "somchai@example.co.th"),
            ("phone", "+66812345678"),
            ("customer_id", "C-1001"),
            ("line_user_id", "U4af4980629abc0123456789abcdef01"),
        ],
    ),
    SOMCHAI_LATIN: (
        golden(
            {
                "source": "shop",
                "record_id": "S-7",
                "first_name": "Somchai",
                "last_name": "Wong",
                "full_name": "Somchai Wong",
                "email": "s.wong@example.com",
            }
        ),
        [("email", "s.wong@example.com"), ("user_id", "u-9")],
    ),
    ANH: (
        golden(
            {
                "source": "crm",
                "record_id": "KH-2002",
                "first_name": "Ánh",
                "middle_name": "Thị",
                "last_name": "Nguyễn",
                "full_name": "Nguyễn Thị Ánh",
                "email": "anh.nguyen@example.vn",
                "phone": "+84912345678",
            }
        ),
        [
            ("email", "anh.nguyen@example.vn"),
            ("phone", "+84912345678"),
            ("customer_id", "KH-2002"),
        ],
    ),
    AN: (
        golden(
            {
                "source": "crm",
                "record_id": "KH-2003",
                "full_name": "Nguyễn Văn An",
                "first_name": "An",
                "middle_name": "Văn",
                "last_name": "Nguyễn",
                "phone": "+842838123456",
            },
            {
                "source": "pos",
                "record_id": "R-55",
                "full_name": "Nguyen Van An",
                "email": "an.nguyen@example.vn",
            },
        ),
        [("phone", "+842838123456"), ("email", "an.nguyen@example.vn")],
    ),
    SOMSAK: (
        golden(
            {
                "source": "crm",
                "record_id": "C-1002",
                "first_name": "สมศักดิ์",
                "last_name": "รักดี",
                "phone": "+6621234567",
            }
        ),
        [("phone", "+6621234567"), ("customer_id", "C-1002")],
    ),
}


@pytest.fixture
def store(engine: Engine) -> Iterator[Engine]:
    """The engine, with every profile of ``PROFILES`` in the search index."""
    with engine.begin() as conn:
        index_profiles(conn, {pid: terms_of(g, ids) for pid, (g, ids) in PROFILES.items()})
    yield engine


def found(engine: Engine, query: str, limit: int = 20) -> list[str]:
    with engine.connect() as conn:
        return [pid for pid, _ in search_profiles(conn, query, limit)]


def test_a_thai_name_is_found_in_thai_script(store: Engine) -> None:
    assert found(store, "สมชาย ใจดี") == [SOMCHAI]
    assert found(store, "ใจดี") == [SOMCHAI]
    # the Latin spelling of the name also matches, after the Thai one
    with store.connect() as conn:
        assert search_profiles(conn, "สมชาย") == [(SOMCHAI, 1.0), (SOMCHAI_LATIN, 0.9)]


def test_a_thai_name_is_found_by_its_romanization(store: Engine) -> None:
    assert found(store, "somchai") == [SOMCHAI, SOMCHAI_LATIN]
    assert found(store, "Somchai Jaidee") == [SOMCHAI]  # ใจดี is "chaidi" by RTGS
    assert found(store, "somchay") == [SOMCHAI, SOMCHAI_LATIN]  # by phonetic key
    with store.connect() as conn:
        scores = dict(search_profiles(conn, "somchai"))
    assert scores == {SOMCHAI: 1.0, SOMCHAI_LATIN: 1.0}


def test_a_thai_title_typed_before_the_name_is_ignored(store: Engine) -> None:
    assert found(store, "คุณสมชาย")[0] == SOMCHAI
    assert found(store, "นายสมชาย ใจดี") == [SOMCHAI]
    assert found(store, "นาย สมชาย ใจดี") == [SOMCHAI]


def test_a_vietnamese_name_is_found_with_and_without_diacritics(store: Engine) -> None:
    assert found(store, "Nguyễn Thị Ánh") == [ANH]
    assert found(store, "nguyen thi anh") == [ANH]
    assert found(store, "NGUYEN THI ANH") == [ANH]
    assert found(store, "Nguyen Van An") == [AN]
    assert found(store, "nguyễn văn an") == [AN]


def test_the_spelling_as_typed_ranks_first(store: Engine) -> None:
    with store.connect() as conn:
        assert search_profiles(conn, "Ánh") == [(ANH, 1.0)]
        assert search_profiles(conn, "Nguyễn Thị") == [(ANH, 2.0)]


def test_the_last_word_matches_as_a_prefix_for_type_ahead(store: Engine) -> None:
    assert found(store, "Somch") == [SOMCHAI, SOMCHAI_LATIN]
    assert found(store, "สมช") == [SOMCHAI]
    assert found(store, "Nguy") == [AN, ANH]
    assert found(store, "nguyen thi a") == [ANH]
    assert found(store, "a") == []  # one letter alone is no prefix: it would match too much
    assert found(store, "Nguyễn Thị Á") == [ANH]
    # an exact match ranks above a prefix match: "an" is An, and the start of Ánh
    with store.connect() as conn:
        assert search_profiles(conn, "nguyen an") == [(AN, 2.0), (ANH, 1.5)]
    # only the last word is a prefix
    assert found(store, "Nguy an") == []


def test_every_word_must_match(store: Engine) -> None:
    assert found(store, "nguyen van an") == [AN]
    assert found(store, "somchai nguyen") == []
    assert found(store, "somchai wong") == [SOMCHAI_LATIN]
    assert found(store, "somchai 0812345678") == [SOMCHAI]
    assert found(store, "somchai 0912345678") == []


def test_an_email_is_found_in_any_case(store: Engine) -> None:
    assert found(store, "somchai@example.co.th") == [SOMCHAI]
    assert found(store, "SOMCHAI@Example.CO.TH") == [SOMCHAI]
    assert found(store, " <anh.nguyen@example.vn> ") == [ANH]
    # from the golden record's alternatives, not only the identifiers given
    assert found(store, "an.nguyen@example.vn") == [AN]
    assert found(store, "nobody@example.com") == []


@pytest.mark.parametrize(
    "typed", ["081-234-5678", "0812345678", "+66 81 234 5678", "66812345678", "(081) 234 5678"]
)
def test_a_thai_phone_is_found_in_any_local_format(store: Engine, typed: str) -> None:
    assert found(store, typed) == [SOMCHAI]


@pytest.mark.parametrize(
    "typed", ["0912 345 678", "0912345678", "+84912345678", "+84 91 234 56 78", "84912345678"]
)
def test_a_vietnamese_phone_is_found_in_any_local_format(store: Engine, typed: str) -> None:
    assert found(store, typed) == [ANH]


def test_a_landline_is_found(store: Engine) -> None:
    assert found(store, "02-123-4567") == [SOMSAK]
    assert found(store, "028 3812 3456") == [AN]


def test_an_identifier_is_found_exactly_in_any_case(store: Engine) -> None:
    assert found(store, "C-1001") == [SOMCHAI]
    assert found(store, "c-1001") == [SOMCHAI]
    assert found(store, "U4AF4980629ABC0123456789ABCDEF01") == [SOMCHAI]
    assert found(store, "u-9") == [SOMCHAI_LATIN]
    assert found(store, "KH-2002") == [ANH]
    assert found(store, "C-100") == []  # identifiers are not prefixes


def test_results_are_limited_and_ties_ordered_by_profile_id(store: Engine) -> None:
    assert found(store, "nguyen", limit=1) == [AN]
    with store.connect() as conn:
        assert search_profiles(conn, "nguyen") == [(AN, 1.0), (ANH, 1.0)]


def test_replacing_terms_forgets_the_old_name(store: Engine) -> None:
    renamed = golden(
        {"source": "crm", "record_id": "C-1001", "first_name": "สมหญิง", "last_name": "ใจดี"}
    )
    with store.begin() as conn:
        index_profiles(conn, {SOMCHAI: terms_of(renamed, [("customer_id", "C-1001")])})
    assert found(store, "สมชาย") == [SOMCHAI_LATIN]  # by its romanization only
    assert found(store, "somchai") == [SOMCHAI_LATIN]
    assert found(store, "สมหญิง ใจดี") == [SOMCHAI]
    assert found(store, "somchai@example.co.th") == []
    assert found(store, "c-1001") == [SOMCHAI]


def test_an_empty_set_removes_the_profile_from_search(store: Engine) -> None:
    with store.begin() as conn:
        index_profiles(conn, {AN: set()})
        left = conn.execute(
            select(func.count()).where(profile_terms.c.profile_id == AN)
        ).scalar_one()
    assert left == 0
    assert found(store, "Nguyễn Văn An") == []
    assert found(store, "nguyen") == [ANH]


def test_indexing_nothing_changes_nothing(store: Engine) -> None:
    with store.begin() as conn:
        index_profiles(conn, {})
    assert found(store, "nguyen") == [AN, ANH]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty"),
        ("   \u200b ", "empty"),
        ("x" * 201, "201 characters"),
        ("a b c d e f g h i", "9 words"),
        ("- / .", "no letters or digits"),
    ],
)
def test_a_bad_query_is_refused_with_its_reason(store: Engine, query: str, message: str) -> None:
    with store.connect() as conn, pytest.raises(InvalidInput, match=message):
        search_profiles(conn, query)


def test_a_bad_limit_is_refused(store: Engine) -> None:
    with store.connect() as conn, pytest.raises(InvalidInput, match="limit"):
        search_profiles(conn, "somchai", limit=0)


def test_lookups_read_the_term_index_not_the_whole_table(store: Engine) -> None:
    """Every lookup, prefixes included, can use the primary key on ``term``."""
    statements: list[tuple[str, Any]] = []

    def record(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    with store.connect() as conn:
        event.listen(conn, "before_cursor_execute", record)
        search_profiles(conn, "nguyen thi a")
        event.remove(conn, "before_cursor_execute", record)
        statement, parameters = statements[-1]
        plan = _plan(conn, statement, parameters)
    assert "profile_terms" in plan
    if store.dialect.name == "sqlite":
        assert "SCAN profile_terms" not in plan, plan
    else:
        assert "Seq Scan on profile_terms" not in plan, plan


def _plan(conn: Connection, statement: str, parameters: Any) -> str:
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        return "\n".join(str(row[-1]) for row in rows)
    conn.exec_driver_sql("SET enable_seqscan = off")  # the table is tiny: ask what it could do
    rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
    return "\n".join(str(row[0]) for row in rows)
