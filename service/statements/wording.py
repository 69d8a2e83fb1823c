"""A rep's statement (提成确认单) in sentences: `engine.statement.Statement` -> `Document`.

The numbers and decisions are the statement's (the engine's); this module only words them, in
the language asked for, through the message catalogues of `service.statements.i18n`. Labels the
policy names (绿灯, 进阶激励奖, 月度销售之星) are the policy's in every language.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.statement import CommissionPart, NextStep, Statement
from service.statements.document import Document, Section, Table
from service.statements.i18n import Formats, translations

Gettext = Callable[[str], str]


class Wording:
    """The sentences of one statement in one language."""

    def __init__(self, lang: str, currency: str) -> None:
        self.lang = lang
        self._ = translations(lang).gettext
        self.f = Formats(lang, currency)

    @property
    def separator(self) -> str:
        """Between the items of a list in a sentence: 、 in Chinese, a comma in English."""
        return "、" if self.lang == "zh-CN" else ", "

    def say(self, message: str, **values: object) -> str:
        """The translated message with its %(name)s placeholders filled."""
        text = self._(message)
        return text % values if values else text

    # ------------------------------------------------------------ the statement
    def document(self, s: Statement) -> Document:
        _ = self.say
        fields = (
            (_("Name"), s.name or "-"),
            (_("Rep ID"), s.rep_id),
            (_("Region"), s.region or "-"),
            (_("Product line"), s.product_line or "-"),
            (_("Period"), s.period),
            (_("Policy"), f"{s.policy_title} ({s.policy_id} {s.policy_version})"),
        )
        sections: list[Section] = []
        if s.months:
            sections += self.body(s, _("Quarter summary"), quarter=True)
            for m in s.months:
                sections += self.body(m, _("Month %(period)s", period=m.period), in_quarter=True)
        else:
            sections += self.body(s, None)
        sections.append(Section(_("Total"), (self.total(s),)))
        if s.rules:
            rules = [r for m in s.months for r in m.rules] + list(s.rules) if s.months else list(s.rules)
            note = _("The engine's own record of every rule that decided, for checking (in the policy's terms).")
            sections.append(Section(_("Rule record"), (note, *rules), small=True))
        warnings = [w for m in s.months for w in m.warnings] + list(s.warnings)
        if warnings:
            sections.append(Section(_("Warnings"), tuple(warnings)))
        footer = (
            _(
                "Policy %(id)s %(version)s, sha256 %(sha)s.",
                id=s.policy_id,
                version=s.policy_version,
                sha=s.policy_sha256,
            ),
            _("Figures are the evaluation's own; if anything here is wrong, object within the objection period."),
        )
        return Document(self.lang, _("Commission statement"), fields, tuple(sections), footer)

    def body(
        self, s: Statement, heading: str | None, *, quarter: bool = False, in_quarter: bool = False
    ) -> list[Section]:
        """The sections of one period: a month's in full, a quarter's summary (a quarter's month:
        no quarterly eligibility, which the summary states)."""
        level = 2
        _ = self.say
        out: list[Section] = []
        if heading is not None:
            out.append(Section(heading, (), level=level))
            level = 3
        out.append(Section(_("Performance"), self.performance(s), level=level))
        if s.commission is not None:
            out.append(Section(_("Commission and bonus"), self.commission(s.commission), level=level))
        if s.awards or not quarter:
            out.append(Section(_("Awards and honours"), self.awards(s), level=level))
        if s.score is not None:
            out.append(self.scorecard(s, level))
        if s.eligibility and not in_quarter:
            out.append(Section(_("Promotion review"), self.eligibility(s), level=level))
        out.append(Section(_("Next step"), self.next_steps(s), level=level))
        return out

    def performance(self, s: Statement) -> tuple[str, ...]:
        _, f = self.say, self.f
        lines = [_("Target %(target)s, actual %(actual)s.", target=f.money(s.target), actual=f.money(s.actual))]
        if s.over_target is not None and s.over_target > 0:
            lines.append(_("Above target by %(amount)s.", amount=f.money(s.over_target)))
        elif s.over_target is not None and s.over_target < 0:
            lines.append(_("Short of target by %(amount)s.", amount=f.money(-s.over_target)))
        if s.light is not None:
            lines.append(
                _(
                    "%(metric)s %(value)s: %(light)s.",
                    metric=s.light.metric_label,
                    value=f.ratio(s.light.value),
                    light=s.light.label,
                )
            )
        return tuple(lines)

    def commission(self, c: CommissionPart) -> tuple[str, ...]:
        _, f = self.say, self.f
        value = f.ratio(c.basis_value)
        if c.tier_id is None:
            return (
                _("%(metric)s %(value)s reaches no tier: no commission, no bonus.", metric=c.basis_label, value=value),
            )
        bounds = f"≥ {f.rate(c.lower)}" + (f", < {f.rate(c.upper)}" if c.upper is not None else "")
        lines = [
            _(
                "%(metric)s %(value)s is in %(tier)s (%(bounds)s).",
                metric=c.basis_label,
                value=value,
                tier=c.tier_label,
                bounds=bounds,
            )
        ]
        if c.mode == "flat":
            lines.append(
                _(
                    "Commission: %(base)s × %(rate)s = %(amount)s.",
                    base=f.money(c.base),
                    rate=f.rate(c.rate),
                    amount=f.money(c.uncapped),
                )
            )
        else:
            parts = " + ".join(f"{f.money(x.amount)} × {f.rate(x.rate)}" for x in c.slices)
            lines.append(
                _(
                    "Commission, each slice of the base at its own tier's rate: %(slices)s = %(amount)s.",
                    slices=parts,
                    amount=f.money(c.uncapped),
                )
            )
        if c.commission != c.uncapped:
            lines.append(_("Capped at %(amount)s.", amount=f.money(c.commission)))
        lines.append(_("Bonus: %(amount)s.", amount=f.money(c.bonus)))
        return tuple(lines)

    def awards(self, s: Statement) -> tuple[str, ...]:
        _, f = self.say, self.f
        if not s.awards:
            return (_("No award or honour this period."),)
        out = []
        for a in s.awards:
            if a.honour:
                out.append(_("%(award)s (%(period)s): honour, no money.", award=a.label, period=a.period))
            elif a.position is not None:
                out.append(
                    _("%(award)s (%(period)s), position %(position)s: %(amount)s.",
                      award=a.label, period=a.period, position=a.position, amount=f.money(a.amount))
                )  # fmt: skip
            else:
                out.append(
                    _("%(award)s (%(period)s): %(amount)s.", award=a.label, period=a.period, amount=f.money(a.amount))
                )
        return tuple(out)

    def scorecard(self, s: Statement, level: int) -> Section:
        _, f = self.say, self.f
        score = s.score
        assert score is not None
        head = _("Score %(score)s, rating %(rating)s.", score=str(score.score), rating=score.rating or "-")
        rows = tuple(
            (
                k.label,
                f.ratio(k.value) if k.ratio else f.number(k.value),
                f.rate(k.target) if k.ratio else f.number(k.target),
                f.rate(k.weight),
                (f.rate(k.cap) if k.cap is not None else "-") + (" " + _("(capped)") if k.capped else ""),
            )
            for k in score.kpis
        )
        table = Table((_("KPI"), _("Result"), _("Target"), _("Weight"), _("Cap")), rows)
        note = _("Score = sum of weight × min(result / target, cap) × 100.")
        return Section(_("Scorecard"), (head, note), table, level=level)

    def eligibility(self, s: Statement) -> tuple[str, ...]:
        _ = self.say
        out = []
        for e in s.eligibility:
            if e.eligible is None and e.period == "quarter":
                out.append(_("%(rule)s: decided on the quarter's results.", rule=e.label))
            elif e.eligible is None:
                out.append(_("%(rule)s: decided on each month's results.", rule=e.label))
            elif e.eligible:
                out.append(_("%(rule)s: eligible.", rule=e.label))
            else:
                out.append(_("%(rule)s: not eligible.", rule=e.label))
        return tuple(out)

    def next_steps(self, s: Statement) -> tuple[str, ...]:
        if not s.next_steps:
            return (self.say("Nothing higher to reach this period."),)
        return tuple(self.next_step(n) for n in s.next_steps)

    def next_step(self, n: NextStep) -> str:
        _, f = self.say, self.f
        amount = f.money(n.gap) if n.money else f"{f.number(n.gap)} ({n.column})"
        if n.kind == "tier":
            terms = f.rate(n.rate) + (f" + {f.money_short(n.bonus)}" if n.bonus else "")
            return _("%(amount)s more reaches %(tier)s (%(terms)s).", amount=amount, tier=n.label, terms=terms)
        return _("%(amount)s more reaches %(light)s.", amount=amount, light=n.label)

    def total(self, s: Statement) -> str:
        f = self.f
        return self.say(
            "Commission %(commission)s + bonus %(bonus)s + awards %(awards)s = %(total)s.",
            commission=f.money(s.commission_total), bonus=f.money(s.bonus_total),
            awards=f.money(s.award_total), total=f.money(s.total),
        )  # fmt: skip


def statement_document(s: Statement, lang: str) -> Document:
    """The statement worded in `lang` (zh-CN or en)."""
    return Wording(lang, s.currency).document(s)
