"""Problems found in user input, and the one exception that carries them.

HR fixes a policy or a fact file in one sitting only if every problem is reported at once with
its exact place, so checks collect `Problem`s instead of raising on the first one; the adapters
(CLI, API) turn a `MeritInputError` into an exit status or a 422 without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.errors import MeritError


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


class MeritInputError(MeritError):
    """Raised with every problem found, never with just the first."""

    def __init__(self, problems: Iterable[Problem], kind: str = "invalid-input") -> None:
        self.problems = sorted(set(problems), key=_problem_order)
        self.kind = kind
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, source: str, field: str, message: str, line: int | None = None) -> MeritInputError:
        """The error of a single problem: `raise MeritInputError.at("--set", text, "write ...")`."""
        return cls([Problem(source, line, None, field, message)])


def _problem_order(p: Problem) -> tuple[str, int, int, str, str]:
    return (p.source, p.line or 0, p.column or 0, p.field, p.message)
