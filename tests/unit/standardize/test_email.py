import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from c360.standardize import EMPTY, email


@pytest.mark.parametrize(
    ("raw", "expected", "domain"),
    [
        ("Somchai.J@Gmail.COM", "somchai.j@gmail.com", "gmail.com"),
        ("  mailto:nguyen.an@example.vn ", "nguyen.an@example.vn", "example.vn"),
        ("MAILTO:a@b.co?subject=hi", "a@b.co", "b.co"),
        ("Somchai Jaidee <somchai@example.co.th>", "somchai@example.co.th", "example.co.th"),
        ("<an@example.com>", "an@example.com", "example.com"),
        ('"an@example.com"', "an@example.com", "example.com"),
        ("an@example.com.", "an@example.com", "example.com"),
        ("an＠example.com", "an@example.com", "example.com"),  # full-width at sign
        ("x@münchen.de", "x@xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
        ("info@ไทยเอ็นไอซี.ไทย", "info@xn--c3cxg9a5cb1d9d7af5a.xn--o3cw4h", None),
        ("สมชาย@example.com", "สมชาย@example.com", "example.com"),
        ("o'brien+news@example.ie", "o'brien+news@example.ie", "example.ie"),
    ],
)
def test_addresses_are_normalised(raw: str, expected: str, domain: str | None) -> None:
    result = email(raw)
    assert result.ok
    assert result.value == expected
    assert result.extra["domain"] == (domain or expected.split("@")[1])


def test_gmail_keeps_dots_and_tags_but_its_match_key_drops_them() -> None:
    plain = email("Somchai.Jaidee+shop@googlemail.com")
    assert plain.value == "somchai.jaidee+shop@googlemail.com"
    assert plain.extra["match_key"] == "somchaijaidee@gmail.com"
    assert email("somchaijaidee@gmail.com").extra["match_key"] == "somchaijaidee@gmail.com"
    assert "match_key" not in email("somchai.jaidee+shop@example.com").extra


def test_several_addresses_in_one_cell_give_the_first_and_keep_the_others() -> None:
    result = email("an@example.com; AN@example.com, binh@example.vn")
    assert result.value == "an@example.com"
    assert result.extra["others"] == ["binh@example.vn"]


@pytest.mark.parametrize(
    "raw",
    [
        "not an email",
        "somchai@",
        "@example.com",
        "a..b@example.com",
        "a@b",
        "an@localhost",
        "an@example.test",
        "an @example.com",
        "-",
        "n/a",
        "a@-example.com",
        "a@ab--cd.com",
    ],
)
def test_invalid_addresses_are_flagged(raw: str) -> None:
    result = email(raw)
    assert result.value is None
    assert result.flag == "invalid_email"


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_empty_is_empty(raw: object) -> None:
    assert email(raw) == EMPTY


_local = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_+", min_size=1, max_size=20)
_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(_local, st.lists(_label, min_size=1, max_size=3), st.sampled_from(["com", "th", "vn", "c"]))
def test_the_fast_path_agrees_with_email_validator(local: str, labels: list[str], tld: str) -> None:
    address = f"{local}@{'.'.join([*labels, tld])}"
    try:
        expected: str | None = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None
    result = email(address)
    assert result.value == (expected.lower() if expected else None)
