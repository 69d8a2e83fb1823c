"""Terminal rendering of an evaluation (rich): a readable table with the light coloured."""

from __future__ import annotations

import unicodedata
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.results import Evaluation

LIGHT_STYLE = {"red": "bold red", "yellow": "bold yellow", "green": "bold green"}


def plain(text: str | None) -> str:
    """Text from the facts as a terminal shows it: rich markup escaped (a name like "[/]" is a
    name), control characters made visible (an ESC in a name must not recolour the terminal)."""
    if not text:
        return ""
    if not text.isprintable():
        text = "".join(f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" and c not in "\n\t" else c for c in text)
    return escape(text)


def _pct(ratio: str | None) -> str:
    if ratio is None:
        return "-"
    from decimal import ROUND_DOWN, Decimal

    return f"{(Decimal(ratio) * 100).quantize(Decimal('0.01'), rounding=ROUND_DOWN)}%"


def evaluation_table(ev: Evaluation) -> Table:
    data = ev.as_dict()
    p = data["policy"]
    table = Table(
        title=f"{p['id']} {p['version']} — {data['period']}",
        caption=f"policy sha256 {p['sha256'][:16]}…  facts sha256 {data['facts_sha256'][:16]}…",
    )
    for col, justify in [
        ("rep", "left"), ("name", "left"), ("region", "left"), ("line", "left"), ("target", "right"),
        ("actual", "right"), ("achv", "right"), ("light", "left"), ("tier", "left"), ("commission", "right"),
        ("bonus", "right"), ("awards", "right"), ("total", "right"), ("score", "right"), ("rating", "left"),
        ("flags", "left"),
    ]:  # fmt: skip
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in data["results"]:
        awards = sum((_dec(a["amount"]) for a in r["awards"]), _dec("0"))
        honours = [a["label"] for a in r["awards"] if _dec(a["amount"]) == 0]
        light = r["light"] or "-"
        table.add_row(
            plain(r["rep_id"]), plain(r["name"]), plain(r["region"]), plain(r["product_line"]),
            r["target"], r["actual"],
            _pct(r["metrics"].get("achievement")), f"[{LIGHT_STYLE.get(light, '')}]{light}[/]" if light != "-" else "-",
            r["tier"] or "-", r["commission"], r["bonus"], f"{awards:.2f}" + (" ★" if honours else ""), r["total"],
            r["score"] or "-", r["rating"] or "-", ", ".join(k for k, v in r["flags"].items() if v),
        )  # fmt: skip
    return table


def _dec(text: str) -> Any:
    from decimal import Decimal

    return Decimal(text)


def print_evaluation(ev: Evaluation, console: Console) -> None:
    console.print(evaluation_table(ev))
    t = ev.as_dict()["totals"]
    console.print(
        f"reps {t['reps']}  target {t['target']}  actual {t['actual']}  achievement {_pct(t['achievement'])}  "
        f"commission {t['commission']}  bonus {t['bonus']}  awards {t['awards']}  [bold]payout {t['payout']}[/]"
    )
    lights = "  ".join(f"[{LIGHT_STYLE.get(k, '')}]{k}[/] {v}" for k, v in t["lights"].items())
    console.print(f"lights: {lights}")
    if "mom" in t:
        console.print(f"month on month: actual {t['mom']['change']} ({_pct(t['mom'].get('change_ratio'))})")
    for region, s in t["by_region"].items():
        shown = f"reps {s['reps']}, achievement {_pct(s['achievement'])}, payout {s['payout']}"
        console.print(f"  {plain(region)}: {shown}")
