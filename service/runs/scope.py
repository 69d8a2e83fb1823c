"""Whose result lines a manager sees: each line by its own region.

A quarter result rolls up a rep's months, and names the region of the rep's last month. A rep who
moved from East to South in August was shown, months and all, to the South manager and not at
all to the East manager. A manager now sees a quarter line when all its months were in their
regions, and otherwise just the rep's month lines that were, as lines of their own: a quarter
line's sums (target, actual, rank) would show another region's figures - every line is scoped by
its own region, and only HR sees a mixed quarter whole.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from typing import Any

_PARSED: OrderedDict[str, dict[str, Any]] = OrderedDict()
_PARSED_LOCK = threading.Lock()
PARSED_KEPT = 8
"""Results documents kept parsed (by their sha256) for scoped views."""
BY_REP = "\x00by_rep"  # a key no JSON document of the engine has: the result lines per rep id


def parsed_results(sha256: str, load: Callable[[], bytes]) -> dict[str, Any]:
    """The results document with this sha256, parsed once per process (it never changes).

    A rep's or manager's view is cut from the whole document; parsing a 2 MB document per request
    cost more than everything else in it. The caller must not change the returned document, and
    must leave out its `BY_REP` key (the lines per rep id) when writing it."""
    with _PARSED_LOCK:
        doc = _PARSED.get(sha256)
        if doc is not None:
            _PARSED.move_to_end(sha256)
            return doc
    doc = json.loads(load())
    by_rep: dict[str, list[Any]] = {}
    for line in doc.get("results", []):
        if isinstance(line, dict):
            by_rep.setdefault(str(line.get("rep_id")), []).append(line)
    doc = {**doc, BY_REP: by_rep}
    with _PARSED_LOCK:
        _PARSED[sha256] = doc
        while len(_PARSED) > PARSED_KEPT:
            _PARSED.popitem(last=False)
    return doc


def _mine(line: dict[str, Any], regions: Collection[str]) -> bool:
    return line.get("region") in regions


def manager_lines(results: list[Any], regions: Collection[str]) -> list[dict[str, Any]]:
    """The result lines of `results` (the engine's results document) a manager of `regions` sees."""
    out: list[dict[str, Any]] = []
    for line in results:
        if not isinstance(line, dict):
            continue
        months = [m for m in line.get("months") or () if isinstance(m, dict)]
        if _mine(line, regions) and all(_mine(m, regions) for m in months):
            out.append(line)
        else:  # a quarter with months elsewhere: its sums hold another region's figures
            out.extend(m for m in months if _mine(m, regions))
    return out


def manager_csv_reps(results: list[Any], regions: Collection[str], reps: set[str]) -> set[str]:
    """The reps whose rows of the results CSV a manager of `regions` sees. The CSV has one row per
    result line and no month rows, so a quarter row is shown only when `manager_lines` shows that
    quarter line whole (all its months in their regions); `reps` (by the run's regions) otherwise."""
    quarters = [ln for ln in results if isinstance(ln, dict) and ln.get("months")]
    if not quarters:
        return reps
    return {str(ln["rep_id"]) for ln in manager_lines(quarters, regions) if ln.get("months")}


def line_regions(results: list[Any]) -> dict[tuple[str, str], str | None]:
    """(rep_id, period) -> that line's own region, month lines included (for payout lines)."""
    out: dict[tuple[str, str], str | None] = {}
    for line in results:
        for ln in (*(getattr(line, "months", None) or ()), line):
            out[(ln.rep_id, str(ln.period))] = ln.region
    return out


OWN_RULES = ("light.", "tier.", "rating.", "credited.")
"""Rules decided on the rep's own figures alone (and the rep's own credited deals); every other
rule (group and rank awards, eligibility with a rank) is decided on team-wide figures."""
WITHHELD = "(decided on team-wide figures, which a rep's view does not show)"


def rep_sentence(sentence: str) -> str:
    """An explanation sentence as a rep may read it: a sentence of a rule decided on team-wide
    figures (a region's sums, a company rank, the number ranked) keeps its rule id and outcome only.

    `[award:team_collaboration.none] region East (2 reps, actual 175000.00, ...): ... -> no 团队协作奖`
    becomes `[award:team_collaboration.none] (decided on team-wide figures, ...) -> no 团队协作奖`.
    """
    head, sep, rest = sentence.partition("] ")
    if not sep or not head.startswith("[") or head[1:].startswith(OWN_RULES):
        return sentence
    _, arrow, outcome = rest.rpartition(" -> ")
    return f"{head}] {WITHHELD}" + (f" -> {outcome}" if arrow else "")


def rep_line(line: Any) -> Any:
    """A result line (and its months) as its own rep sees it: explanations without team-wide
    figures; every other field is the rep's own. A copy: the parsed document is shared."""
    if not isinstance(line, dict):
        return line
    out = dict(line)
    if isinstance(out.get("explanation"), list):
        out["explanation"] = [rep_sentence(s) if isinstance(s, str) else s for s in out["explanation"]]
    if isinstance(out.get("months"), list):
        out["months"] = [rep_line(m) for m in out["months"]]
    return out
