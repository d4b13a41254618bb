"""C360_EVENT_BUS is checked at start-up: NATS URLs only, and never echoed with a password."""

import re

import pytest
from pydantic import ValidationError

from c360.eventlog.bus import bus_servers
from c360.settings import Settings


def test_a_nats_url_and_a_cluster_list_are_accepted() -> None:
    assert bus_servers("nats://127.0.0.1:4222") == ["nats://127.0.0.1:4222"]
    assert bus_servers("nats://a:4222, tls://b:4222") == ["nats://a:4222", "tls://b:4222"]
    assert (
        Settings(event_bus=" nats://nats.internal:4222 ").event_bus == "nats://nats.internal:4222"
    )


def test_no_bus_is_the_default_and_an_empty_value_means_none() -> None:
    assert Settings().event_bus is None
    assert Settings(event_bus="").event_bus is None


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:4222", "127.0.0.1:4222", "nats://", "nats://h:42x", ","]
)
def test_anything_but_a_nats_url_is_refused_at_start_up(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(event_bus=url)
    assert "C360_EVENT_BUS" in str(refused.value)


def test_the_refusal_names_the_server_without_its_password() -> None:
    with pytest.raises(ValueError, match=re.escape("http://nats.internal:4222")) as refused:
        bus_servers("http://user:s3cret@nats.internal:4222")
    assert "s3cret" not in str(refused.value)
