"""Every standardizer, whatever it is given, returns a Standardized and never raises."""

import datetime as dt
import inspect
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from c360.standardize import EMPTY, STANDARDIZERS, Standardized

# Text that looks like what sources send: Thai, Vietnamese, digits and separators, mixed in.
_messy_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("0123456789 ,.-/+()#:฿₫$@'")),
        st.sampled_from(list("กขคงจชซญดตถทธนบปผพภมยรลวศษสหอฮะาิีึืุูเแโใไ็่้๊๋์ัำ")),
        st.sampled_from(list("ăâđêôơưáàảãạĐ")),
    ),
    max_size=40,
)
_cells = st.one_of(
    st.none(),
    _messy_text,
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.datetimes(timezones=st.one_of(st.none(), st.just(dt.UTC))),
)
_OPTIONS: dict[str, dict[str, Any]] = {
    "phone": {"default_region": "VN"},
    "date": {"day_first": False},
    "datetime": {"timezone": "Asia/Ho_Chi_Minh"},
    "money": {"currency": "THB"},
    "province": {"country": "TH"},
    "postal_code": {"country": "TH"},
    "address": {"country": "VN"},
    "national_id": {"country": "TH"},
    "name": {"order": "family_first"},
}


def test_the_registry_holds_every_type() -> None:
    assert set(STANDARDIZERS) == {
        "text", "name", "email", "phone", "date", "datetime", "money", "number", "integer",
        "boolean", "country", "gender", "province", "postal_code", "national_id", "identifier",
        "currency", "address",
    }  # fmt: skip


@pytest.mark.parametrize("type_name", sorted(_OPTIONS))
def test_options_are_keyword_only(type_name: str) -> None:
    parameters = inspect.signature(STANDARDIZERS[type_name]).parameters
    for option in _OPTIONS[type_name]:
        assert parameters[option].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("type_name", sorted(STANDARDIZERS))
def test_unknown_options_are_refused(type_name: str) -> None:
    with pytest.raises(TypeError):
        STANDARDIZERS[type_name]("x", no_such_option=1)


@pytest.mark.parametrize("type_name", sorted(STANDARDIZERS))
@pytest.mark.parametrize("raw", [None, "", "   ", "\u200b\ufeff", float("nan")])
def test_empty_cells_are_empty_everywhere(type_name: str, raw: object) -> None:
    assert STANDARDIZERS[type_name](raw) == EMPTY


def _check(result: Standardized) -> None:
    assert isinstance(result, Standardized)
    assert isinstance(result.extra, dict)
    if result.flag is not None:
        assert result.value is None
        assert result.flag.startswith(("invalid_", "unknown_"))


@pytest.mark.parametrize("type_name", sorted(STANDARDIZERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=_cells)
def test_never_raises_on_any_cell(type_name: str, raw: object) -> None:
    standardize = STANDARDIZERS[type_name]
    _check(standardize(raw))
    _check(standardize(raw, **_OPTIONS.get(type_name, {})))


@pytest.mark.parametrize("type_name", sorted(STANDARDIZERS))
@settings(max_examples=150, deadline=None)
@given(raw=st.text())
def test_never_raises_on_any_text(type_name: str, raw: str) -> None:
    _check(STANDARDIZERS[type_name](raw))


def test_values_are_json_ready() -> None:
    import json

    samples = {
        "money": "฿1,234.50",
        "number": "1,234.5",
        "date": "15/03/2530",
        "datetime": "15/03/2024 09:30",
        "name": "นายสมชาย ใจดี",
        "address": "12 Nguyễn Huệ, P. Bến Nghé, Q.1, TP.HCM",
        "boolean": "ใช่",
        "national_id": Decimal("1234567890121"),
    }
    for type_name, raw in samples.items():
        result = STANDARDIZERS[type_name](raw)
        assert result.ok, type_name
        json.dumps({"value": result.value, "extra": result.extra})
