"""`merit`: the command line. A thin adapter: parse arguments, call engine/, print, exit.

Every command reports user errors as `file:line:col: field: message` lines on stderr with exit
status 1 and never a traceback; results are written only when the whole evaluation succeeded,
atomically (temp file + rename), so a bad input never leaves a partial file behind.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.problems import MeritInputError, Problem
from runtime.gcpause import gc_paused_command
from service.cli.common import (
    FORMATS,
    add_fact_options,
    add_scheduler_option,
    check_outputs,
    count_rep_months,
    fact_options,
    load_for_period,
    load_policy_files,
    output_format,
    progress_bar,
    write_atomically,
)
from service.cli.common import print_problems as _print_problems
from service.cli.deals import add_deal_options, deal_inputs_problems, load_credited

if TYPE_CHECKING:
    from rich.console import Console

    from engine.results import Evaluation, WarningSummary
    from runtime.dask_executor import PartitionedRun

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


# ------------------------------------------------------------------ commands
def cmd_validate(args: argparse.Namespace) -> int:
    from runtime.policies import load_library

    problems: list[Problem] = []
    checked = 0
    for path in args.paths:
        try:
            lib = load_library(path)
            checked += len(lib.policies)
            for p in lib.policies:
                print(f"ok {p.source}: {p.id} {p.version} sha256 {p.sha256}")
        except MeritInputError as exc:
            problems.extend(exc.problems)
    if problems:
        _print_problems(problems)
        return EXIT_PROBLEMS
    print(f"{checked} policy version{'s' if checked != 1 else ''} valid")
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from engine.diff import diff_policies

    old, new = load_policy_files(args.old, args.new)
    lines = diff_policies(old, new)
    for line in lines:
        print(line)
    if not lines:
        print("no semantic change")
    return EXIT_OK


def _evaluate_on_dask(args: argparse.Namespace, bar: contextlib.ExitStack) -> PartitionedRun | None:
    """A big CSV evaluation done on Dask (runtime.dask_executor), or None: do it here.

    Only the facts file's size is looked at before the policy is read (as `load_for_period` reads
    the policy first), so a broken policy is reported the same way; every other problem makes the
    executor step aside for the single-process path, which reports it. The cluster (a
    LocalCluster, or `--scheduler`) lives as long as `bar`, the command's exit stack.
    """
    from runtime import dask_executor as dx
    from runtime.policies import load_library

    address = dx.scheduler_address(args.scheduler)
    try:
        if not dx.worth_distributing(args.facts, Path(args.facts).stat().st_size, address, args.format):
            return None
    except OSError:
        return None
    lib = load_library(args.policy)
    try:
        policy = lib.for_period(args.period)
    except ValueError:
        return None
    client = bar.enter_context(dx.dask_client(address))
    advance: list[Callable[[int], None] | None] = []

    def progress(done: int, total: int) -> None:  # the bar appears once the total is known
        if not advance:
            advance.append(bar.enter_context(progress_bar("evaluating", total)))
        if advance[0] is not None:
            advance[0](done)

    facts = Path(args.facts).resolve()
    return dx.evaluate_partitioned(
        client, policy, facts, args.facts, args.period, ship=address is not None, progress=progress
    )


def cmd_evaluate(args: argparse.Namespace) -> int:
    from engine.evaluation import evaluate

    wrong = deal_inputs_problems(args)
    if wrong:
        raise MeritInputError(wrong)
    if args.deals:
        policy, facts, credited = load_credited(args)
        with progress_bar("evaluating", count_rep_months(facts, args.period)) as advance:
            ev = evaluate(policy, facts, args.period, progress=advance).with_credits(credited.explain)
        return _write_evaluation(args, ev)
    fmt = args.format  # resolved by main(): --format, else --output's extension
    options = fact_options(args)
    bom = ("\ufeff",) if args.excel else ()  # zh-CN Excel reads a CSV as UTF-8 only with the BOM
    if options.plain and fmt in ("csv", "json"):  # workers read with the default options only
        with contextlib.ExitStack() as stack:
            run = _evaluate_on_dask(args, stack)
            if run is not None:
                _print_warnings(run.warnings)
                chunks = itertools.chain(bom, run.chunks(fmt)) if fmt == "csv" else run.chunks(fmt)
                if args.output:
                    write_atomically(Path(args.output), chunks)
                    print(f"wrote {args.output} ({run.results} results, payout {run.total_payout})", file=sys.stderr)
                else:
                    for chunk in chunks:
                        sys.stdout.write(chunk)
                return EXIT_OK
    policy, facts = load_for_period(args.policy, args.facts, args.period, options)
    with progress_bar("evaluating", count_rep_months(facts, args.period)) as advance:
        ev = evaluate(policy, facts, args.period, progress=advance)
    return _write_evaluation(args, ev)


def _write_evaluation(args: argparse.Namespace, ev: Evaluation) -> int:
    """Warnings on stderr, the evaluation in the format asked for, to --output or stdout."""
    from engine.results import warning_summary
    from service.render import print_evaluation

    fmt = args.format  # resolved by main(): --format, else --output's extension
    bom = ("\ufeff",) if args.excel else ()  # zh-CN Excel reads a CSV as UTF-8 only with the BOM
    _print_warnings(warning_summary(ev.results))
    if fmt == "table":
        _print_to(args.output, lambda console: print_evaluation(ev, console))
        return EXIT_OK
    if fmt == "xlsx":
        from service.xlsxexport import results_workbook

        if not args.output and sys.stdout.isatty():  # a workbook is bytes for a file, not for a terminal
            print("merit evaluate: --format xlsx writes a workbook: give --output FILE.xlsx", file=sys.stderr)
            return EXIT_USAGE
        data = results_workbook(ev.policy, ev.as_dict())
        if not args.output:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            return EXIT_OK
        write_atomically(Path(args.output), data)
    else:
        chunks = ev.json_chunks() if fmt == "json" else itertools.chain(bom, ev.csv_chunks())
        if not args.output:
            for chunk in chunks:
                sys.stdout.write(chunk)
            return EXIT_OK
        write_atomically(Path(args.output), chunks)
    print(f"wrote {args.output} ({len(ev.results)} results, payout {ev.total_payout})", file=sys.stderr)
    return EXIT_OK


def _print_to(output: str | None, show: Callable[[Console], None]) -> None:
    """What `show` prints on a console: to the terminal, or (all of it, once done) to `output`."""
    from rich.console import Console

    if output:
        console = Console(file=open(os.devnull, "w"), record=True, width=200)  # noqa: SIM115
        show(console)
        write_atomically(Path(output), console.export_text().encode("utf-8"))
    else:
        console = Console()
        if not console.is_terminal:
            console = Console(width=200)
        show(console)


def _print_warnings(summary: WarningSummary, shown: int = 8) -> None:
    """What a result could not decide (a blank region, a missing column), summed up on stderr so
    a table or CSV reader learns of it too; every line's own list is in --format json."""
    if not summary:
        return
    print(f"warnings ({sum(n for n, _ in summary.values())}; each line's are in --format json):", file=sys.stderr)
    for text, (count, first) in sorted(summary.items(), key=lambda kv: (-kv[1][0], kv[0]))[:shown]:
        print(f"  {count} x {text} (e.g. {first})", file=sys.stderr)
    if len(summary) > shown:
        print(f"  ... and {len(summary) - shown} other warnings", file=sys.stderr)


def cmd_test(args: argparse.Namespace) -> int:
    from service.acceptance import run_acceptance_cli

    return run_acceptance_cli(args.policy, args.pytest_args)


class _VersionAction(argparse.Action):
    """`merit --version`: the installed package's version (its metadata), read only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("merit")
        except PackageNotFoundError:  # run from a checkout that was never installed
            found = "unknown (not installed; pip install . gives it its version)"
        print(f"merit {found}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="merit", description="Merit sales-incentive policy engine")
    parser.add_argument("--version", action=_VersionAction, help="print Merit's version and exit")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="what to do (merit COMMAND -h lists its options)"
    )

    p = sub.add_parser("validate", help="check policy files or folders (schema + linter)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="policy files or folders")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("diff", help="semantic difference between two policy versions")
    p.add_argument("old", help="the version in force (a policy file)")
    p.add_argument("new", help="the candidate version (a policy file)")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("evaluate", help="evaluate a month or quarter")
    p.add_argument("--policy", required=True, help="a policy folder (version picked by period) or one file")
    p.add_argument("--facts", help="facts file: .csv/.txt, .xlsx, .ods or .json (or --deals, --payments, --targets)")
    p.add_argument("--period", required=True, help="2026-08 or 2026-Q3")
    add_fact_options(p)
    add_deal_options(p)
    p.add_argument(
        "--format",
        choices=FORMATS,
        help="table (default), json (with explanations), csv, or xlsx (one sheet per period); "
        "without it, --output's extension (.json, .csv, .xlsx) decides",
    )
    p.add_argument(
        "--excel", action="store_true", help="csv for Excel: UTF-8 with a BOM, so zh-CN Excel reads the names"
    )
    p.add_argument(
        "--output", metavar="FILE", help="write to this file instead of stdout (only when everything succeeded)"
    )
    add_scheduler_option(p)
    p.set_defaults(func=gc_paused_command(cmd_evaluate), formats=FORMATS)

    p = sub.add_parser("test", help="run HR's acceptance scenarios (optionally against a policy file)")
    p.add_argument("--policy", help="check this policy version against the scenarios tagged with its id")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments")
    p.set_defaults(func=cmd_test)

    try:
        from service.cli import simulate as sim_cli
    except ImportError:
        sim_cli = None  # type: ignore[assignment]
    if sim_cli is not None:
        sim_cli.add_commands(sub)
    from service.cli import documents

    documents.add_commands(sub)
    try:
        from service.cli import server as server_cli
    except ImportError:
        server_cli = None  # type: ignore[assignment]
    if server_cli is not None:
        server_cli.add_commands(sub)
        from service.cli import replay as replay_cli

        replay_cli.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_outputs(args)
        if hasattr(args, "formats"):  # a command that writes one of several formats
            args.format = output_format(args)
        return int(args.func(args))
    except MeritInputError as exc:
        _print_problems(exc.problems, exc)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug, not bad input: say so in one line; MERIT_DEBUG=1 shows the traceback
        if os.environ.get("MERIT_DEBUG"):
            raise
        from runtime.dask_executor import WorkerError

        if isinstance(exc, WorkerError):  # a lost worker or a failing task: nothing was written
            print(f"merit: the Dask cluster failed: {exc}; no output was written", file=sys.stderr)
            return 3
        print(
            f"merit: internal error: {type(exc).__name__}: {exc} (set MERIT_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 3
