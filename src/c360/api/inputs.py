"""What every management request body shares."""

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


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
