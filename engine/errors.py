"""The one root of every error Merit raises on purpose: `MeritError`.

An adapter (the CLI, the API, a worker pool) has to tell "Merit refused or could not do this, and
says why" from "a bug": the first becomes an exit status or a problem document with Merit's own
words, the second a logged traceback. With one root it catches `MeritError` once instead of
keeping a list of classes in step with the engine. Beneath it:

* `engine.problems.MeritInputError`: the located-input family (policy, facts, arguments: every
  problem with its place, reported at once);
* `engine.rules.RuleEngineError`: the rule engine misbehaved (a fact matched no or several rules);
* `engine.xlsx.XlsxError`: bytes that are not a workbook this reader can read;
* `engine.crossline.InexactSum`: a cross-line sum was rounded (arithmetic);
* the worker pool's `WorkerError` (worker processes out of step or gone).

Each keeps the built-in base it had (`RuntimeError`, `ValueError`, `ArithmeticError`) as a second
base, so code that catches those still does.
"""

from __future__ import annotations


class MeritError(Exception):
    """Root of Merit's own errors: catch this to tell Merit's refusals from bugs."""
