"""What the policy calls its decisions, for what people read (the terminal table, workbooks).

The engine's results carry ids (`green`, `advanced`) because machines compare them; a handbook
names them (绿灯, 进阶激励奖), and people should read the handbook's words. Only labels the policy
itself gives are used: an id without one is shown as the id.
"""

from __future__ import annotations

from engine.policy import Policy, RankAward


def light_labels(policy: Policy) -> dict[str, str]:
    """light id -> the policy's label for it (红灯 / 黄灯 / 绿灯); empty without a warning scale."""
    return {} if policy.warning is None else {b.light: b.label or b.light for b in policy.warning.bands}


def tier_labels(policy: Policy) -> dict[str, str]:
    """tier id -> the policy's label for it (基础达标奖 ...); empty without commission tiers."""
    return {} if policy.commission is None else {t.id: t.label or t.id for t in policy.commission.tiers}


def honour_labels(policy: Policy) -> list[str]:
    """The labels of the policy's honours (awards that pay nothing, such as 月度销售之星)."""
    return [a.label or a.id for a in policy.awards if isinstance(a, RankAward) and a.is_honour]
