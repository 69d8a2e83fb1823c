"""Checks on a fact table as a whole: groups a merged cell or a second spelling would split, and
amounts that look mis-entered (totals rows are `engine.facttotals`).

Amounts that look like 万元 are only hinted at: a guess never changes a figure.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from operator import attrgetter

from engine.factrow import FactRow
from engine.factsources import Table, located
from engine.factvalues import Value, as_text
from engine.problems import Problem


def merged_amounts(table: Table, position: Mapping[str, int], numbers: tuple[str, ...]) -> list[Problem]:
    """A number merged over several rows is refused: a merged target over a team's rows may be the
    team's target or each rep's, and filling it would pay every rep on the team's figure. (A merged
    region or month is one value for every row, and is filled.)"""
    columns = {position[n]: n for n in numbers if n in position}
    found = []
    for left, top, right, bottom in table.merges:
        for col in range(left, right + 1):
            if col in columns and bottom > top and top != table.header_line:
                name = columns[col]
                found.append(
                    located(
                        table.source,
                        top,
                        col,
                        name,
                        f"{name} is a merged cell over rows {top}-{bottom}: it may be the group's figure or each"
                        f" row's; unmerge it and write each row's {name}",
                    )
                )
    return found


def blank_keys(facts: list[FactRow]) -> list[tuple[FactRow, str, FactRow]]:
    """Rows left blank by a merged region (or product line): (row, column, the row that has the value).

    A merged region exported to CSV (or copied as values) leaves every row but the first of its
    block blank; those reps would drop out of their region's group and the group left behind would
    be judged on part of its reps, so a team award could be paid on the wrong sums. The signature:
    the file is in blocks of one value each (each value in one run, a blank continuing the run above
    it) and at least half of the rows are blanks below a value (a block of n reps leaves n-1). Other
    blanks are reps without a region, which the evaluation keeps out of every group, saying so on
    their lines.
    """
    found: list[tuple[FactRow, str, FactRow]] = []
    ordered = sorted(facts, key=attrgetter("row"))
    for column in ("region", "product_line"):
        if None not in map(attrgetter(column), ordered):
            continue  # no blank: nothing to find (most files, read a column at a time)
        runs: list[str] = []
        blanks: list[tuple[FactRow, FactRow]] = []
        above: FactRow | None = None
        for fact in ordered:
            value = getattr(fact, column)
            if value is None:
                if above is not None:
                    blanks.append((fact, above))
                continue
            if not runs or runs[-1] != value:
                runs.append(value)
            above = fact
        if len(blanks) >= max(2, len(ordered) - len(blanks)) and len(runs) == len(set(runs)):
            found.extend((fact, column, first) for fact, first in blanks)
    return found


def spelling_clashes(facts: list[FactRow]) -> list[tuple[FactRow, str, str]]:
    """Rows whose region (or product line) differs from another row's only by letter case or inner
    spacing (`east` beside `East`): (row, column, the spelling most rows use). Each spelling would
    form a group of its own, and each part would be judged for the team award on its own sums."""
    found: list[tuple[FactRow, str, str]] = []
    for column in ("region", "product_line"):
        spellings: dict[str, dict[str, int]] = defaultdict(dict)
        for value, count in Counter(map(attrgetter(column), facts)).items():  # each spelling once, in file order
            if value is not None:
                spellings["".join(value.split()).casefold()][value] = count
        for counts in spellings.values():
            if len(counts) > 1:
                usual = max(counts, key=lambda v: (counts[v], v))
                found.extend((f, column, usual) for f in facts if getattr(f, column) in counts.keys() - {usual})
    return found


def rep_case_clashes(facts: list[FactRow], source: str, column: int | None, row_word: str) -> list[Problem]:
    """One problem per rep id written in spellings that differ only by letter case (`r001` beside
    `R001`; `ｒ001` is `r001` once read, NFKC): each spelling would be paid as a rep of its own, and
    nobody reading the statements could tell which rep is which. The problem is located at the
    first row of the spelling that comes later and names every spelling with its rows."""
    reps = set(map(attrgetter("rep_id"), facts))
    if len(reps) == len(set(map(str.casefold, reps))):
        return []  # no two ids differ only by case (most files: the rows are not gone through)
    rows: dict[str, list[int]] = {}
    for fact in facts:
        rows.setdefault(fact.rep_id, []).append(fact.row)
    spellings: dict[str, list[str]] = defaultdict(list)
    for rep in rows:
        spellings[rep.casefold()].append(rep)
    found = []
    for same in spellings.values():
        if len(same) < 2:
            continue
        same.sort(key=lambda rep: rows[rep][0])
        later = same[-1]
        named = ", ".join(f"{rep!r} ({_rows_named(rows[rep], row_word)})" for rep in same[:-1])
        message = (
            f"rep_id {later!r} ({_rows_named(rows[later], row_word)}) and {named} differ only by letter case:"
            " they would be paid as different reps; write the id one way"
        )
        found.append(located(source, rows[later][0], column, "rep_id", message))
    return found


def _rows_named(rows: list[int], word: str) -> str:
    """`row 5`, `rows 2, 3`, or the first three and how many more."""
    shown = ", ".join(str(r) for r in rows[:3]) + (f" and {len(rows) - 3} more" if len(rows) > 3 else "")
    return f"{word}{'s' if len(rows) > 1 else ''} {shown}"


def amount_hints(facts: list[FactRow], cells: tuple[str, str] | None = None) -> list[str]:
    """Warnings (never changes) when amounts look entered in 万元 or rounded for display. `cells`:
    the first target and actual cells (D2, E2), so that the formula given works where it is pasted."""
    if len(facts) < 3:
        return []
    hints = []
    targets = [f.target for f in facts]
    if all(t < 10000 for t in targets) and all(f.actual < 10000 for f in facts):
        how = f"={cells[0]}*10000 for target, ={cells[1]}*10000 for actual" if cells else "multiply by 10000"
        hints.append(
            "every target and actual is under 10,000: if the sheet is in 万元 (ten thousands of yuan), convert"
            f" it to yuan first ({how}, filled down, pasted as values); Merit reads the amounts as yuan and pays"
            " on them as they are"
        )
    elif all(f.actual % 10000 == 0 for f in facts) and len(facts) >= 5:
        hints.append(
            "every actual is a whole multiple of 10,000: if the figures were rounded for display (a number"
            " format, or a copy of shown values), give the exact amounts; Merit pays on them as they are"
        )
    return hints


class TableWatch:
    """The whole-table signs above, watched from raw texts in a worker that checks only its own reps.

    A Dask worker (`runtime.partitions`) reads every row but builds only its reps', so it cannot run the
    checks above; this watch sees every row's texts and errs on the side of suspicion (amounts as
    floats, with a tolerance): a sign makes the worker step aside, and one process, reading the whole
    file, then finds and says exactly what is wrong, or evaluates it when nothing is.
    """

    def __init__(self, position: Mapping[str, int], reps: Callable[[str], bool]) -> None:
        self.at = {n: position.get(n) for n in ("rep_id", "period", "target", "actual", "region", "product_line")}
        self.reps = reps
        #: rep ids by their case-folded form, for the folds this worker answers for (`reps(fold)`):
        #: every spelling of one fold is seen by the one worker that owns the fold.
        self.folds: dict[str, str] = {}
        #: rep id as written -> whether it is this worker's: a rep's other months cost one lookup
        #: instead of the range search and the fold (100,000 reps x 3 months: same CPU as without
        #: the fold check, +7 MB peak for a worker).
        self.seen: dict[str, bool] = {}
        self.case_clash = False
        self.keys: dict[str, dict[str, set[str]]] = {"region": defaultdict(set), "product_line": defaultdict(set)}
        self.runs: dict[str, list[str]] = {"region": [], "product_line": []}
        self.blanks = {"region": 0, "product_line": 0}
        self.rows = 0
        self.months: dict[str, list[float]] = {}  # period -> [count, sum t, sum a, first t, first a, last t, last a]

    def row(self, cells: Mapping[int, Value] | list[str]) -> bool:
        """Watch a row; whether it is this worker's own (its rep_id accepted by `reps`)."""
        if isinstance(cells, list):  # a CSV record: its texts by position, without building a mapping
            width = len(cells)

            def text_at(col: int | None) -> str:
                return cells[col - 1].strip() if col is not None and col <= width else ""
        else:

            def text_at(col: int | None) -> str:
                return (as_text(cells.get(col)) or "") if col is not None else ""

        self.rows += 1
        rep = text_at(self.at["rep_id"])
        mine = self.seen.get(rep)
        if mine is None:  # a rep's first row (its other months cost one lookup)
            plain = rep if rep.isascii() else unicodedata.normalize("NFKC", rep)
            fold = plain.casefold()
            if self.reps(fold) and self.folds.setdefault(fold, plain) != plain:
                self.case_clash = True
            mine = self.seen[rep] = self.reps(plain)  # as the checker keys it (NFKC): Ｒ1 is R1's pass
        self._texts(text_at)
        return mine

    def _texts(self, text_at: Callable[[int | None], str]) -> None:
        for column in ("region", "product_line"):
            text = text_at(self.at[column])
            runs = self.runs[column]
            if not text:
                self.blanks[column] += 1 if runs else 0
                continue
            self.keys[column]["".join(text.split()).casefold()].add(text)
            if not runs or runs[-1] != text:
                runs.append(text)
        period, target, actual = (text_at(self.at[n]) for n in ("period", "target", "actual"))
        try:
            t, a = float(target.replace(",", "")), float(actual.replace(",", ""))
        except ValueError:
            return
        month = self.months.setdefault(period, [0, 0.0, 0.0, t, a, t, a])
        month[0] += 1
        month[1] += t
        month[2] += a
        month[5], month[6] = t, a

    def suspicious(self) -> bool:
        if self.case_clash:
            return True
        for column in ("region", "product_line"):
            runs = self.runs[column]
            if self.blanks[column] >= max(2, self.rows - self.blanks[column]) and len(runs) == len(set(runs)):
                return True
            if any(len(spellings) > 1 for spellings in self.keys[column].values()):
                return True
        for count, sum_t, sum_a, *ends in self.months.values():
            for t, a in (ends[:2], ends[2:]):
                if (
                    count >= 4
                    and abs(2 * t - sum_t) <= 1e-6 * abs(sum_t) + 0.01
                    and abs(2 * a - sum_a) <= (1e-6 * abs(sum_a) + 0.01)
                ):
                    return True
        return False
