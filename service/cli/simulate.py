"""`merit simulate`, `merit sweep`, `merit plan`: the what-if simulator on the command line.

A thin adapter over the what-if use cases (`service.simulations.service`, which the HTTP API and
HR's scenarios call too): read files, pass the scenario (policy edits with --set, quota changes
with --quota, or another version with --scenario-policy), print a table, JSON or CSV. Nothing is
stored; user errors come back as located problems through `service.cli.main.main`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from runtime.gcpause import gc_paused_command

EXIT_OK = 0


def _emit(data: bytes, output: str | None, what: str) -> None:
    from service.cli.common import write_atomically

    if output:
        write_atomically(Path(output), data)
        print(f"wrote {output} ({what})", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


def _console(output: str | None) -> Any:
    from rich.console import Console

    if output:
        return Console(file=open(os.devnull, "w"), record=True, width=160)
    console = Console()
    return console if console.is_terminal else Console(width=160)


def _pct(ratio: str | None) -> str:
    from service.render import percent_text

    return percent_text(ratio, places=3)  # payout shares are small: one more place


def differences_csv(data: dict[str, Any]) -> str:
    from engine.results import safe_cell

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["period", "rep_id", "name", "region", "product_line", "baseline", "scenario", "delta", "reasons"])
    for d in data["differences"]:
        w.writerow(
            [
                data["period"], safe_cell(d["rep_id"]), safe_cell(d["name"]), safe_cell(d["region"]),
                safe_cell(d["product_line"]), d["baseline"], d["scenario"], d["delta"],
                safe_cell("; ".join(d["reasons"])),
            ]
        )  # fmt: skip
    return buf.getvalue()


def print_simulation(data: dict[str, Any], console: Any, labels: Any = None, limit: int = 25) -> None:
    """The what-if as tables; `labels` (`engine.labels.Labels`) names lights and tiers as the policy does."""
    from rich.markup import escape
    from rich.table import Table

    from service.render import plain

    tier = labels.tier if labels is not None else str
    light_of = labels.light if labels is not None else str
    b, s = data["baseline"], data["scenario"]
    console.print(
        f"[bold]what-if {data['period']}[/bold]: baseline {b['id']} {b['version']} ({b['sha256'][:12]})"
        f" vs scenario ({s['sha256'][:12]})"
    )
    for e in data["changes"]["edits"]:
        console.print(f"  set {escape(e)}")
    for q in data["changes"]["quotas"]:
        console.print(f"  quota {escape(q)}")
    plan = data.get("target_plan")
    if plan:
        groups = ", ".join(f"{plain(g)} {v}" for g, v in plan["by_group"].items())
        console.print(f"  targets: team {plan['total']} by {plan['split_by']}: {groups}; reps by {plan['weights']}")
    t = Table(title="cost")
    for col in ("", "baseline", "scenario", "delta"):
        t.add_column(col, justify="left" if not col else "right")
    t.add_row("total payout", *(data["totals"][k] for k in ("baseline", "scenario", "delta")), style="bold")
    for c, v in data["components"].items():
        t.add_row(c, v["baseline"], v["scenario"], v["delta"])
    for r, v in data["by_region"].items():
        t.add_row(f"region {r}", v["baseline"], v["scenario"], v["delta"])
    share = data["payout_share_of_sales"]
    t.add_row("payout / sales", _pct(share["baseline"]), _pct(share["scenario"]), "")
    for fid, v in data["eligible"].items():
        flag = labels.flags.get(fid, fid) if labels is not None else fid
        t.add_row(
            f"eligible: {plain(flag)}", str(v["baseline"]), str(v["scenario"]), str(v["scenario"] - v["baseline"])
        )
    for light in sorted(set(data["lights"]["baseline"]) | set(data["lights"]["scenario"])):
        lb, ls = data["lights"]["baseline"].get(light, 0), data["lights"]["scenario"].get(light, 0)
        t.add_row(f"light {plain(light_of(light))}", str(lb), str(ls), str(ls - lb))
    console.print(t)
    tm = data["tier_migration"]
    m = Table(title="tier migration (month lines; rows: baseline, columns: scenario)")
    m.add_column("from \\ to")
    for to in tm["tiers"]:
        m.add_column(plain(tier(to)), justify="right")
    for fr in tm["tiers"]:
        m.add_row(plain(tier(fr)), *(str(tm["matrix"][fr][to]) for to in tm["tiers"]))
    console.print(m)
    console.print(
        f"winners {data['winners']['count']} ({data['winners']['total']}), losers {data['losers']['count']} "
        f"({data['losers']['total']}), unchanged {data['unchanged_reps']}"
    )
    if data["differences"]:
        first = f", first {limit}" if len(data["differences"]) > limit else ""
        d = Table(title=f"per-rep differences (largest first{first})")
        for col, j in (
            ("rep", "left"),
            ("name", "left"),
            ("region", "left"),
            ("baseline", "right"),
            ("scenario", "right"),
            ("delta", "right"),
            ("why", "left"),
        ):
            d.add_column(col, justify=j)  # type: ignore[arg-type]
        for r in data["differences"][:limit]:
            d.add_row(
                plain(r["rep_id"]),
                plain(r["name"]),
                plain(r["region"]),
                r["baseline"],
                r["scenario"],
                r["delta"],
                plain("\n".join(r["reasons"])),
            )
        console.print(d)


def cmd_simulate(args: argparse.Namespace) -> int:
    from runtime.policies import load_policy_file
    from service.cli.common import fact_options, load_for_period
    from service.simulations.service import Targets, simulate

    policy, facts = load_for_period(args.policy, args.facts, args.period, fact_options(args))
    scenario_base = load_policy_file(args.scenario_policy) if args.scenario_policy else None
    targets = None
    if args.team_target is not None:
        targets = Targets(args.team_target, args.split_by or "region", args.shares)
    elif args.shares or args.split_by:
        from engine.problems import MeritInputError

        flag, value = ("--shares", args.shares) if args.shares else ("--split-by", args.split_by)
        raise MeritInputError.at(flag, value, f"{flag} splits a --team-target; give one")
    whatif = simulate(
        policy, facts, args.period, sets=args.set, quotas=args.quota, scenario_base=scenario_base, targets=targets
    )
    data = whatif.as_dict()
    if args.format == "json":
        _emit(
            (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode(),
            args.output,
            f"delta {data['totals']['delta']}",
        )
    elif args.format == "csv":
        _emit(differences_csv(data).encode("utf-8"), args.output, f"{len(data['differences'])} reps differ")
    else:
        console = _console(args.output)
        print_simulation(data, console, whatif.result.labels)
        if args.output:
            _emit(console.export_text().encode("utf-8"), args.output, f"delta {data['totals']['delta']}")
    return EXIT_OK


def _points_runner(
    args: argparse.Namespace, stack: contextlib.ExitStack, policy: Any, facts: Any, points: int, options: Any
) -> Any:
    """Where a sweep's points are costed: on Dask (`--scheduler`, `MERIT_SCHEDULER`, or a local
    cluster when the work is big enough: runtime.dask_sweeps.MIN_SWEEP_WORK), else None (here)."""
    from engine.evaluation import period_of
    from runtime import dask_executor as dx
    from runtime import dask_sweeps
    from service.cli.common import count_rep_months, read_input

    address = dx.scheduler_address(args.scheduler)
    if points < 2:
        return None
    if address is None:
        work = count_rep_months(facts, args.period) * points
        if dx.local_workers() < 2 or (work < dask_sweeps.MIN_SWEEP_WORK and not os.environ.get("MERIT_WORKERS")):
            return None
    client = stack.enter_context(dx.dask_client(address))
    return dask_sweeps.points_on_dask(
        client, read_input(args.facts), args.facts, options, policy.numeric_columns, period_of(args.period)
    )


def sweep_title(data: dict[str, Any], policy: Any) -> str:
    """The parameter as the policy names it, the period, the quota changes made at every point (the
    baseline payout is on the targets as imported)."""
    from engine.labels import parameter

    param = parameter(policy, data["parameter"])
    named = param.path if param.label == param.path else f"{param.label} ({param.path})"
    quotas = f" with quota {', '.join(data['quotas'])} at every point" if data.get("quotas") else ""
    base = "baseline payout on the imported targets" if quotas else "baseline payout"
    return f"sweep {named} — {data['period']}{quotas} ({base} {data['baseline']['payout']})"


def cmd_sweep(args: argparse.Namespace) -> int:
    from engine.labels import Labels
    from service.cli.common import fact_options, load_for_period
    from service.simulations.scenario import chart_format, sweep_values
    from service.simulations.service import sweep

    values = sweep_values(args.values, args.range)
    chart_fmt = chart_format(args.chart) if args.chart else None
    options = fact_options(args)
    policy, facts = load_for_period(args.policy, args.facts, args.period, options)
    with contextlib.ExitStack() as stack:
        points = _points_runner(args, stack, policy, facts, len(values), options)
        data = sweep(policy, args.param, values, facts, args.period, quotas=args.quota, points=points)
    if args.chart:
        from service.charts import sweep_chart
        from service.cli.common import write_atomically

        write_atomically(Path(args.chart), sweep_chart(data, chart_fmt or "svg", policy))
        print(f"wrote {args.chart}", file=sys.stderr)
    if args.format == "json":
        _emit(
            (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode(),
            args.output,
            f"{len(data['points'])} points",
        )
        return EXIT_OK
    from rich.markup import escape
    from rich.table import Table

    console = _console(args.output)
    t = Table(title=escape(sweep_title(data, policy)))
    tiers = list(data["points"][0]["tiers"]) if data["points"] else []
    names = Labels(policy)
    for col in ("value", "payout", "delta", "payout / sales", *(names.tier(x) or x for x in tiers)):
        t.add_column(col, justify="right")
    for p in data["points"]:
        t.add_row(
            p["value"],
            p["payout"],
            p["delta"],
            _pct(p["share_of_sales"]),
            *(str(p["tiers"][x]) for x in tiers),
        )
    console.print(t)
    if args.output:
        _emit(console.export_text().encode("utf-8"), args.output, f"{len(data['points'])} points")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from engine.facts import load_facts
    from service.cli.common import fact_options, load_policy_files, print_notes, read_input
    from service.simulations.service import plan

    old, new = load_policy_files(args.old, args.new)
    cols = sorted(set(old.numeric_columns) | set(new.numeric_columns))
    facts = load_facts(read_input(args.facts), args.facts, cols, options=fact_options(args))
    print_notes(facts)
    changes, data = plan(old, new, facts, args.period)
    if args.format == "json":
        out = {"policy_changes": changes, "impact": data}
        _emit(
            (json.dumps(out, ensure_ascii=False, indent=2) + "\n").encode(),
            args.output,
            f"delta {data['totals']['delta']}",
        )
        return EXIT_OK
    from rich.markup import escape

    from engine.labels import both_labels

    console = _console(args.output)
    console.print(
        f"[bold]plan: {old.id} {old.version} -> {new.id} {new.version}[/bold] on the facts of {data['period']}"
    )
    console.print("policy changes:" if changes else "policy changes: none (the versions mean the same thing)")
    for line in changes:
        console.print(f"  ~ {escape(line)}")
    print_simulation(data, console, both_labels(old, new))
    if args.output:
        _emit(console.export_text().encode("utf-8"), args.output, f"delta {data['totals']['delta']}")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    from service.cli.common import add_fact_options, add_scheduler_option

    p = sub.add_parser("simulate", help="what-if: a scenario's cost and who moves, against the baseline")
    p.add_argument("--policy", required=True, help="baseline: a policy folder (version picked by period) or one file")
    p.add_argument("--facts", required=True, help="facts file: .csv/.txt, .xlsx, .ods or .json")
    p.add_argument("--period", required=True, help="2026-08 or 2026-Q3")
    add_fact_options(p)
    p.add_argument("--scenario-policy", help="another policy version as the scenario (edits apply on top of it)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="e.g. commission.tiers[advanced].rate=0.018",
    )
    p.add_argument(
        "--quota",
        action="append",
        default=[],
        metavar="CHANGE",
        help="e.g. region=East:+5%%, rep=R001:=900000, all:-3%%",
    )
    p.add_argument(
        "--team-target",
        metavar="AMOUNT",
        help="plan the scenario's targets top-down from this team target for the period (e.g. 5000000)",
    )
    p.add_argument("--split-by", choices=("region", "product_line"), help="first level of the plan (default: region)")
    p.add_argument(
        "--shares",
        metavar="SHARES",
        help="e.g. East:40%%,South:30%%,North:30%% (default: in proportion to last period's actuals)",
    )
    p.add_argument(
        "--format", choices=("table", "json", "csv"), help="table (default), json, or csv (per-rep differences)"
    )
    p.add_argument("--output", metavar="FILE", help="write to this file instead of stdout (.json/.csv pick the format)")
    p.set_defaults(func=gc_paused_command(cmd_simulate, freeze=False), formats=("table", "json", "csv"))

    p = sub.add_parser("sweep", help="cost curve of one policy parameter over a range of values")
    p.add_argument("--policy", required=True, help="a policy folder (version picked by period) or one file")
    p.add_argument("--facts", required=True, help="facts file: .csv/.txt, .xlsx, .ods or .json")
    p.add_argument("--period", required=True, help="2026-08 or 2026-Q3")
    add_fact_options(p)
    p.add_argument("--param", required=True, metavar="PATH", help="e.g. commission.tiers[advanced].rate")
    p.add_argument("--values", help="comma-separated values, e.g. 0.015,0.016,0.018")
    p.add_argument("--range", help="start:stop:step, e.g. 0.015:0.025:0.0005")
    p.add_argument(
        "--quota",
        action="append",
        default=[],
        metavar="CHANGE",
        help="change the targets at every point, as in simulate: e.g. region=East:+5%%, rep=R001:=900000",
    )
    p.add_argument("--chart", metavar="FILE", help="also draw the curve to this .svg or .png file")
    p.add_argument("--format", choices=("table", "json"), help="table (default) or json")
    p.add_argument(
        "--output", metavar="FILE", help="write to this file instead of stdout (only when everything succeeded)"
    )
    add_scheduler_option(p)
    p.set_defaults(func=gc_paused_command(cmd_sweep, freeze=False), formats=("table", "json"))

    p = sub.add_parser(
        "plan", help="impact of a policy edit before it is published: what changes, what it costs, who moves"
    )
    p.add_argument("old", help="the policy version in force")
    p.add_argument("new", help="the edited version")
    p.add_argument("--facts", required=True, help="facts file: .csv/.txt, .xlsx, .ods or .json")
    p.add_argument("--period", required=True, help="2026-08 or 2026-Q3")
    add_fact_options(p)
    p.add_argument("--format", choices=("table", "json"), help="table (default) or json")
    p.add_argument(
        "--output", metavar="FILE", help="write to this file instead of stdout (only when everything succeeded)"
    )
    p.set_defaults(func=gc_paused_command(cmd_plan, freeze=False), formats=("table", "json"))
