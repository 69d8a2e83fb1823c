"""The last stage of the compiler front end: a checked policy document -> the typed `Policy`.

Runs only on documents the schema and the linter accepted (`engine.frontend` runs the stages in
order), so it trusts every field. Each threshold, rate and amount becomes a `Decimal` built from
the text (never from a float), and the content hash is taken over a canonical form so that
reformatting a file does not change its identity.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from engine.periods import parse_month
from engine.policy import (
    Award,
    Band,
    Bound,
    Clawback,
    Commission,
    Condition,
    Crediting,
    EligibilityRule,
    GroupAward,
    Kpi,
    Metric,
    Policy,
    RankAward,
    RatingBand,
    Rounding,
    Scorecard,
    Tier,
    Warning_,
)


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def canonical_sha256(data: Mapping[str, Any]) -> str:
    """Hash of the document's meaning: key order, comments and YAML layout do not count."""
    canonical = json.dumps(_scalars_as_text(data), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _scalars_as_text(value: Any) -> Any:
    """`bonus: 1000` and `bonus: "1000"` mean the same, so they hash the same."""
    if isinstance(value, Mapping):
        return {str(k): _scalars_as_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scalars_as_text(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    return str(value)


def bounds_of(item: Mapping[str, Any]) -> tuple[Bound | None, Bound | None]:
    """The lower and upper ends a band or award writes as from/above and to/below (None: open)."""
    lower = upper = None
    if "from" in item:
        lower = Bound(_dec(item["from"]), True)
    elif "above" in item:
        lower = Bound(_dec(item["above"]), False)
    if "to" in item:
        upper = Bound(_dec(item["to"]), True)
    elif "below" in item:
        upper = Bound(_dec(item["below"]), False)
    return lower, upper


def build_policy(data: Mapping[str, Any], source: str, text: str) -> Policy:
    """Build the model from a schema- and lint-valid document (`engine.frontend.parse_policy` checks)."""
    metrics = {
        name: Metric(
            name=name,
            label=str(m.get("label", name)),
            column=m.get("column"),
            numerator=m.get("numerator"),
            denominator=None if m.get("denominator") is None else str(m["denominator"]),
            on_zero=None if m.get("on_zero") is None else _dec(m["on_zero"]),
        )
        for name, m in (data.get("metrics") or {}).items()
    }
    warning = None
    if data.get("warning"):
        w = data["warning"]
        bands = []
        for b in w["bands"]:
            lower, upper = bounds_of(b)
            bands.append(Band(str(b["light"]), str(b.get("label", b["light"])), lower, upper))
        warning = Warning_(str(w["metric"]), tuple(bands))
    commission = None
    if data.get("commission"):
        c = data["commission"]
        tiers = tuple(
            Tier(
                id=str(t["id"]),
                label=str(t.get("label", t["id"])),
                lower=_dec(t["from"]),
                upper=None if t.get("to") is None else _dec(t["to"]),
                rate=_dec(t["rate"]),
                bonus=_dec(t.get("bonus", "0")),
            )
            for t in c["tiers"]
        )
        commission = Commission(
            basis=str(c["basis"]),
            base=str(c.get("base", "actual")),
            mode=str(c.get("mode", "flat")),
            tiers=tiers,
            cap=None if c.get("cap") is None else _dec(c["cap"]),
        )
    awards: list[Award] = []
    for a in data.get("awards") or []:
        if a["kind"] == "group":
            lower, _ = bounds_of(a)
            assert lower is not None  # the schema requires from/above
            awards.append(
                GroupAward(
                    id=str(a["id"]),
                    label=str(a.get("label", a["id"])),
                    period=str(a.get("period", "month")),
                    group_by=str(a.get("group_by", "region")),
                    metric=str(a["metric"]),
                    threshold=lower,
                    amount=_dec(a["amount"]),
                )
            )
        else:
            prizes = tuple(_dec(p) for p in a.get("prizes") or ())
            awards.append(
                RankAward(
                    id=str(a["id"]),
                    label=str(a.get("label", a["id"])),
                    period=str(a.get("period", "month")),
                    rank_by=str(a["rank_by"]),
                    order=str(a.get("order", "desc")),
                    prizes=prizes if a["kind"] == "rank" else (),
                    top=int(a.get("top", len(prizes))),
                    ties=str(a.get("ties", "same_rank")),
                )
            )
    scorecard = None
    if data.get("scorecard"):
        s = data["scorecard"]
        scorecard = Scorecard(
            period=str(s.get("period", "month")),
            kpis=tuple(
                Kpi(
                    metric=str(k["metric"]),
                    label=str(k.get("label", k["metric"])),
                    target=_dec(k["target"]),
                    weight=_dec(k["weight"]),
                    cap=None if k.get("cap") is None else _dec(k["cap"]),
                )
                for k in s["kpis"]
            ),
            ratings=tuple(
                sorted(
                    (RatingBand(str(r["rating"]), _dec(r["from"])) for r in s["ratings"]),
                    key=lambda r: r.lower,
                    reverse=True,
                )
            ),
        )
    eligibility = tuple(
        EligibilityRule(
            id=str(e["id"]),
            label=str(e.get("label", e["id"])),
            period=str(e.get("period", "quarter")),
            rank_by=None if e.get("rank_by") is None else str(e["rank_by"]),
            order=str(e.get("order", "desc")),
            conditions=tuple(Condition(str(c["value"]), str(c["op"]), _dec(c["than"])) for c in e["all"]),
        )
        for e in data.get("eligibility") or []
    )
    rounding = data.get("rounding") or {}
    return Policy(
        id=str(data["id"]),
        version=str(data["version"]),
        title=str(data.get("title", data["id"])),
        effective_from=parse_month(str(data["effective_from"])),
        effective_to=None if data.get("effective_to") is None else parse_month(str(data["effective_to"])),
        currency=str(data.get("currency", "CNY")),
        rounding=Rounding(_dec(rounding.get("quantum", "0.01")), str(rounding.get("mode", "half-up"))),
        metrics=metrics,
        warning=warning,
        commission=commission,
        awards=tuple(awards),
        scorecard=scorecard,
        eligibility=eligibility,
        objection_days=int((data.get("publication") or {}).get("objection_days", 3)),
        clawback=Clawback(_dec((data.get("clawback") or {}).get("max_share_of_payout", "1"))),
        sha256=canonical_sha256(data),
        source=source,
        text=text,
        data=data,
        crediting=_crediting(data.get("crediting")),
    )


def _crediting(block: Mapping[str, Any] | None) -> Crediting | None:
    """The `crediting:` block; the schema admits only 0%-100% ("30%" or "0.30")."""
    if not block:
        return None
    shown = str(block["when"]["collected_at_least"])
    share = Decimal(shown[:-1]) / 100 if shown.endswith("%") else Decimal(shown)
    return Crediting(collected_at_least=share, shown=shown)
