"""Sync targets: the business apps two-way sync writes golden values to
(``c360.activation.sync.SyncTarget``): a database table or a REST API."""

from collections.abc import Mapping

from sqlalchemy.engine import make_url

from c360.activation.sync.model import Destination, SyncTarget
from c360.connectors.destinations.rest import RestTarget
from c360.connectors.destinations.table import TableTarget
from c360.errors import InvalidInput

__all__ = ["RestTarget", "TableTarget", "database_url", "target_for"]


def target_for(
    destination: Destination, *, secrets: Mapping[str, str], allowed_hosts: str = ""
) -> SyncTarget:
    """The target a destination writes to, with its secret (a password, a token) filled in
    from ``secrets`` (by upper-case name: entry points read ``C360_SYNC_SECRET_<NAME>``)."""
    if destination.table is not None:
        name = destination.table.password_secret
        return TableTarget(destination.table, password=_secret(destination, name, secrets))
    assert destination.rest is not None
    token = _secret(destination, destination.rest.auth_secret, secrets)
    return RestTarget(
        destination.rest, token=token, allowed_hosts=allowed_hosts, name=destination.name
    )


def _secret(destination: Destination, name: str | None, secrets: Mapping[str, str]) -> str | None:
    if name is None:
        return None
    value = secrets.get(name.upper())
    if value is None:
        raise InvalidInput(
            f"sync destination {destination.name!r} needs the secret {name!r}: set "
            f"C360_SYNC_SECRET_{name.upper()}"
        )
    return value


def database_url(destination: Destination, secrets: Mapping[str, str]) -> str:
    """A table destination's database URL with its password filled in (to read it back)."""
    assert destination.table is not None
    url = make_url(destination.table.url)
    password = _secret(destination, destination.table.password_secret, secrets)
    if password is not None:
        url = url.set(password=password)
    return url.render_as_string(hide_password=False)
