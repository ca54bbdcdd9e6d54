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

import re
import types
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
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


_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def rfc3339_only(value: Any) -> Any:
    """Dates and timestamps are RFC 3339 strings, as the contract says: pydantic would
    otherwise read a number (or a numeric string) as Unix time."""
    if isinstance(value, bool | int | float | Decimal) or (
        isinstance(value, str) and _NUMBER.match(value)
    ):
        raise ValueError("must be an RFC 3339 date or date-time string, not a number")
    return value


# For query parameters: `starts_after: Annotated[AwareDatetime | None, Rfc3339] = None`.
Rfc3339 = BeforeValidator(rfc3339_only)


def _is_kind(annotation: Any, kinds: tuple[type, ...]) -> bool:
    """Whether the annotation is (or unions/annotates) one of `kinds`."""
    if isinstance(annotation, type) and issubclass(annotation, kinds):
        return not (issubclass(annotation, bool) and bool not in kinds)
    if get_origin(annotation) in (Union, types.UnionType, Annotated):
        return any(_is_kind(arg, kinds) for arg in get_args(annotation))
    return False


def _plain_numbers(value: Any) -> Any:
    """JSON numbers for numeric fields, as the schema says: pydantic would otherwise take
    `true` as 1 and `"5"` as 5."""
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number")
    return value


class Input(BaseModel):
    """The base of every request body."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _types_as_documented(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is None or value is None:
            return value
        if _is_kind(field.annotation, (date,)):  # datetime is a date
            return rfc3339_only(value)
        if _is_kind(field.annotation, (int, float)) and not _is_kind(field.annotation, (str,)):
            return _plain_numbers(value)
        return value

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
