"""The compiler front end: a policy's text becomes a `Policy` through a named, ordered list of stages.

    yaml -> schema -> lint -> build

Like OPA's compiler, which keeps its stages in one ordered list of (name, function), the whole
front end is `STAGES`: a reader finds every gate a policy passes, in order, in one place, and a
tool can stop after any of them (`compile_policy(text, source, until="lint")` checks a document
without building it). Each stage reads and extends one `Compilation`; a stage that finds problems
raises `MeritInputError` with all of them, and no later stage runs, because each stage trusts what
the earlier ones accepted (the linter only sees schema-valid shapes, the builder only meaningful
documents).

Pure: the front end takes text (or bytes) and a source name for locating problems; reading files
and folders is `runtime.policies`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.build import build_policy
from engine.lint import lint_document
from engine.policy import Policy
from engine.problems import MeritInputError, Problem
from engine.schema import schema_problems
from engine.yamlsource import YamlDocument, load_yaml_document


@dataclass
class Compilation:
    """What the stages know so far about one policy text; each stage fills in its part."""

    text: str
    source: str
    document: YamlDocument | None = None
    policy: Policy | None = None

    def parsed(self) -> YamlDocument:
        """The document the yaml stage parsed: every later stage reads it, none may run before."""
        assert self.document is not None, "the yaml stage runs first"
        return self.document


@dataclass(frozen=True)
class Stage:
    """One named step of the front end."""

    name: str
    run: Callable[[Compilation], None]


def _yaml(c: Compilation) -> None:
    """Safe YAML with the position of every value (`engine.yamlsource`)."""
    c.document = load_yaml_document(c.text, c.source)


def _refuse(problems: list[Problem]) -> None:
    """A stage's problems stop the compilation: later stages trust what this one accepted."""
    if problems:
        raise MeritInputError(problems, kind="invalid-policy")


def _schema(c: Compilation) -> None:
    """The shape, against `schemas/policy.schema.json` (`engine.schema`)."""
    _refuse(schema_problems(c.parsed()))


def _lint(c: Compilation) -> None:
    """The meaning: tiers that overlap, bands with gaps, weights that do not add up (`engine.lint`)."""
    _refuse(lint_document(c.parsed()))


def _build(c: Compilation) -> None:
    """The typed, immutable model (`engine.build`)."""
    c.policy = build_policy(c.parsed().data, c.source, c.text)


STAGES: tuple[Stage, ...] = (
    Stage("yaml", _yaml),
    Stage("schema", _schema),
    Stage("lint", _lint),
    Stage("build", _build),
)
STAGE_NAMES = tuple(stage.name for stage in STAGES)


def compile_policy(text: str, source: str, *, until: str = "build") -> Compilation:
    """Run the stages in order up to and including `until`; MeritInputError at the first stage
    that finds problems, with every problem that stage found, located in `source`."""
    if until not in STAGE_NAMES:
        raise ValueError(f"no stage {until!r}; the stages are {', '.join(STAGE_NAMES)}")
    compilation = Compilation(text, source)
    for stage in STAGES:
        stage.run(compilation)
        if stage.name == until:
            break
    return compilation


def parse_policy(text: str, source: str) -> Policy:
    """YAML text -> Policy, or MeritInputError with every problem of the first stage that failed."""
    policy = compile_policy(text, source).policy
    assert policy is not None
    return policy


def decode_policy(data: bytes, source: str) -> Policy:
    """A policy file's bytes (UTF-8, with or without a byte-order mark) -> Policy.

    Bytes rather than text because that is what a file or an upload holds, and "not UTF-8" is a
    problem HR must be told about like any other, located at the file.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MeritInputError([Problem(source, None, None, "", f"not UTF-8 text: {exc.reason}")]) from None
    return parse_policy(text, source)
