"""Where webhooks may go: public addresses only, unless an operator lists an internal receiver.

A subscription URL is someone's input that makes c360 send requests from inside its network,
so the host is checked when the subscription is saved and again before every request
(server-side request forgery). A host is refused when it is, or resolves to, a loopback,
private, link-local, shared (CGNAT, 100.64.0.0/10), multicast, reserved or unspecified
address, a cloud metadata address or name, or ``localhost``. IPv4 inside IPv6
(``::ffff:a.b.c.d``, NAT64, 6to4) is checked as the IPv4 address; the odd IPv4 spellings the
C library accepts (``2130706433``, ``0177.0.0.1``, ``0x7f000001``, ``127.1``) are read as it
reads them. A name is refused when any of its addresses is.

The request then goes to an address that was checked, never to the name: a second lookup
(DNS rebinding, a short TTL) cannot swap in an internal address. For ``http://`` the URL's host
becomes the address and the ``Host`` header keeps the name; for ``https://`` the TLS server
name (SNI) and the certificate check keep the name too (httpcore's ``sni_hostname``). Limits:
the lookup is the system resolver's (its own timeouts, no cache); only the first three
addresses are tried; a proxy set in the environment (``HTTPS_PROXY``) receives the checked
address, but where it goes from there is the proxy's business. Redirects are not followed.

``C360_WEBHOOK_ALLOWED_HOSTS`` (``host`` or ``host:port``, comma-separated) lets an operator
deliver to internal receivers: a listed host is not checked, every other one still is.
"""

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from c360.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_ADDRESSES_TRIED = 3

ALLOWED_HOSTS_SETTING = "C360_WEBHOOK_ALLOWED_HOSTS"

BLOCKED_NAMES = frozenset(
    {
        "localhost",
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
"""Names refused without a lookup: loopback and the cloud metadata services' names."""

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
"""Instance metadata (AWS, GCP, Azure, ECS tasks, Alibaba): credentials live there."""

_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BlockedTarget(InvalidInput):
    """The URL's host is internal (loopback, private, metadata, ...) and not allowed."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"subscription URL {url!r}: {reason}; webhooks go to public addresses only. To "
            f"deliver to an internal receiver, list it in {ALLOWED_HOSTS_SETTING} "
            "(host or host:port, comma-separated)"
        )
        self.reason = reason
        """What is internal about the host, without the URL (dead letters keep it)."""


class UnresolvableHost(InvalidInput):
    """The URL's host name has no address now (it may have one later)."""


@dataclass(frozen=True, slots=True)
class AllowedHosts:
    """Internal receivers an operator allows: (host, port) pairs, port None for any port."""

    entries: frozenset[tuple[str, int | None]] = frozenset()

    @classmethod
    def parse(cls, text: str | Iterable[str]) -> "AllowedHosts":
        """From ``"127.0.0.1:8123,hooks.internal"`` (or its items); InvalidInput naming an
        entry that is not ``host`` or ``host:port``."""
        items = text.split(",") if isinstance(text, str) else list(text)
        entries: set[tuple[str, int | None]] = set()
        for item in (i.strip() for i in items):
            if not item:
                continue
            parts = urlsplit(f"//{item}")
            try:
                port = parts.port
            except ValueError:
                port = -1
            if (
                not parts.hostname
                or port == -1
                or parts.path
                or parts.query
                or parts.fragment
                or parts.username is not None
                or "//" in item
            ):
                raise InvalidInput(
                    f"{ALLOWED_HOSTS_SETTING} entry {item!r}: give a host or host:port, "
                    "such as 127.0.0.1:8123 or hooks.internal"
                )
            entries.add((host_key(parts.hostname), port))
        return cls(frozenset(entries))

    def allows(self, host: str, port: int) -> bool:
        """Whether ``host`` (as ``host_key`` gives it) on ``port`` is listed."""
        return (host, port) in self.entries or (host, None) in self.entries


@dataclass(frozen=True, slots=True)
class Target:
    """A checked webhook URL and the addresses a request to it may connect to."""

    url: str
    scheme: str
    host: str
    """The host as the ``Host`` header and TLS carry it (IDNA-encoded, canonical for IPs)."""
    port: int
    addresses: tuple[IPAddress, ...]
    """Checked (or allowed), in the resolver's order."""
    is_name: bool
    allowed: bool
    """Listed in the allowed hosts, so not checked."""

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def sni_hostname(self) -> str | None:
        """The TLS server name to send and verify, when it is not the address itself."""
        return self.host if self.scheme == "https" and self.is_name else None

    def url_for(self, address: IPAddress) -> str:
        """The URL with ``address`` in place of the host: where the request connects."""
        text = str(address).replace("%", "%25")
        netloc = f"[{text}]" if address.version == 6 else text
        parts = urlsplit(self.url)
        return urlunsplit(
            (parts.scheme, f"{netloc}:{self.port}", parts.path or "/", parts.query, "")
        )


def host_key(hostname: str) -> str:
    """A host as compared with the allowed hosts: the canonical address for an IP (in any
    spelling), else the name in lower case without a trailing dot."""
    address = literal_address(hostname)
    return str(address) if address is not None else hostname.lower().rstrip(".")


def literal_address(hostname: str) -> IPAddress | None:
    """The address ``hostname`` spells, read as the C library reads it, or None for a name.

    ``inet_aton`` takes the forms ``getaddrinfo`` takes without asking DNS: decimal, octal
    and hex parts, and fewer than four of them (``2130706433``, ``0177.0.0.1``, ``127.1``).
    """
    try:
        return ipaddress.ip_address(hostname)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(hostname))
    except (OSError, ValueError):
        return None


def address_problem(address: IPAddress) -> str | None:
    """What kind of internal address ``address`` is (e.g. "a loopback address"), or None
    when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            problem = address_problem(embedded)
            return f"{problem} ({embedded} inside IPv6)" if problem else None
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    shared = isinstance(address, ipaddress.IPv4Address) and address in _SHARED
    checks = [
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (shared, "a shared (carrier-grade NAT) address"),
        (address.is_private, "a private address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    ]
    return next((problem for found, problem in checks if found), None)


def resolve_target(url: str, allowed: AllowedHosts | None = None) -> Target:
    """The URL's host, looked up now, with every address checked.

    Raises BlockedTarget for an internal host that is not allowed, UnresolvableHost when the
    name has no address, and InvalidInput when the URL cannot be sent to at all.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        explicit_port = parts.port
    except ValueError:
        raise InvalidInput(f"subscription URL {url!r} has an invalid port") from None
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise InvalidInput(f"subscription URL {url!r}: give an http:// or https:// URL")
    port = explicit_port if explicit_port is not None else DEFAULT_PORTS[scheme]
    hostname = parts.hostname
    literal = literal_address(hostname)
    key = host_key(hostname)
    is_allowed = allowed is not None and allowed.allows(key, port)
    if literal is not None:
        addresses: tuple[IPAddress, ...] = (literal,)
        host = str(literal)
    else:
        host = _ascii_host(url)
        if not is_allowed and (key in BLOCKED_NAMES or key.endswith(".localhost")):
            raise BlockedTarget(url, f"{hostname} is a loopback or cloud metadata name")
        addresses = _lookup(host, port)
    if not is_allowed:
        for address in addresses:
            problem = address_problem(address)
            if problem is None:
                continue
            if literal is None:
                reason = f"{hostname} resolves to {address}, {problem}"
            elif _is_plain_address(hostname):
                reason = f"{hostname} is {problem}"
            else:
                reason = f"{hostname} is {address}, {problem}"
            raise BlockedTarget(url, reason)
    return Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        addresses=addresses,
        is_name=literal is None,
        allowed=is_allowed,
    )


def _is_plain_address(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


def _ascii_host(url: str) -> str:
    """The host name as httpx sends it (IDNA-encoded)."""
    try:
        return httpx.URL(url).raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError):
        raise InvalidInput(f"subscription URL {url!r} does not have a valid host name") from None


def _lookup(name: str, port: int) -> tuple[IPAddress, ...]:
    try:
        found = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnresolvableHost(
            f"host {name} does not resolve ({exc}); check the name in the URL"
        ) from None
    addresses: dict[IPAddress, None] = {}
    for _family, _type, _proto, _canonname, sockaddr in found:
        try:
            addresses[ipaddress.ip_address(sockaddr[0])] = None
        except ValueError:
            continue
    if not addresses:
        raise UnresolvableHost(f"host {name} has no IP address; check the name in the URL")
    return tuple(addresses)
