"""What every management request body and query shares."""

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _iso_only(value: Any) -> Any:
    """Refuse a bare number where a time is asked: pydantic would read ``49.0`` as seconds
    after 1970, which is never what a caller writing a time meant."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("give the time in ISO 8601, e.g. 2026-12-07 or 2026-12-07T09:00:00+07:00")
    return value


IsoTime = Annotated[datetime, BeforeValidator(_iso_only)]
"""A time given in ISO 8601 (a date, or a date and time with or without an offset)."""


def _no_nul(value: Any) -> Any:
    """Refuse NUL characters anywhere (the store cannot hold them in text)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("text may not contain NUL (\\u0000) characters")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


class NoNulInput(BaseModel):
    """A request body: no unknown fields, no NUL in any text (the store cannot hold one)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _text_only(cls, value: Any) -> Any:
        return _no_nul(value)
