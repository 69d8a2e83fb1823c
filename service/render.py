"""Terminal rendering of an evaluation (rich): a readable table with the light coloured."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.lines import Line
from engine.results import Evaluation, line_dict
from engine.tiers import money_text

LIGHT_STYLE = {"red": "bold red", "yellow": "bold yellow", "green": "bold green"}


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
    from decimal import ROUND_DOWN, Decimal

    return f"{(Decimal(ratio) * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)}%"


def evaluation_table(ev: Evaluation) -> Table:
    """The result lines as a table (one row per result)."""
    return table_of(ev.policy.ref, ev.period, ev.facts_sha256, (table_row(ln) for ln in ev.results))


def table_of(policy: dict[str, str], period: str, facts_sha256: str, rows: Iterable[list[str]]) -> Table:
    """A table of `table_row`s (rendered here, or by the partitions of runtime.dask_executor)."""
    table = Table(
        title=f"{policy['id']} {policy['version']} — {period}",
        caption=f"policy sha256 {policy['sha256'][:16]}…  facts sha256 {facts_sha256[:16]}…",
    )
    for col, justify in [
        ("rep", "left"), ("name", "left"), ("region", "left"), ("line", "left"), ("target", "right"),
        ("actual", "right"), ("achv", "right"), ("light", "left"), ("tier", "left"), ("commission", "right"),
        ("bonus", "right"), ("awards", "right"), ("total", "right"), ("score", "right"), ("rating", "left"),
        ("flags", "left"),
    ]:  # fmt: skip
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*row)
    return table


def table_row(ln: Line) -> list[str]:
    """One result's cells (rich markup), the contract's figures as JSON shows them."""
    r = line_dict(ln)
    honour = " ★" if any(a.honour for a in ln.awards) else ""
    light = f"[{LIGHT_STYLE.get(ln.light, '')}]{ln.light}[/]" if ln.light else "-"
    return [
        plain(r["rep_id"]), plain(r["name"]), plain(r["region"]), plain(r["product_line"]),
        r["target"], r["actual"], percent_text(r["metrics"].get("achievement")), light,
        r["tier"] or "-", r["commission"], r["bonus"], money_text(ln.award_total) + honour, r["total"],
        r["score"] or "-", r["rating"] or "-", ", ".join(k for k, v in r["flags"].items() if v),
    ]  # fmt: skip


def print_evaluation(ev: Evaluation, console: Console) -> None:
    """The table and the totals below it, as `merit evaluate` prints them."""
    print_table(evaluation_table(ev), ev.totals(), console)


def print_table(table: Table, t: dict[str, Any], console: Console) -> None:
    """A results table and its totals block `t` (`Evaluation.totals()`)."""
    console.print(table)
    console.print(
        f"reps {t['reps']}  target {t['target']}  actual {t['actual']}  achievement {percent_text(t['achievement'])}  "
        f"commission {t['commission']}  bonus {t['bonus']}  awards {t['awards']}  [bold]payout {t['payout']}[/]"
    )
    lights = "  ".join(f"[{LIGHT_STYLE.get(k, '')}]{k}[/] {v}" for k, v in t["lights"].items())
    console.print(f"lights: {lights}")
    if "mom" in t:
        console.print(f"month on month: actual {t['mom']['change']} ({percent_text(t['mom'].get('change_ratio'))})")
    for region, s in t["by_region"].items():
        shown = f"reps {s['reps']}, achievement {percent_text(s['achievement'])}, payout {s['payout']}"
        console.print(f"  {plain(region)}: {shown}")
