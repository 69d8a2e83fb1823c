"""What the policy calls its decisions: 绿灯 for the light `green`, 进阶激励奖 for the tier `advanced`.

People read labels (the table, the payroll feed, statements, the notice); ids stay in the
machine-readable contract (JSON and CSV results). A decision the policy gives no label keeps its id.
"""

from __future__ import annotations

from engine.policy import Policy


class Labels:
    """The labels of one policy's lights and tiers, looked up by id."""

    def __init__(self, policy: Policy) -> None:
        self.lights = {b.light: b.label for b in policy.warning.bands} if policy.warning is not None else {}
        self.tiers = {t.id: t.label for t in policy.commission.tiers} if policy.commission is not None else {}

    def light(self, light_id: str | None) -> str | None:
        """The light's label (None: no light)."""
        return None if light_id is None else self.lights.get(light_id) or light_id

    def tier(self, tier_id: str | None) -> str | None:
        """The tier's label (None: no tier)."""
        return None if tier_id is None else self.tiers.get(tier_id) or tier_id
