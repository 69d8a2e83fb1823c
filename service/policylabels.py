"""What the policy calls its decisions, for what people read (the terminal table, workbooks).

The engine's results carry ids (`green`, `advanced`) because machines compare them; a handbook
names them (绿灯, 进阶激励奖), and people should read the handbook's words. Only labels the policy
itself gives are used: an id without one is shown as the id. A swept parameter is named the same
way (`commission.tiers[advanced].rate` is "进阶激励奖 rate 提成比例") and said to be a rate when it is
one, so a chart can show 1.6% rather than 0.016.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.edits import resolve
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


#: Field names as a chart axis says them; fields not listed are shown as they are named.
FIELD_WORDS = {
    "rate": "rate 提成比例",
    "bonus": "bonus 奖金",
    "from": "threshold 起点",
    "to": "upper bound 上限",
    "below": "threshold 低于",
    "above": "threshold 高于",
    "amount": "amount 金额",
    "prizes": "prize 奖金",
    "cap": "cap 上限",
    "weight": "weight 权重",
    "target": "target 目标值",
    "objection_days": "objection days 异议期天数",
}
_ALWAYS_RATIOS = {"rate", "weight"}  # a share of something, whatever the policy measures
_BOUNDS = {"from", "to", "below", "above", "target"}  # a ratio when their metric is one


@dataclass(frozen=True)
class Parameter:
    """A swept policy parameter as people read it: what it is, whether it is a rate, its value now."""

    path: str
    label: str
    is_rate: bool
    current: Decimal | None


def parameter(policy: Policy | None, path: str) -> Parameter:
    """`commission.tiers[advanced].rate` -> "进阶激励奖 rate 提成比例", a rate, 0.02 in `policy`.

    The label is the nearest labelled item on the path (a tier, an award, a KPI) and the field's
    words; a bound is a rate when the metric it compares is a ratio (achievement, not a count).
    Without a policy (or a path it does not hold) the path's own names are used.
    """
    field = path.rsplit(".", 1)[-1].split("[", 1)[0]
    words = FIELD_WORDS.get(field, field)
    if policy is None:
        return Parameter(path, f"{path}", field in _ALWAYS_RATIOS, None)
    try:
        steps, parent, last = resolve(policy.data, path)
    except ValueError:
        return Parameter(path, path, field in _ALWAYS_RATIOS, None)
    node: Any = policy.data
    label, metric = None, None
    for step in steps[:-1]:
        node = node[step]
        if isinstance(node, Mapping):
            label = node.get("label", f"rating {node['rating']}" if "rating" in node else label)
            metric = node.get("metric", node.get("basis", metric))
    container: Any = parent
    key: Any = last
    raw = container[key] if isinstance(container, list) or key in container else None
    current = None if raw is None or isinstance(raw, bool) else _decimal(str(raw))
    found = policy.metrics.get(metric) if isinstance(metric, str) else None
    is_ratio_metric = found is not None and found.is_ratio
    kpi_cap = field == "cap" and ".kpis" in path  # a KPI's cap is a share of its target; commission's is money
    is_rate = field in _ALWAYS_RATIOS or kpi_cap or (field in _BOUNDS and is_ratio_metric)
    return Parameter(path, f"{label} {words}" if label else words, is_rate, current)


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except ArithmeticError:
        return None
