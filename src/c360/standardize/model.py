"""What a standardizer returns: the canonical value, or a flag saying why there is none."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Standardized:
    """The outcome of standardizing one raw value.

    ``value`` is the canonical, JSON-ready value (``None`` when the raw value was empty or could
    not be standardized). ``flag`` is a reason code (``invalid_phone``, ``invalid_date``...) when
    a non-empty raw value could not be standardized: the caller keeps the raw value and the flag
    on the record, and does not use the value for matching. ``extra`` holds derived values the
    standardizer worked out on the way (a name's match key, a phone's region, an address's
    parts).
    """

    value: Any
    flag: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.flag is None


EMPTY = Standardized(None)
