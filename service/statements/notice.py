"""The 公示 notice: a published run's results as the company posts them, and how to object.

Lists every rep's light, tier (each month's, for a quarter) and awards and honours by the
policy's labels, the honour roll (月度销售之星, 季度TOP3 with positions), the objection deadline in
the company's time zone and how to object. HR's copy also says by when the results had to be
published: three working days after the figures closed, on China's official calendar
(`service.statements.workdays`). No money per rep beyond the awards' own amounts: a notice is
posted for everyone, the statement is the rep's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.labels import Labels
from engine.lines import Line
from engine.policy import Policy, RankAward
from engine.problems import MeritInputError
from engine.results import Evaluation
from engine.statement import award_parts
from service.statements.document import Document, Section, Table
from service.statements.i18n import Formats
from service.statements.wording import Wording
from service.statements.workdays import Deadline, publication_deadline

DEFAULT_TIMEZONE = "Asia/Shanghai"


def zone(name: str) -> ZoneInfo:
    """The company's time zone by its IANA name (a located problem when unknown)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise MeritInputError.at("timezone", name, "is not an IANA time zone name (e.g. Asia/Shanghai)") from None


@dataclass(frozen=True)
class Publication:
    """What the notice says of the run: its id, when it was published, until when one may object,
    and the day its figures closed (the fact import's day, in the company's time zone)."""

    run_id: int
    published_at: datetime
    objection_deadline: datetime
    figures_closed: date
    timezone: str
    status: str = "published"  # published | finalized | superseded
    superseded_by: int | None = None
    corrected_by: int | None = None  # a finalized run's period corrected since: the latest adjustment run


def notice_document(ev: Evaluation, pub: Publication, lang: str, *, hr: bool, reps: set[str] | None = None) -> Document:
    """The notice in `lang`; `hr` adds the publication deadline; `reps` limits the list (a
    manager's regions), None lists everyone."""
    w = Wording(lang, ev.policy.currency)
    _ = w.say
    tz = zone(pub.timezone)
    lines = [ln for ln in ev.results if reps is None or ln.rep_id in reps]
    stamp = "%Y-%m-%d %H:%M"
    deadline = pub.objection_deadline.astimezone(tz).strftime(stamp)
    fields = (
        (_("Period"), ev.period),
        (_("Policy"), f"{ev.policy.title} ({ev.policy.id} {ev.policy.version})"),
        (_("Run"), str(pub.run_id)),
        (_("Published"), f"{pub.published_at.astimezone(tz).strftime(stamp)} ({pub.timezone})"),
        (_("Objections until"), f"{deadline} ({pub.timezone})"),
        (_("Status"), _status(w, pub)),
    )
    sections = [
        Section(_("Results"), (), _results_table(w, ev.policy, lines)),
        Section(_("Honour roll"), _honour_roll(w, ev.policy, lines)),
        Section(
            _("How to object"),
            (
                _(
                    "If you disagree with your result, object before %(deadline)s (%(tz)s): "
                    "in Merit (POST /runs/%(run)s/objections with your own token) or through HR, "
                    "giving your rep ID and the reason.",
                    deadline=deadline,
                    tz=pub.timezone,
                    run=pub.run_id,
                ),
                _("Without an objection by then, the results are paid as published."),
            ),
        ),
    ]
    if hr:
        sections.append(
            Section(_("Publication deadline (HR)"), _deadline_text(w, publication_deadline(pub.figures_closed), pub))
        )
    title = _("Incentive results notice %(period)s", period=ev.period)
    return Document(lang, title, fields, tuple(sections))


def _status(w: Wording, pub: Publication) -> str:
    if pub.status == "finalized" and pub.corrected_by is not None:
        return w.say(
            "finalized, then corrected after payment by adjustment run %(run)s: see its notice", run=pub.corrected_by
        )
    if pub.status == "finalized":
        return w.say("finalized: paid as published")
    if pub.status == "superseded":
        return w.say("superseded: corrected by run %(run)s", run=pub.superseded_by)
    return w.say("published")


def _results_table(w: Wording, policy: Policy, lines: list[Line]) -> Table:
    _ = w.say
    f = Formats(w.lang, policy.currency)
    labels = Labels(policy)
    rows = []
    for ln in lines:
        month_tiers = [labels.tier(m.tier) or "-" for m in ln.month_lines]
        tier_text = " / ".join(month_tiers)
        between = "；" if w.lang == "zh-CN" else "; "
        awards = between.join(_award_text(w, f, a.label, a.period, a.amount, a.honour) for a in ln.awards) or "-"
        rows.append((ln.rep_id, ln.name or "-", ln.region or "-", labels.light(ln.light) or "-", tier_text, awards))
    return Table((_("Rep ID"), _("Name"), _("Region"), _("Light"), _("Tier"), _("Awards and honours")), tuple(rows))


def _award_text(w: Wording, f: Formats, label: str, period: str, amount: object, honour: bool) -> str:
    if honour:
        return w.say("%(award)s (%(period)s)", award=label, period=period)
    return w.say("%(award)s (%(period)s) %(amount)s", award=label, period=period, amount=f.money(amount))  # type: ignore[arg-type]


def _honour_roll(w: Wording, policy: Policy, lines: list[Line]) -> tuple[str, ...]:
    """Each rank award and honour with its winners in position order (ties share a position; an
    honour for the top n names no position). Group awards go to whole regions: the table lists them."""
    _ = w.say
    ranked = {a.id for a in policy.awards if isinstance(a, RankAward)}
    winners: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
    for ln in lines:
        for a in award_parts(policy, ln):
            if a.id not in ranked:
                continue
            name = ln.name or ln.rep_id
            who = f"{name}（{ln.rep_id}）" if w.lang == "zh-CN" else f"{name} ({ln.rep_id})"
            winners.setdefault((a.period, a.id, a.label), []).append((a.position or 0, who))
    if not winners:
        return (_("No rank award or honour in this period."),)
    out = []
    for (period, _id, label), names in sorted(winners.items()):
        listed = w.separator.join(
            _("No. %(position)s %(name)s", position=p, name=n) if p else n
            for p, n in sorted(names, key=lambda pn: pn[0])  # then in rep order
        )
        out.append(_("%(award)s (%(period)s): %(names)s", award=label, period=period, names=listed))
    return tuple(out)


def _deadline_text(w: Wording, d: Deadline, pub: Publication) -> tuple[str, ...]:
    _ = w.say
    if d.due is None:
        return (
            _(
                "The figures closed on %(closed)s; China's official holiday calendar for %(year)s is not known "
                "to this installation, so the deadline of %(days)s working days cannot be counted.",
                closed=d.closed.isoformat(), year=d.unknown_year, days=d.working_days,
            ),
        )  # fmt: skip
    out = [
        _(
            "The figures closed on %(closed)s; publish within %(days)s working days, by %(due)s "
            "(China's official holiday calendar).",
            closed=d.closed.isoformat(), days=d.working_days, due=d.due.isoformat(),
        )
    ]  # fmt: skip
    if d.skipped_holidays:
        days = w.separator.join(day.isoformat() for day, _name in d.skipped_holidays)
        names = w.separator.join(sorted({_(name) for _day, name in d.skipped_holidays}))
        out.append(_("Not counted (public holidays, %(names)s): %(days)s.", names=names, days=days))
    if d.adjusted_workdays:
        days = w.separator.join(day.isoformat() for day in d.adjusted_workdays)
        out.append(_("Counted although on a weekend (adjusted working days): %(days)s.", days=days))
    published = pub.published_at.astimezone(zone(pub.timezone)).date()
    if published > d.due:
        out.append(_("Published on %(day)s: late.", day=published.isoformat()))
    else:
        out.append(_("Published on %(day)s: in time.", day=published.isoformat()))
    return tuple(out)
