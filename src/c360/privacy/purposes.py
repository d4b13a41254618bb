"""The consent purposes the business uses: the five defaults, or its own list
(``C360_CONSENT_PURPOSES``), each with a label per language where it wants one.

Two rules, one per direction (docs/consent.md#purposes):

- where a person or an operator *states* consent (``POST /api/consents``, ``c360 consent
  grant|withdraw``), and where a configuration *names* the consent it needs (a journey's send
  step or condition, an export, a sync destination, a change-feed subscription, a segment
  condition), the purpose must be configured: :func:`check_purpose` refuses any other,
  listing the configured ones;
- statements that *arrive* from outside (tracked preferences, the "Segment Consent
  Preference Updated" event, ``subscription`` records) are never refused or dropped: the
  ledger keeps them whatever they name, and :func:`is_configured` tells the others apart so
  they are shown and counted as not configured.

The list is read when a statement is shown or checked, never stored with it: adding a
purpose makes the statements already kept for it count at once, without replaying anything,
and ``c360 rebuild`` gives the same ledger whatever the list says.

Entry points call :func:`configure_purposes` once with the setting (``None``: the defaults).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from c360.errors import InvalidInput

DEFAULT_PURPOSES = ("marketing", "analytics", "personalisation", "profiling", "third_party_sharing")
"""The purposes when none are configured."""
REQUIRED_PURPOSE = "marketing"
"""The purpose channel subscriptions and unsubscribe links are about: always configured."""
LANGUAGES = ("en", "th", "vi")
"""The web app's languages, the ones a purpose may carry a label in."""
SETTING = "C360_CONSENT_PURPOSES"
MAX_PURPOSES = 100
MAX_LABEL_CHARS = 100
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


@dataclass(frozen=True, slots=True)
class Purpose:
    """A configured purpose: its name (as statements carry it) and its labels by language
    (none: the web app's own translation, else the name)."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "labels": dict(self.labels)}


DEFAULTS = tuple(Purpose(name) for name in DEFAULT_PURPOSES)


def parse_purposes(raw: Any) -> tuple[Purpose, ...]:
    """The purposes a setting lists, checked; ``None`` gives the defaults.

    ``raw`` is names, comma-separated (``"marketing,analytics,research"``), or a list whose
    items are a name (``"research"``) or an object with a name and labels (``{"name":
    "loyalty_programme", "labels": {"en": "...", "th": "...", "vi": "..."}}``). Raises
    InvalidInput naming every item at fault."""
    if raw is None:
        return DEFAULTS
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",")] if raw.strip() else []
    if not isinstance(raw, list | tuple):
        raise InvalidInput(
            f'{SETTING}: a JSON list of purposes, e.g. ["marketing", "analytics", '
            '{"name": "research", "labels": {"th": "การวิจัย"}}]'
        )
    if not raw:
        raise InvalidInput(
            f"{SETTING}: the list is empty; name at least {REQUIRED_PURPOSE!r} (unset it for "
            f"the defaults: {', '.join(DEFAULT_PURPOSES)})"
        )
    if len(raw) > MAX_PURPOSES:
        raise InvalidInput(f"{SETTING}: at most {MAX_PURPOSES} purposes")
    problems: list[str] = []
    found: list[Purpose] = []
    seen: set[str] = set()
    for n, item in enumerate(raw, start=1):
        where = f"{SETTING} item {n}"
        try:
            purpose = _purpose(item, where)
        except InvalidInput as exc:
            problems.append(str(exc))
            continue
        if purpose.name in seen:
            problems.append(f"{where}: {purpose.name!r} is listed twice")
            continue
        seen.add(purpose.name)
        found.append(purpose)
    if not problems and REQUIRED_PURPOSE not in seen:
        problems.append(
            f"{SETTING}: {REQUIRED_PURPOSE!r} cannot be left out: channel subscriptions and "
            "unsubscribe links are about it"
        )
    if problems:
        raise InvalidInput("; ".join(problems))
    return tuple(found)


def _purpose(item: Any, where: str) -> Purpose:
    if isinstance(item, str):
        return Purpose(_name(item, where))
    if not isinstance(item, Mapping):
        raise InvalidInput(f"{where}: a name, or an object with 'name' and 'labels'")
    unknown = sorted(str(k) for k in item if k not in ("name", "labels"))
    if unknown:
        raise InvalidInput(f"{where}: unknown key {unknown[0]!r}; use 'name' and 'labels'")
    name = _name(item.get("name"), where)
    labels = item.get("labels") or {}
    if not isinstance(labels, Mapping):
        raise InvalidInput(f'{where} ({name}): \'labels\' is an object such as {{"th": "..."}}')
    checked: dict[str, str] = {}
    for language, label in labels.items():
        if language not in LANGUAGES:
            raise InvalidInput(
                f"{where} ({name}): label language {language!r}; use {', '.join(LANGUAGES)}"
            )
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL_CHARS:
            raise InvalidInput(
                f"{where} ({name}): the {language} label is text of 1 to {MAX_LABEL_CHARS} "
                "characters"
            )
        checked[language] = label.strip()
    return Purpose(name, checked)


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidInput(
            f"{where}: {value!r} is not a purpose name: a lowercase letter, then up to 49 "
            "lowercase letters, digits or _ (e.g. loyalty_programme)"
        )
    return value


_configured: tuple[Purpose, ...] = DEFAULTS


def configure_purposes(raw: Any) -> None:
    """Use ``C360_CONSENT_PURPOSES`` (``None``: the defaults); entry points call this once,
    and it raises InvalidInput before anything is served when the list is wrong."""
    global _configured
    _configured = parse_purposes(raw)


def configured_purposes() -> tuple[Purpose, ...]:
    """The configured purposes, in the configuration's order."""
    return _configured


def purpose_names() -> tuple[str, ...]:
    return tuple(p.name for p in _configured)


def is_configured(name: str) -> bool:
    return any(p.name == name for p in _configured)


def check_purpose(name: Any, what: str = "purpose") -> str:
    """``name`` if it is a configured purpose, else InvalidInput saying which are."""
    if isinstance(name, str) and is_configured(name):
        return name
    raise InvalidInput(
        f"{what} {name!r} is not a configured consent purpose: use one of "
        f"{', '.join(purpose_names())} (or add it to {SETTING})"
    )
