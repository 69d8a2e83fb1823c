"""Which failed scenarios pin values a candidate version changes, and how HR scopes or updates them.

`merit test --policy NEW` fails the scenarios whose hand-computed numbers belong to the shipped
version (tier 2 pays 2%: Alex's commission is 2000.00) when NEW deliberately changes them (1.8%).
That failure is right - the shipped version still pays 2% - but HR needs to hear what it means:
which scenario pins which changed value (`engine.diff` says what changed), and the path for a
deliberate change: scope the old scenario to its version (`@version-<old>`), add the new one with
the new numbers (`@version-<new>`). docs/policy-changes.md tells the whole path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import features
from engine.diff import diff_policies
from engine.policy import Policy
from engine.problems import MeritInputError
from runtime.policies import load_library

_CHANGE = re.compile(r"^(?P<what>.*?):? (?P<before>\S+) -> (?P<after>.+)$")
_KEYWORDS = r"^\s*(Scenario|Scenario Outline|Example|Background|Rule|场景|场景大纲|剧本|剧本大纲|例子|背景|规则)\b"
_SCENARIO = re.compile(_KEYWORDS + r"|^\s*@")
_BODY = re.compile(_KEYWORDS)


NOT_VALUES = ("version ", "effective_from ", "effective_to ", "name ", "id ")
"""Diff lines that name the version itself, not a value a scenario computes with."""


@dataclass(frozen=True)
class FailedScenario:
    """A failed scenario as the cucumber report names it: its feature file, line and name."""

    uri: str
    line: int
    name: str


def shipped_counterpart(candidate: Policy) -> Policy | None:
    """The shipped version `candidate` is compared with: the same version if it is shipped (edited
    in place), else the one in force in the candidate's first month, else the latest."""
    folder = features.policy_library() / candidate.id
    if not folder.is_dir():
        return None
    try:
        shipped = load_library(str(folder)).policies
    except MeritInputError:
        return None
    same = [p for p in shipped if p.version == candidate.version]
    if same:
        return same[0]
    covering = [p for p in shipped if p.in_force(candidate.effective_from)]
    return (covering or sorted(shipped, key=lambda p: p.effective_from))[-1] if shipped else None


def _scenario_text(uri: str, line: int) -> str:
    """The scenario's lines (steps, comments, examples) and its feature's description."""
    folder = features.folder()
    path = next((p for p in (folder / uri, folder.parent / uri) if p.is_file()), folder / Path(uri).name)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    start = max(line - 1, 0)
    end = next((i for i in range(start + 1, len(lines)) if _SCENARIO.match(lines[i])), len(lines))
    head = next((i for i, text in enumerate(lines) if _BODY.match(text)), 0)  # the feature's description ends
    return "\n".join(lines[:head] + lines[start:end])


def _mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(word)}(?![\w%]|\.\d)", text) is not None


def labels(policy: Policy) -> dict[str, str]:
    """Tier and award ids -> the labels HR writes in scenarios (进阶激励奖 for `advanced`)."""
    tiers = policy.commission.tiers if policy.commission else ()
    return {x.id: x.label for x in (*tiers, *policy.awards)}


def pinned(text: str, change: str, names: dict[str, str] | None = None) -> bool:
    """Whether a scenario's text pins the value a diff line changes: it states the old value, or
    names the changed thing (a tier or award by its id or label) whose numbers it then computes."""
    found = _CHANGE.match(change)
    if found is None:
        return False
    before, what = found.group("before"), found.group("what").replace(":", " ").split()
    named = [w for w in what[1:3] if w not in ("tier", "award", "kpi", "rate", "bonus", "from", "to")]
    named += [(names or {})[n] for n in named if n in (names or {})]
    return _mentions(text, before.strip("'")) or any(_mentions(text, n) for n in named)


def report(candidate: Policy, failed: Sequence[FailedScenario]) -> list[str]:
    """The lines `merit test --policy` prints after the failed scenarios: which pin which changed
    values, and how to scope or update them. [] when there is nothing shipped to compare with."""
    shipped = shipped_counterpart(candidate)
    if shipped is None or not failed:
        return []
    changes = [c for c in diff_policies(shipped, candidate) if not c.startswith(NOT_VALUES)]
    if not changes:
        return []
    label = f"{candidate.id} {candidate.version}"
    out = [f"\n{label} changes these values of the shipped {shipped.version} (merit diff):"]
    out += [f"  {c}" for c in changes]
    out.append("Scenarios that pin a changed value (they compute the shipped version's numbers):")
    for f in dict.fromkeys(failed):  # a Scenario Outline fails once per example row: listed once
        text = _scenario_text(f.uri, f.line)
        pins = [c for c in changes if pinned(text, c, labels(shipped))]
        shown = "; ".join(pins) if pins else "names no changed value, yet fails under them: check its numbers by hand"
        out.append(f"  {f.uri}:{f.line} {f.name}: {shown}")
    new_tag = f"@version-{candidate.version}"
    old_tag = f"@version-{shipped.version}"
    if candidate.version == shipped.version:
        out.append(
            f"{label} edits a shipped version in place: a paid version never changes. Give the change a new"
            " version (a new file with its own version and effective_from), then:"
        )
        new_tag = "@version-<new version>"
    else:
        out.append("If the change is deliberate, keep the old numbers and add the new ones:")
    out += [
        f"  1. tag each scenario above {old_tag}: it keeps checking {shipped.version} and is skipped for others;",
        f"  2. add a copy with the new numbers, computed by hand, tagged {new_tag};",
        "  3. run `merit test` (the shipped library) and `merit test --policy NEW` again.",
        "  See docs/policy-changes.md. If the change is not deliberate, the new version is wrong: fix it.",
    ]
    return out


def failed_from_report(features_json: list[dict[str, object]]) -> list[FailedScenario]:
    """The failed scenarios of a cucumber JSON report."""
    out = []
    for feature in features_json:
        for scenario in feature.get("elements", []) or []:  # type: ignore[attr-defined]
            steps = scenario.get("steps", [])
            if any(s.get("result", {}).get("status") == "failed" for s in steps):
                out.append(FailedScenario(str(feature.get("uri", "")), int(scenario.get("line", 0)), scenario["name"]))
    return out
