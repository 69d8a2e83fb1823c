"""Which policy a scenario checks: the tags of HR's features (policy ids and `@version-V`).

A feature is tagged, above its `Feature:` / `功能:` line, with the id of every policy whose rules
its scenarios state. Most state the handbook as `sales-incentive` pays it; the 成单 scenarios hold
for `sales-incentive` (given the rule the scenario states) and for `sales-incentive-deals` (whose
`crediting` block is that rule) alike, so that feature carries both ids. A scenario then runs:

* against a candidate (`merit test --policy FILE`, the service's gate) when the candidate's id is
  one of its feature's policy tags, and is skipped otherwise;
* against the library (`policies/<id>/`) of the one tagged policy the library has; a scenario
  whose policies are none of the library's is skipped, saying how to check it (`--policy`).

Version tags are `features.acceptance`'s (a scenario depending on one version's own numbers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pytest

VERSION_TAG = "version-"
_TAG = re.compile(r"(?<!\S)@([^\s@]+)")
_FEATURE_LINE = re.compile(r"^\s*(?:Feature|功能)\s*:", re.MULTILINE)


def feature_tags(text: str) -> set[str]:
    """The policy ids a feature file is tagged with (the tags above its Feature line)."""
    head = _FEATURE_LINE.split(text, maxsplit=1)[0]
    return {t for t in _TAG.findall(re.sub(r"#.*", "", head)) if not t.startswith(VERSION_TAG)}


def policy_tags(features: Iterable[Path]) -> frozenset[str]:
    """Every policy id some feature is tagged with."""
    return frozenset(t for f in features for t in feature_tags(f.read_text(encoding="utf-8")))


def register(config: pytest.Config, features: Iterable[Path]) -> None:
    """Declare the features' policy-id and version tags as pytest markers (--strict-markers: these
    are data, not typos); any other unknown tag on a scenario still fails."""
    known = {line.split(":")[0].strip() for line in config.getini("markers")}
    for feature in features:
        text = feature.read_text(encoding="utf-8")
        ids = feature_tags(text)
        for tag in _TAG.findall(text):
            if tag in known:
                continue
            if tag.startswith(VERSION_TAG):
                config.addinivalue_line("markers", f"{tag}: scenario depends on policy version {tag[8:]}")
            elif tag in ids:
                config.addinivalue_line("markers", f"{tag}: HR scenarios for the {tag} policy")
            else:
                continue
            known.add(tag)


def scenario_policy(marks: set[str], known: frozenset[str], candidate_id: str | None, library: Path) -> str:
    """The policy id a scenario with these marks is checked against (skips or fails the scenario
    when there is none: see the module's docstring)."""
    ids = sorted(marks & known)
    if not ids:
        pytest.fail("a feature must be tagged with the id of the policy it checks (e.g. @sales-incentive)")
    if candidate_id is not None:
        if candidate_id not in ids:
            pytest.skip(f"scenario is for policy {', '.join(ids)}, the candidate is {candidate_id}")
        return candidate_id
    shipped = [i for i in ids if (library / i).is_dir()]
    if len(shipped) > 1:
        pytest.fail(f"scenario is tagged with several policies of the library ({', '.join(shipped)}): keep one")
    if not shipped:
        pytest.skip(
            f"scenario is for policy {', '.join(ids)}, not in {library}: check it with `merit test --policy FILE`"
        )
    return shipped[0]
