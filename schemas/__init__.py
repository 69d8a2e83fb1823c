"""The published JSON Schemas: the policy format and the results contract, shipped as package data.

They are the one written description of each format (editors, API clients and the loader all use
the same file), so they stay in this top-level folder as plain `.json` files and are read through
`importlib.resources`: the same call finds them in a checkout and in an installed wheel, where no
source tree is around.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

POLICY = "policy.schema.json"
RESULTS = "results.schema.json"


def load_schema(name: str) -> dict[str, Any]:
    """The schema `name` (e.g. `POLICY`) as parsed JSON."""
    schema: dict[str, Any] = json.loads(files(__name__).joinpath(name).read_text(encoding="utf-8"))
    return schema
