"""E-mail addresses: one spelling per mailbox, so that the address can join profiles.

The value is the whole address lower-cased with its domain in ASCII (IDNA) form. Lower-casing
the local part is not what RFC 5321 promises, but no mailbox provider a customer uses treats
``John@`` and ``john@`` as different people, and sources disagree about case all the time.
Gmail ignores dots and ``+tags`` in the local part; the value keeps them (the customer typed
them and may filter on them), ``extra["match_key"]`` drops them for identity matching.

Common addresses are checked with one precompiled pattern (about 1 µs); anything the pattern
does not accept (non-ASCII, quoted local parts, odd lengths) goes to ``email-validator``, which
has the final word (about 35 µs).
"""

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

from c360.standardize.cells import cell_text
from c360.standardize.model import EMPTY, Standardized

_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN = re.compile(
    rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}}))"
)
# Domains email-validator refuses (RFC 6761 special use); they go the slow way to be refused.
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})
_WRAPPING = "<>\"'()[] ,;:"
_BRACKETED = re.compile(r"<([^<>]*@[^<>]*)>")
_SEPARATORS = re.compile(r"[;,\s]+")
_GMAIL = frozenset({"gmail.com", "googlemail.com"})


def email(raw: object) -> Standardized:
    """The normalised address; ``invalid_email`` when it is not one.

    ``mailto:``, angle brackets (``Somchai <somchai@example.com>``), wrapping quotes and a
    trailing full stop are removed; full-width characters typed on Asian keyboards
    (``＠``) are folded. A cell holding several addresses gives the first one, the others in
    ``extra["others"]``. ``extra["domain"]`` is the ASCII domain.
    """
    value = cell_text(raw)
    if value is None:
        return EMPTY
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value)
    bracketed = _BRACKETED.search(value)
    if bracketed is not None:
        value = bracketed[1]
    candidate = value.strip(_WRAPPING).rstrip(".")  # "write to an@example.com."
    if candidate[:7].lower() == "mailto:":
        candidate = candidate[7:].split("?", 1)[0].strip(_WRAPPING)
    if candidate.count("@") > 1 and _SEPARATORS.search(candidate):
        return _several(candidate)
    return _address(candidate)


def _several(cell: str) -> Standardized:
    found = [_address(part.strip(_WRAPPING)) for part in _SEPARATORS.split(cell) if "@" in part]
    valid = [result for result in found if result.ok]
    if not valid:
        return Standardized(None, flag="invalid_email")
    first = valid[0]
    others = [result.value for result in valid[1:] if result.value != first.value]
    return Standardized(
        first.value, extra={**first.extra, "others": others} if others else first.extra
    )


def _address(candidate: str) -> Standardized:
    lowered = candidate.lower()
    matched = _PLAIN.fullmatch(lowered) if len(lowered) <= 254 else None
    if (
        matched is not None
        and len(matched[1]) <= 64
        and "--" not in matched[2]
        and matched[2].rsplit(".", 1)[1] not in _SPECIAL_TLDS
    ):
        local, domain = matched[1], matched[2]
    else:
        try:
            checked = validate_email(candidate, check_deliverability=False)
        except EmailNotValidError:
            return Standardized(None, flag="invalid_email")
        local, domain = checked.local_part.lower(), checked.ascii_domain.lower()
    address = f"{local}@{domain}"
    extra: dict[str, str] = {"domain": domain}
    if domain in _GMAIL:
        extra["match_key"] = local.split("+", 1)[0].replace(".", "") + "@gmail.com"
    return Standardized(address, extra=extra)
