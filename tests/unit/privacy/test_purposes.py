"""The configured consent purposes without a store: the setting's two forms and its mistakes,
the refusal that lists what is configured, and how the state shows configured and other
purposes."""

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from c360.errors import InvalidInput
from c360.privacy.consent import ANY_CHANNEL, GRANTED, PURPOSE, WITHDRAWN, Statement, state_of
from c360.privacy.purposes import (
    DEFAULT_PURPOSES,
    Purpose,
    check_purpose,
    configure_purposes,
    configured_purposes,
    parse_purposes,
)
from c360.settings import Settings

NOW = 1_800_000_000_000_000


@pytest.fixture(autouse=True)
def defaults_after() -> Iterator[None]:
    yield
    configure_purposes(None)


def test_unset_means_the_five_defaults() -> None:
    assert [p.name for p in parse_purposes(None)] == list(DEFAULT_PURPOSES)
    assert DEFAULT_PURPOSES == (
        "marketing",
        "analytics",
        "personalisation",
        "profiling",
        "third_party_sharing",
    )


def test_names_comma_separated_or_a_json_list_with_labels() -> None:
    assert parse_purposes("marketing, analytics,research") == (
        Purpose("marketing"),
        Purpose("analytics"),
        Purpose("research"),
    )
    found = parse_purposes(
        [
            "marketing",
            {
                "name": "loyalty_programme",
                "labels": {
                    "en": "Loyalty programme",
                    "th": "โปรแกรมสมาชิก",
                    "vi": "Chương trình khách hàng thân thiết",
                },
            },
        ]
    )
    assert [p.name for p in found] == ["marketing", "loyalty_programme"]
    assert found[1].labels["th"] == "โปรแกรมสมาชิก"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ([], "the list is empty"),
        ("", "the list is empty"),
        (["marketing", "Loyalty"], "item 2: 'Loyalty' is not a purpose name"),
        (["marketing", "loyalty programme"], "is not a purpose name"),
        (["marketing", "analytics", "analytics"], "item 3: 'analytics' is listed twice"),
        (["analytics", "research"], "'marketing' cannot be left out"),
        ([{"name": "marketing", "labels": {"fr": "x"}}], "label language 'fr'; use en, th, vi"),
        ([{"name": "marketing", "labels": {"th": ""}}], "the th label is text"),
        ([{"name": "marketing", "label": "x"}], "unknown key 'label'"),
        ([42], "item 1: a name, or an object with 'name' and 'labels'"),
        ({"marketing": {}}, "a JSON list of purposes"),
    ],
)
def test_a_wrong_list_is_refused_saying_which_item_and_why(raw: object, says: str) -> None:
    with pytest.raises(InvalidInput, match="C360_CONSENT_PURPOSES") as caught:
        parse_purposes(raw)
    assert says in str(caught.value)


def test_every_mistake_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_purposes(["marketing", "Bad", "research", "research"])
    assert "item 2" in str(caught.value) and "item 4" in str(caught.value)


def test_settings_refuse_a_wrong_list_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_CONSENT_PURPOSES", '["marketing", "marketing"]')
    with pytest.raises(ValidationError, match="'marketing' is listed twice"):
        Settings()
    monkeypatch.setenv(
        "C360_CONSENT_PURPOSES",
        '["marketing", {"name": "research", "labels": {"vi": "Nghiên cứu"}}]',
    )
    configure_purposes(Settings().consent_purposes)
    assert [p.name for p in configured_purposes()] == ["marketing", "research"]


def test_an_unknown_purpose_is_refused_naming_the_configured_ones() -> None:
    assert check_purpose("analytics") == "analytics"
    with pytest.raises(InvalidInput) as caught:
        check_purpose("loyalty_programme")
    message = str(caught.value)
    assert "'loyalty_programme' is not a configured consent purpose" in message
    assert "marketing, analytics, personalisation, profiling, third_party_sharing" in message
    configure_purposes("marketing,loyalty_programme")
    assert check_purpose("loyalty_programme") == "loyalty_programme"
    with pytest.raises(InvalidInput, match="use one of marketing, loyalty_programme"):
        check_purpose("analytics")


def statement(purpose: str, state: str, at_us: int) -> Statement:
    return Statement(PURPOSE, purpose, ANY_CHANNEL, state, at_us, "web", "tracking")


def test_the_state_lists_configured_purposes_then_others_stated_marked_as_such() -> None:
    configure_purposes(
        ["marketing", {"name": "loyalty_programme", "labels": {"th": "โปรแกรมสมาชิก"}}]
    )
    said = [
        statement("Advertising", WITHDRAWN, NOW - 2),
        statement("loyalty_programme", GRANTED, NOW - 1),
        statement("analytics", GRANTED, NOW),
    ]
    purposes = state_of(said, NOW)["purposes"]
    assert list(purposes) == ["marketing", "loyalty_programme", "Advertising", "analytics"]
    assert purposes["loyalty_programme"]["configured"] is True
    assert purposes["loyalty_programme"]["labels"] == {"th": "โปรแกรมสมาชิก"}
    assert purposes["loyalty_programme"]["granted"] is True
    assert purposes["marketing"] == {
        **purposes["marketing"],
        "configured": True,
        "labels": {},
        "granted": False,
        "stated": False,
    }
    # kept and shown as they were said, flagged: analytics is no longer configured here
    assert purposes["analytics"]["configured"] is False
    assert purposes["analytics"]["granted"] is True
    assert purposes["Advertising"]["configured"] is False
