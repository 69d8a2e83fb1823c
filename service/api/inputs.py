"""What every client-sent value must be before the service looks at it, on either database.

PostgreSQL cannot store or even compare a text holding a NUL character (SQLite can), and refuses a
string longer than its column; so such values are refused here, at the door, with the same 422 on
both databases, instead of a 500 from one of them. Path and query parameters are checked by
`deps.require`; JSON bodies by the `Input` base of every request model; what is left (values out
of files) by the flush guard in `service.db.guard`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, Field, field_validator

NUL_MESSAGE = "must not contain a NUL character or a lone surrogate (\\uD800-\\uDFFF)"
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
"""A policy id or version: the schema's pattern, where `$` (Rust regex) is the end of the text -
"v1\\n" is refused, not stored and then unusable in a Location header."""

MAX_ID = 2**31 - 1
"""The largest id the database holds: the id columns are `Integer`, a 4-byte int4 on PostgreSQL."""

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
"""Every id a client sends (path, query or JSON body): one outside 1..MAX_ID is a 422
`invalid-request` naming the field - never an overflow in the database driver (a 500)."""

PolicyName = Annotated[str, Path(pattern=NAME, max_length=200, description="letters, digits, '_', '-', '.'")]
VersionName = Annotated[str, Path(pattern=NAME, max_length=100, description="letters, digits, '_', '-', '.'")]


#: A NUL, or a lone surrogate (JSON's "\ud800" escape): neither can be encoded, stored or compared.
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def has_nul(value: Any) -> bool:
    """Whether any text in `value` holds a NUL or a lone surrogate (see `NUL_MESSAGE`)."""
    if isinstance(value, str):
        return _NOT_TEXT.search(value) is not None
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    return False


class Input(BaseModel):
    """The base of every JSON request body: no text in it may hold a NUL character."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError(NUL_MESSAGE)
        return value
