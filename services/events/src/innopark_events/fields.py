"""Field types this service adds to the shared ones (`innopark_shared.schemas`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

# A required name or title: non-empty, at most 300 characters (the columns' width).
# Not the shared `Tag` (100 characters, a label in a list): this is a line of prose.
Text300 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
