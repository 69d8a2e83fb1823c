"""Checking a large fact file with bounded memory: the engine's own loader, pass by pass over the reps.

A fact row built by the engine costs about 1 KB (its values are `Decimal`s and texts): a
5,000,000-row file would need 5 GB to hold at once, and an import keeps none of them (it stores
the bytes; a run reads them again). So a CSV of more than `PART_BYTES` is checked in passes, as
the Dask workers read a file (`runtime.partitions`): every pass reads the whole file (decoded a
few kilobytes at a time) but checks and builds only the rows of one range of rep ids, and only
one pass's rows are alive at a time. A rep's rows all fall in the same range, so a rep_id given
twice for a month is found in its pass. What the import records (row count, months, columns,
regions, notes) is gathered pass by pass; the problems of all passes are merged, in file order,
bounded like one pass's (`MAX_PROBLEMS` listed, the rest counted).

Checks that need every row at once (a region blank below a merged cell, two spellings of one
region, totals rows without a label) are not made by a pass; a pass watches for their signs in
the raw texts instead (`engine.factchecks.TableWatch`, erring on the side of suspicion), and when
one saw a sign the file is read once more in one piece, which finds exactly what is wrong (or
accepts it): a file suspected so holds its rows at once, as every file did before.

Smaller files, workbooks and JSON are checked in one pass, exactly as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from engine.facts import FactSet, ReadOptions
from engine.problems import MeritInputError, Problem
from runtime.partitions import range_of, split_points
from service.engine_gate import load_facts

PART_BYTES = 48 * 1024 * 1024  # ~600,000 rows of a plain CSV, ~700 MB of built rows: one pass's worth
_SPLIT = (".csv", ".txt")
WHOLE_FILE = "the whole file needs checking in one process"  # a pass saw a sign only the whole file can judge


@dataclass(frozen=True)
class Checked:
    """What an import records of a valid fact file."""

    rows: int
    periods: list[str]
    columns: list[str]
    regions: list[str]
    rep_ids: list[str]  # the reps the rows name (a token's --rep-id is checked against them)
    notes: tuple[str, ...]


def passes(data: bytes, filename: str, part_bytes: int | None = None) -> list[str] | None:
    """The rep ids splitting the file into passes, or None to read it in one (small, not a CSV)."""
    part_bytes = part_bytes or PART_BYTES
    if len(data) <= part_bytes or not filename.lower().endswith(_SPLIT):
        return None
    splits = split_points(data, -(-len(data) // part_bytes))
    return splits or None


def check_facts(data: bytes, filename: str, options: ReadOptions, part_bytes: int | None = None) -> Checked:
    """Check the file as `load_facts` would (raising its `MeritInputError`), one range of reps at a time."""
    splits = passes(data, filename, part_bytes)
    if splits is None:
        return _summary(load_facts(data, filename, options=options))
    found: list[Checked] = []
    problems: list[Problem] = []
    omitted: Counter[str] = Counter()
    for k in range(len(splits) + 1):
        try:
            found.append(_summary(load_facts(data, filename, options=options, reps=_in_range(splits, k))))
        except MeritInputError as err:
            if err.kind != "invalid-input":  # too many rows: the same row in every pass
                raise
            if any(p.message == WHOLE_FILE for p in err.problems):
                return _summary(load_facts(data, filename, options=options))  # the exact problems, or none
            problems.extend(p for p in err.problems if p not in problems)
            omitted.update(err.omitted)
            if all(p.line is None for p in err.problems):  # the file's own (header, encoding): every pass's
                break
    if problems:
        merged = MeritInputError(problems)
        merged.omitted.update(omitted)
        raise merged
    notes: list[str] = []
    for part in found:  # a hint about every amount holds for the file only when every pass gave it
        notes.extend(n for n in part.notes if n not in notes and (not n.startswith(_EVERY) or _in_all(found, n)))
    return Checked(
        rows=sum(p.rows for p in found),
        periods=sorted({m for p in found for m in p.periods}),
        columns=found[0].columns,
        regions=sorted({r for p in found for r in p.regions}),
        rep_ids=sorted({r for p in found for r in p.rep_ids}),
        notes=tuple(notes),
    )


_EVERY = ("every target and actual", "every actual is", "the amounts are written with thousands separators")
"""The notes `engine.facts` makes of all of a file's amounts (`amount_hints`, display rounding)."""


def _in_all(found: list[Checked], note: str) -> bool:
    return all(note in part.notes for part in found)


def _in_range(splits: list[str], k: int) -> Callable[[str], bool]:
    return lambda rep_id: range_of(splits, rep_id) == k


def _summary(facts: FactSet) -> Checked:
    return Checked(
        rows=len(facts.rows),
        periods=list(facts.periods),
        columns=list(facts.columns),
        regions=sorted({r.region for r in facts.rows if r.region}),
        rep_ids=sorted({r.rep_id for r in facts.rows if r.rep_id}),
        notes=tuple(facts.notes),
    )
