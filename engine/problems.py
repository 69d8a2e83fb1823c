"""Problems found in user input, and the one exception that carries them.

HR fixes a policy or a fact file in one sitting only if every problem is reported at once with
its exact place, so checks collect `Problem`s instead of raising on the first one; the adapters
(CLI, API) turn a `MeritInputError` into an exit status or a 422 without a traceback.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from engine.errors import MeritError

#: Problems listed in full; beyond them only a count by kind is kept (a 19 MB file of bad rows
#: once made a 538 MB answer). A person fixes the first thousand and runs again.
MAX_PROBLEMS = 1000


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input, located as precisely as the input format allows."""

    source: str
    line: int | None
    column: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "message": self.message,
        }

    @property
    def kind(self) -> str:
        """What the count of problems beyond the listed ones is grouped by: the field, or the file."""
        return self.field or "file"


class ProblemList(list[Problem]):
    """A list that keeps the first `limit` problems appended and counts the rest by kind.

    Checks append as they go, in file order, so memory stays bounded however bad the file is.
    """

    def __init__(self, limit: int = MAX_PROBLEMS) -> None:
        super().__init__()
        self.limit = limit
        self.omitted: Counter[str] = Counter()

    def append(self, problem: Problem) -> None:
        if len(self) < self.limit:
            super().append(problem)
        else:
            self.omitted[problem.kind] += 1

    def __bool__(self) -> bool:
        return len(self) > 0


class MeritInputError(MeritError):
    """Raised with every problem found (the first `MAX_PROBLEMS`, and a count by kind of the rest)."""

    def __init__(self, problems: Iterable[Problem], kind: str = "invalid-input") -> None:
        ordered = sorted(set(problems), key=_problem_order)
        self.omitted: Counter[str] = Counter(getattr(problems, "omitted", {}))
        for p in ordered[MAX_PROBLEMS:]:
            self.omitted[p.kind] += 1
        self.problems = ordered[:MAX_PROBLEMS]
        self.kind = kind
        lines = [str(p) for p in self.problems]
        if self.omitted:
            lines.append(self.omitted_text())
        super().__init__("\n".join(lines))

    @property
    def total(self) -> int:
        """How many problems were found, listed or not."""
        return len(self.problems) + sum(self.omitted.values())

    def omitted_text(self) -> str:
        counts = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.omitted.items()))
        return f"... and {sum(self.omitted.values())} more problems not listed ({counts})"

    @classmethod
    def at(cls, source: str, field: str, message: str, line: int | None = None) -> MeritInputError:
        """The error of a single problem: `raise MeritInputError.at("--set", text, "write ...")`."""
        return cls([Problem(source, line, None, field, message)])


def _problem_order(p: Problem) -> tuple[str, int, int, str, str]:
    return (p.source, p.line or 0, p.column or 0, p.field, p.message)
