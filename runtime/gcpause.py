"""Pause the cyclic garbage collector around one command's bulk work (the CLI only).

Loading and evaluating facts allocate millions of small objects without reference cycles; the
cyclic GC would rescan the growing heap over and over (measured: about a third of evaluation
time at 30,000 rep-months, half of a simulation's). Reference counting still frees everything.

This is process-wide state, so it lives outside the pure engine and only a short-lived process
may use it: `merit evaluate/simulate/sweep/plan`, and the Dask workers of `runtime.partitions`
without freezing (`freeze=False`: a cluster's workers outlive one run).
A long-running server must never pause or freeze the collector (objects frozen in a request
would never be collected again); `tests/test_memory.py` checks that the service path does not.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def gc_paused(freeze: bool = True) -> Iterator[None]:
    """Collector off for the block. `freeze=True` moves what survived out of the collector's
    sight (long-lived facts and results: the first collection would rescan all of it);
    `freeze=False` for work whose results are short-lived (a simulation answered and dropped)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if freeze:
                gc.freeze()
            gc.enable()


def gc_paused_command(func: Callable[P, R], freeze: bool = True) -> Callable[P, R]:
    """A CLI command run with the collector paused (see `gc_paused`): one process, one command."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with gc_paused(freeze):
            return func(*args, **kwargs)

    return run
