"""`merit evaluate --deals D --payments P --targets T`: monthly facts credited from deals.

Reads the three files and the policy version in force, reports every problem of all of them at
once, and hands `evaluate()` the facts `engine.crediting` derived; the evaluation is then the same
as from a fact file, its JSON lines also saying which deals credited them.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from engine.problems import MeritInputError, Problem
from service.cli.common import read_input

if TYPE_CHECKING:
    from engine.crediting import Credited
    from engine.facts import FactSet
    from engine.policy import Policy

#: What `evaluate` says when the inputs of the two ways in are mixed or incomplete.
USAGE = (
    "give either --facts FILE (monthly totals) or --deals FILE --payments FILE --targets FILE"
    " (monthly facts credited from deals by the policy's crediting block)"
)


def add_deal_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--deals", help="deals file (deal_id, rep_id, signed_on, amount[, product_line, shares])")
    p.add_argument("--payments", help="payments file (deal_id, paid_on, amount); with --deals")
    p.add_argument("--targets", help="rep-months to evaluate (rep_id, period, target, name, region, ...); with --deals")


def deal_inputs_problems(args: argparse.Namespace) -> list[Problem]:
    """Which of --facts / --deals --payments --targets are missing or mixed (none: fine)."""
    deals = [getattr(args, a, None) for a in ("deals", "payments", "targets")]
    if args.facts and any(deals):
        given = ", ".join(f"--{a}" for a, v in zip(("deals", "payments", "targets"), deals, strict=True) if v)
        return [Problem("--facts", None, None, "", f"cannot be given with {given}: {USAGE}")]
    if any(deals):
        ignored = [f"--{a.replace('_', '-')}" for a in ("sheet", "columns", "drop_totals") if getattr(args, a, None)]
        if ignored:
            why = "reads a --facts file; the deal files take no such option"
            return [Problem(option, None, None, "", why) for option in ignored]
    if not args.facts and not all(deals):
        missing = [f"--{a}" for a, v in zip(("deals", "payments", "targets"), deals, strict=True) if not v]
        if len(missing) == 3:
            return [Problem("--facts", None, None, "", f"is missing: {USAGE}")]
        return [Problem(m, None, None, "", f"is missing: {USAGE}") for m in missing]
    return []


def load_credited(args: argparse.Namespace) -> tuple[Policy, FactSet, Credited]:
    """The policy in force for the period, the facts credited from deals, and the credits."""
    from engine.crediting import credit_deals, credited_facts
    from engine.deals import load_deal_book, load_targets
    from engine.periods import parse_period
    from runtime.policies import load_library

    problems: list[Problem] = []
    policy = None
    try:
        parse_period(args.period)
    except ValueError as exc:
        problems.append(Problem("--period", None, None, args.period, str(exc)))
    try:
        library = load_library(args.policy)
        if not problems:
            policy = library.for_period(args.period)
    except MeritInputError as exc:
        problems += exc.problems
    if policy is not None and policy.crediting is None:
        problems.append(
            Problem(
                policy.source, None, None, "crediting",
                f"policy {policy.id} {policy.version} has no crediting block, so it cannot say when a deal"
                " counts: add one (docs/policy-format.md, 'crediting'), or evaluate monthly totals with --facts",
            )
        )  # fmt: skip
    book = targets = None
    try:
        book = load_deal_book(read_input(args.deals), args.deals, read_input(args.payments), args.payments)
    except MeritInputError as exc:
        problems += exc.problems
    try:
        columns = policy.numeric_columns if policy else ()
        targets = load_targets(read_input(args.targets), args.targets, columns)
    except MeritInputError as exc:
        problems += exc.problems
    if problems or policy is None or policy.crediting is None or book is None or targets is None:
        raise MeritInputError(problems)
    credited = credit_deals(policy.crediting, book)
    facts = credited_facts(credited, book, targets[0], (args.targets, targets[1]), policy.numeric_columns)
    for note in (*targets[2], *facts.notes):
        print(f"note: {note}", file=sys.stderr)
    return policy, facts, credited
