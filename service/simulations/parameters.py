"""The numbers of a policy a scenario can edit, as `engine.edits` paths (the UI's form).

Tier rates and thresholds, bonuses, award amounts, warning bands: every number the policy keeps
as text, with the path `PATH=VALUE` edits use and a label HR reads.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def editable_parameters(data: Any) -> list[dict[str, str]]:
    """The numbers a scenario can edit, as `engine.edits` paths (for the UI's form)."""
    out: list[dict[str, str]] = []

    def number(value: Any) -> str | None:
        """The value's exact text when it is a number (policies keep numbers as text), else None."""
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            return None
        try:
            exact = Decimal(str(value))
        except ArithmeticError:
            return None
        return value if isinstance(value, str) else format(exact, "f")

    def add(group: str, item: dict[str, Any], path: str, name: str) -> None:
        for key, value in item.items():
            if key in ("id", "light", "label", "metric", "period", "kind", "group_by", "rank_by", "ties", "order"):
                continue
            if isinstance(value, list):
                for i, v in enumerate(value):
                    if (text := number(v)) is not None:
                        out.append(
                            {
                                "group": group,
                                "path": f"{path}.{key}[{i}]",
                                "label": f"{name}: {key} #{i + 1}",
                                "value": text,
                            }
                        )
            elif (text := number(value)) is not None:
                out.append({"group": group, "path": f"{path}.{key}", "label": f"{name}: {key}", "value": text})

    warning = data.get("warning") or {}
    for band in warning.get("bands") or []:
        add("lights", band, f"warning.bands[{band['light']}]", f"{band['light']} {band.get('label', '')}".strip())
    commission = data.get("commission") or {}
    if (cap := number(commission.get("cap"))) is not None:
        out.append({"group": "commission", "path": "commission.cap", "label": "commission cap", "value": cap})
    for tier in commission.get("tiers") or []:
        add("commission", tier, f"commission.tiers[{tier['id']}]", f"{tier.get('label', '')} ({tier['id']})")
    for award in data.get("awards") or []:
        add("awards", award, f"awards[{award['id']}]", f"{award.get('label', '')} ({award['id']})")
    return out
