"""The configuration reference, generated from the settings classes themselves:

    python -m innopark_shared.configdoc > docs/configuration.md

One table per class (every service's shared settings, then each part's own): the
environment variable, its type, its default, and what it means — the field's
`description`, or else the comment just above it in the class. A test compares the file
with a fresh rendering, so the reference cannot drift from the code.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from typing import Any

from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .settings import ServiceSettings

PARTS = ["gateway", "registry", "orders", "accreditation", "events"]


def _comments_above(cls: type) -> dict[str, str]:
    """Field name → the comment block right above its definition in `cls`'s body."""
    lines = inspect.getsource(cls).splitlines()
    found: dict[str, str] = {}
    block: list[str] = []
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            block.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"\s{4}(\w+)\s*:", line)
        if match and not line.startswith(" " * 8):
            found[match.group(1)] = " ".join(block)
        if stripped or not block:
            block = []
    return found


def _type(info: FieldInfo) -> str:
    text = str(info.annotation) if info.annotation is not None else "any"
    text = re.sub(r"<class '([\w.]+)'>", r"\1", text)
    text = re.sub(r"\b(typing|pydantic\.types|pathlib|innopark_\w+(\.\w+)*)\.", "", text)
    text = re.sub(r"^Optional\[(.*)\]$", r"\1 | None", text)
    return text.replace("NoneType", "None")


def _default(info: FieldInfo) -> str:
    if info.default is PydanticUndefined and info.default_factory is None:
        return "**required**"
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
    else:
        value = info.default
    if value is None:
        return "—"
    if hasattr(value, "get_secret_value"):
        return "(secret)"
    return f"`{value}`" if str(value) != "" else '`""`'


def _names(name: str, info: FieldInfo) -> str:
    """The environment variable(s) a field is read from (its alias choices, if any)."""
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        choices = [str(c).upper() for c in alias.choices if isinstance(c, str)]
        return " or ".join(f"`{c}`" for c in choices)
    if isinstance(alias, str):
        return f"`{alias.upper()}`"
    return f"`{name.upper()}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(cls: type[ServiceSettings], *, own_only: bool) -> list[str]:
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if isinstance(klass, type) and issubclass(klass, ServiceSettings):
            comments.update(_comments_above(klass))
    names = list(cls.__annotations__) if own_only else list(cls.model_fields)
    rows = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    for name in names:
        info = cls.model_fields[name]
        meaning = info.description or comments.get(name, "")
        rows.append(
            f"| {_names(name, info)} | {_cell(_type(info))} | {_cell(_default(info))} | "
            f"{_cell(meaning)} |"
        )
    return rows


def settings_class(part: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"innopark_{part}.config")
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, ServiceSettings)
        and obj is not ServiceSettings
        and obj.__module__ == module.__name__
    ]
    assert len(found) == 1, f"innopark_{part}.config defines {found}"
    return found[0]


def render() -> str:
    out = [
        "# Configuration reference",
        "",
        "Generated from the settings classes by `python -m innopark_shared.configdoc > "
        "docs/configuration.md`; `tests/operators/test_operations_docs.py` fails when it "
        "is out of date. Every value comes from the environment (pydantic-settings, names "
        "case-insensitive); see [operations.md](operations.md) for how to use them.",
        "",
        "## Every service and the gateway (`innopark_shared.settings.ServiceSettings`)",
        "",
        *table(ServiceSettings, own_only=False),
    ]
    for part in PARTS:
        cls = settings_class(part)
        out += [
            "",
            f"## {part} (`innopark_{part}.config.{cls.__name__}`)",
            "",
            "Its own settings, and the shared ones it sets differently.",
            "",
            *table(cls, own_only=True),
        ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
