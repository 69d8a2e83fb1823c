"""Terminal rendering of an evaluation (rich): a table that fits the terminal and never cuts money.

A terminal is often 80 columns and the full table needs about 150, and rich shrinks a table that
does not fit by cutting cells (`R…`, `8…`), money included. So the columns are chosen here, by
priority, to fit the console's width: who and what they are paid first, then how it was decided,
then the figures behind it. Money cells never wrap or shrink; names and flags wrap. The columns
left out are named under the table (every format other than the table has them all). The light
and the tier are shown by the policy's own labels (绿灯, 进阶激励奖), and the `★` that marks an
honour in the awards column is explained in a legend under the table.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from engine.results import Evaluation, line_dict
from engine.tiers import money_text
from service.policylabels import honour_labels, light_labels, tier_labels

LIGHT_STYLE = {"red": "bold red", "yellow": "bold yellow", "green": "bold green"}
HONOUR = "★"
GAP = 3  # between two columns: the padding on both sides and the (blank) rule between them
NAME_WIDTH = 8  # a wrapped name keeps at least four Chinese characters per line


@dataclass(frozen=True)
class Column:
    """One table column: its key, header, alignment, whether it may wrap, and its priority (0 first)."""

    key: str
    header: str
    justify: str
    wraps: bool
    priority: int


#: In display order; `priority` says which stay when the terminal is narrow.
COLUMNS = (
    Column("rep", "rep", "left", False, 0),
    Column("name", "name", "left", True, 1),
    Column("region", "region", "left", False, 11),
    Column("line", "line", "left", False, 14),
    Column("target", "target", "right", False, 10),
    Column("actual", "actual", "right", False, 9),
    Column("achv", "achv", "right", False, 4),
    Column("light", "light", "left", False, 3),
    Column("tier", "tier", "left", False, 5),
    Column("commission", "commission", "right", False, 6),
    Column("bonus", "bonus", "right", False, 7),
    Column("awards", "awards", "right", False, 8),
    Column("total", "total", "right", False, 2),
    Column("score", "score", "right", False, 13),
    Column("rating", "rating", "left", False, 12),
    Column("flags", "flags", "left", True, 15),
)


def plain(text: str | None) -> str:
    """Text from the facts as a terminal shows it: rich markup escaped (a name like "[/]" is a
    name), control characters made visible (an ESC in a name must not recolour the terminal)."""
    if not text:
        return ""
    if not text.isprintable():
        text = "".join(f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" and c not in "\n\t" else c for c in text)
    return escape(text)


def percent_text(ratio: str | None, places: int = 2) -> str:
    """A ratio string ("1.05") as a percentage ("105.00%"), truncated like the ratio itself."""
    if ratio is None:
        return "-"
    return f"{(Decimal(ratio) * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)}%"


def _rows(ev: Evaluation) -> list[dict[str, Text]]:
    """Every result line's cells as rich Text (so widths are measured on what is shown)."""
    lights, tiers = light_labels(ev.policy), tier_labels(ev.policy)
    rows = []
    for ln in ev.results:
        r = line_dict(ln)  # the contract's figures, as JSON shows them
        honour = f" {HONOUR}" if any(a.honour for a in ln.awards) else ""
        light = Text(lights.get(ln.light, ln.light), style=LIGHT_STYLE.get(ln.light, "")) if ln.light else Text("-")
        cells = {
            "rep": r["rep_id"], "name": r["name"], "region": r["region"], "line": r["product_line"],
            "target": r["target"], "actual": r["actual"], "achv": percent_text(r["metrics"].get("achievement")),
            "tier": tiers.get(r["tier"], r["tier"]) if r["tier"] else "-", "commission": r["commission"],
            "bonus": r["bonus"], "awards": money_text(ln.award_total) + honour, "total": r["total"],
            "score": r["score"] or "-", "rating": r["rating"] or "-",
            "flags": ", ".join(k for k, v in r["flags"].items() if v),
        }  # fmt: skip
        row = {k: Text(Text.from_markup(plain(v)).plain if v else "") for k, v in cells.items()}
        row["light"] = light
        rows.append(row)
    return rows


def _needed(column: Column, rows: list[dict[str, Text]]) -> int:
    """The narrowest the column may be: its widest cell (or header), or a wrapping column's floor."""
    widest = max([cell_len(column.header), *(cell_len(r[column.key].plain) for r in rows)])
    return min(widest, max(NAME_WIDTH, cell_len(column.header))) if column.wraps else widest


def fitting_columns(rows: list[dict[str, Text]], width: int) -> list[Column]:
    """The columns that fit in `width`, highest priority first, shown in display order."""
    chosen: set[str] = set()
    used = -GAP
    for column in sorted(COLUMNS, key=lambda c: c.priority):
        need = _needed(column, rows) + GAP
        if used + need <= width:
            chosen.add(column.key)
            used += need
    return [c for c in COLUMNS if c.key in chosen]


def evaluation_table(ev: Evaluation, width: int = 200) -> Table:
    """The results as a table no wider than `width`: the columns that fit, by priority."""
    rows = _rows(ev)
    return _table(ev, rows, fitting_columns(rows, width))


def _table(ev: Evaluation, rows: list[dict[str, Text]], shown: list[Column]) -> Table:
    p = ev.policy.ref
    left_out = [c.header for c in COLUMNS if c not in shown]
    caption = f"policy sha256 {p['sha256'][:16]}…  facts sha256 {ev.facts_sha256[:16]}…"
    if left_out:
        caption += f"\nnot shown at this width: {', '.join(left_out)} (--format json, csv or xlsx has every column)"
    table = Table(
        title=f"{p['id']} {p['version']} — {ev.period}", caption=caption, box=box.SIMPLE_HEAD,
        show_edge=False, pad_edge=False, padding=(0, 1),
    )  # fmt: skip
    for c in shown:
        table.add_column(
            c.header, justify=c.justify, no_wrap=not c.wraps, overflow="fold",  # type: ignore[arg-type]
            min_width=_needed(c, rows),
        )  # fmt: skip
    for row in rows:
        table.add_row(*(row[c.key] for c in shown))
    return table


def legend(ev: Evaluation) -> str | None:
    """What the `★` in the awards column means, when a line shows one: the policy's honours."""
    if not any(a.honour for ln in ev.results for a in ln.awards):
        return None
    names = "、".join(honour_labels(ev.policy)) or "honour"
    return f"{HONOUR} an honour ({names}): a title, no money; the awards column counts money only"


def print_evaluation(ev: Evaluation, console: Console) -> None:
    """The table, the legend and the totals, fitted to the console's width."""
    rows = _rows(ev)
    shown = fitting_columns(rows, console.width)
    console.print(_table(ev, rows, shown))
    explained = legend(ev)
    if explained and any(c.key == "awards" for c in shown):
        console.print(escape(explained))
    t = ev.totals()
    console.print(
        f"reps {t['reps']}  target {t['target']}  actual {t['actual']}  achievement {percent_text(t['achievement'])}  "
        f"commission {t['commission']}  bonus {t['bonus']}  awards {t['awards']}  [bold]payout {t['payout']}[/]"
    )
    labels = light_labels(ev.policy)
    lights = "  ".join(f"[{LIGHT_STYLE.get(k, '')}]{plain(labels.get(k, k))}[/] {v}" for k, v in t["lights"].items())
    console.print(f"lights: {lights}")
    if "mom" in t:
        console.print(f"month on month: actual {t['mom']['change']} ({percent_text(t['mom'].get('change_ratio'))})")
    for region, s in t["by_region"].items():
        summary = f"reps {s['reps']}, achievement {percent_text(s['achievement'])}, payout {s['payout']}"
        console.print(f"  {plain(region)}: {summary}")
