"""Which webhook targets c360 refuses (S7), with the resolver stubbed: no network."""

import ipaddress
import socket
from typing import Any

import pytest

from c360.changes.egress import (
    AllowedHosts,
    BlockedTarget,
    UnresolvableHost,
    address_problem,
    literal_address,
    resolve_target,
)
from c360.errors import InvalidInput

PUBLIC = "93.184.215.14"

LITERAL_TARGETS = {
    "127.0.0.1": "127.0.0.1 is a loopback address",
    "localhost": "localhost is a loopback or cloud metadata name",
    "LOCALHOST.": "localhost. is a loopback or cloud metadata name",
    "api.localhost": "api.localhost is a loopback or cloud metadata name",
    "[::1]": "::1 is a loopback address",
    "0.0.0.0": "0.0.0.0 is an unspecified address",
    "[::]": ":: is an unspecified address",
    "10.0.0.1": "10.0.0.1 is a private address",
    "172.16.0.1": "172.16.0.1 is a private address",
    "192.168.0.1": "192.168.0.1 is a private address",
    "[fd00::1]": "fd00::1 is a private address",
    "169.254.169.254": "169.254.169.254 is a cloud metadata address",
    "169.254.1.1": "169.254.1.1 is a link-local address",
    "[fe80::1]": "fe80::1 is a link-local address",
    "[fd00:ec2::254]": "fd00:ec2::254 is a cloud metadata address",
    "metadata.google.internal": "metadata.google.internal is a loopback or cloud metadata name",
    "100.100.100.200": "100.100.100.200 is a cloud metadata address",
    "100.64.0.1": "100.64.0.1 is a shared (carrier-grade NAT) address",
    "100.127.255.254": "100.127.255.254 is a shared (carrier-grade NAT) address",
    "[::ffff:169.254.169.254]": "::ffff:169.254.169.254 is a cloud metadata address "
    "(169.254.169.254 inside IPv6)",
    "[::ffff:127.0.0.1]": "::ffff:127.0.0.1 is a loopback address (127.0.0.1 inside IPv6)",
    "[64:ff9b::a9fe:a9fe]": "64:ff9b::a9fe:a9fe is a cloud metadata address "
    "(169.254.169.254 inside IPv6)",
    "[2002:7f00:1::]": "2002:7f00:1:: is a loopback address (127.0.0.1 inside IPv6)",
    "2130706433": "2130706433 is 127.0.0.1, a loopback address",
    "0177.0.0.1": "0177.0.0.1 is 127.0.0.1, a loopback address",
    "0x7f000001": "0x7f000001 is 127.0.0.1, a loopback address",
    "127.1": "127.1 is 127.0.0.1, a loopback address",
    "0x0a.0.0.1": "0x0a.0.0.1 is 10.0.0.1, a private address",
    "224.0.0.1": "224.0.0.1 is a multicast address",
    "255.255.255.255": "255.255.255.255 is a private address",
}


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names the stub resolver knows (name -> addresses); any other name does not resolve."""
    known: dict[str, list[str]] = {}

    def getaddrinfo(host: Any, port: Any, *_: Any, **__: Any) -> list[Any]:
        if host not in known:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in known[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return known


@pytest.mark.parametrize("host", list(LITERAL_TARGETS))
def test_an_internal_address_or_name_is_blocked_saying_why(
    host: str, lookups: dict[str, list[str]]
) -> None:
    for url in (f"http://{host}/hook", f"https://{host}:8443/hook"):
        with pytest.raises(BlockedTarget) as blocked:
            resolve_target(url)
        assert blocked.value.reason == LITERAL_TARGETS[host]
        assert isinstance(blocked.value, InvalidInput)
        assert "C360_WEBHOOK_ALLOWED_HOSTS" in str(blocked.value)


def test_odd_ipv4_spellings_are_read_as_the_c_library_reads_them() -> None:
    loopback = ipaddress.IPv4Address("127.0.0.1")
    for spelling in ("2130706433", "0177.0.0.1", "0x7f000001", "127.1", "0x7f.0.0.1", "127.0.1"):
        assert literal_address(spelling) == loopback, spelling
    assert literal_address("::1") == ipaddress.IPv6Address("::1")
    assert literal_address("hooks.example.com") is None
    assert literal_address("1e100.net") is None


def test_a_name_is_blocked_when_any_of_its_addresses_is_internal(
    lookups: dict[str, list[str]],
) -> None:
    lookups["private.example"] = ["10.1.2.3"]
    lookups["mixed.example"] = [PUBLIC, "127.0.0.1"]
    lookups["mapped.example"] = ["::ffff:192.168.1.1"]
    expected = {
        "private.example": "private.example resolves to 10.1.2.3, a private address",
        "mixed.example": "mixed.example resolves to 127.0.0.1, a loopback address",
        "mapped.example": "mapped.example resolves to ::ffff:c0a8:101, a private address "
        "(192.168.1.1 inside IPv6)",
    }
    for name, reason in expected.items():
        with pytest.raises(BlockedTarget) as blocked:
            resolve_target(f"https://{name}/hook")
        assert blocked.value.reason == reason


def test_a_name_that_does_not_resolve_is_not_called_blocked(
    lookups: dict[str, list[str]],
) -> None:
    with pytest.raises(UnresolvableHost, match=r"host gone\.example does not resolve"):
        resolve_target("https://gone.example/hook")


def test_a_public_name_is_sent_to_its_checked_address_under_its_own_name(
    lookups: dict[str, list[str]],
) -> None:
    lookups["hooks.example.com"] = [PUBLIC, "2606:4700::1111"]

    target = resolve_target("https://Hooks.Example.com:8443/c360/hook?key=a%20b#part")

    assert target.addresses == (
        ipaddress.ip_address(PUBLIC),
        ipaddress.ip_address("2606:4700::1111"),
    )
    assert target.url_for(target.addresses[0]) == f"https://{PUBLIC}:8443/c360/hook?key=a%20b"
    assert (
        target.url_for(target.addresses[1]) == "https://[2606:4700::1111]:8443/c360/hook?key=a%20b"
    )
    assert target.host_header == "hooks.example.com:8443"
    assert target.sni_hostname == "hooks.example.com"
    assert not target.allowed


def test_a_public_address_is_sent_to_as_it_is() -> None:
    target = resolve_target("http://[2606:4700::1111]/hook")
    assert target.host_header == "[2606:4700::1111]"
    assert target.sni_hostname is None
    assert target.url_for(target.addresses[0]) == "http://[2606:4700::1111]:80/hook"
    assert address_problem(ipaddress.ip_address("::ffff:8.8.8.8")) is None
    assert address_problem(ipaddress.ip_address("8.8.8.8")) is None


def test_an_international_name_is_looked_up_and_sent_in_its_ascii_form(
    lookups: dict[str, list[str]],
) -> None:
    lookups["xn--72c1a1bt4awk9o.xn--o3cw4h"] = [PUBLIC]
    target = resolve_target("https://ตัวอย่าง.ไทย/hook")
    assert target.host_header == "xn--72c1a1bt4awk9o.xn--o3cw4h"
    assert target.sni_hostname == "xn--72c1a1bt4awk9o.xn--o3cw4h"


def test_only_the_listed_internal_hosts_are_allowed(lookups: dict[str, list[str]]) -> None:
    lookups["hooks.internal"] = ["10.0.0.7"]
    allowed = AllowedHosts.parse(" 127.0.0.1:8123, Hooks.Internal ,[::1]:9000,")

    assert resolve_target("http://127.0.0.1:8123/hook", allowed).allowed
    assert resolve_target("http://2130706433:8123/hook", allowed).allowed  # the same address
    assert resolve_target("http://[::1]:9000/hook", allowed).allowed
    named = resolve_target("https://hooks.internal:4443/hook", allowed)  # any port
    assert named.allowed and named.addresses == (ipaddress.ip_address("10.0.0.7"),)
    for url in (
        "http://127.0.0.1:8124/hook",
        "http://localhost:8123/hook",
        "http://[::1]:9001/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data",
    ):
        with pytest.raises(BlockedTarget):
            resolve_target(url, allowed)


@pytest.mark.parametrize(
    "entry", ["http://hooks.internal", "hooks.internal/path", "host:99999", "user@host", ":80"]
)
def test_an_allowed_host_entry_that_is_not_host_or_host_port_is_refused(entry: str) -> None:
    with pytest.raises(InvalidInput, match=f"C360_WEBHOOK_ALLOWED_HOSTS entry {entry!r}"):
        AllowedHosts.parse(f"127.0.0.1:8123,{entry}")


def test_a_url_c360_cannot_send_to_is_refused() -> None:
    for url in ("ftp://example.com/hook", "https:///hook", "http://example.com:99999/"):
        with pytest.raises(InvalidInput):
            resolve_target(url)
