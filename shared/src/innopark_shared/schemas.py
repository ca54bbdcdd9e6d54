"""What every request body is built from: one `Input` base, one PATCH rule, shared fields.

- `Input`: unknown fields are refused (a typo is a 422, not silently ignored); leading
  and trailing whitespace is stripped from every string; NUL characters are refused
  naming the field (PostgreSQL text cannot hold them).
- `Patch`: an update body. Only the fields sent change; `null` clears an optional field,
  and `null` for a field listed in `not_null` (the ones a resource cannot be without) is
  a 422 naming it.
- Field types: `Country`, `Currency`, `Language`, `Email`, `Tag`/`Tags`, `Money`, and
  `Verbatim` for text that must not be stripped (passwords).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_nul(v) for v in value)
    return False  # nested models check their own fields


class Input(BaseModel):
    """The base of every request body."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value


class Patch(Input):
    """The base of every PATCH body; list the fields that may not become null."""

    not_null: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _required_stay_set(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.not_null:
            raise ValueError("cannot be null; leave the field out to keep its value")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, as Python values."""
        return self.model_dump(mode="python", exclude_unset=True)


Country = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{2}$"), Field(description="ISO 3166-1 alpha-2 code")
]
Currency = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(description="ISO 4217 code")
]
Language = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$"),
    Field(description="BCP 47 language tag, e.g. `ru`, `en-GB`"),
]
# Deliberately simple: an address is confirmed by the person who receives mail at it.
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
]
# Passwords and secrets are taken exactly as typed: whitespace is part of them.
Verbatim = Annotated[str, StringConstraints(strip_whitespace=False)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Tags = Annotated[list[Tag], Field(max_length=50)]
# Exact amounts (never floats), up to a thousand trillion with two decimals.
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1e15"), max_digits=17, decimal_places=2)]
