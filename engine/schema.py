"""The shape check: a policy document against `schemas/policy.schema.json`, every error located.

The schema is the one written description of the policy format (it is published for editors and
the future API too), so the loader uses it rather than re-coding the shape in Python. jsonschema's
own messages are written for programmers ("'rate' is a required property", "Additional properties
are not allowed"); HR needs the field, the place in the file and what to write instead, so each
error is rewritten here, and ALL of them are reported in one pass. `Decimal` (how `yamlsource`
reads YAML numbers such as 0.015) counts as a JSON number.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.validators import extend

from engine.problems import Problem
from engine.yamlsource import YamlDocument, field_path
from schemas import POLICY, load_schema

_TYPE_NAMES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "object": "a mapping (name: value lines)",
    "array": "a list",
    "boolean": "true or false",
    "null": "empty",
}


def _is_number(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int | float | Decimal) and not isinstance(instance, bool)


@cache
def _validator() -> Draft202012Validator:
    schema = load_schema(POLICY)  # package data, the same in a checkout and an installed wheel
    Draft202012Validator.check_schema(schema)
    checker = Draft202012Validator.TYPE_CHECKER.redefine("number", _is_number)
    cls = extend(Draft202012Validator, type_checker=checker)
    return cls(schema)


def schema_problems(doc: YamlDocument) -> list[Problem]:
    """Every way `doc.data` departs from the policy schema, located in the source text."""
    problems: dict[Problem, None] = {}
    for error in _validator().iter_errors(doc.data):
        for problem in _problems_for(doc, error):
            problems[problem] = None
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0, p.field, p.message))


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _custom(error: ValidationError) -> str | None:
    messages = error.schema.get("x-messages") if isinstance(error.schema, dict) else None
    if isinstance(messages, dict):
        text = messages.get(str(error.validator))
        return str(text) if text is not None else None
    return None


def _problems_for(doc: YamlDocument, error: ValidationError) -> Iterator[Problem]:
    path = tuple(error.absolute_path)
    keyword = str(error.validator)
    instance = error.instance
    if "propertyNames" in error.schema_path:
        yield doc.problem(
            (*path, str(instance)),
            f"the name {instance!r} must be lower-case letters, digits and '_', e.g. achievement",
            at_key=True,
        )
        return
    if keyword == "additionalProperties" and isinstance(instance, dict):
        allowed = list(error.schema.get("properties", {}))
        for key in instance:
            if key in allowed:
                continue
            hint = difflib.get_close_matches(key, allowed, n=1)
            message = f"unknown field {key!r}"
            message += f"; did you mean {hint[0]!r}?" if hint else f" (allowed here: {', '.join(allowed)})"
            yield doc.problem((*path, key), message, at_key=True)
        return
    if keyword == "required" and isinstance(instance, dict):
        custom = _custom(error)
        match = re.match(r"^'(.+)' is a required property$", error.message)
        names = [match.group(1)] if match else [n for n in error.validator_value if n not in instance]
        for name in names:
            line, column = doc.locate(path)
            message = custom or "is required but missing"
            yield Problem(doc.source, line, column, field_path((*path, name)), message)
        return
    yield doc.problem(path, _message(error, keyword, instance))


def _message(error: ValidationError, keyword: str, instance: Any) -> str:
    custom = _custom(error)
    if custom:
        return custom if isinstance(instance, dict | list) else f"{custom} (got {_describe(instance)})"
    value = error.validator_value
    if keyword == "type":
        wanted = value if isinstance(value, list) else [value]
        names = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in wanted)
        message = f"must be {names} (got {_describe(instance)})"
        if "string" in wanted and isinstance(instance, bool | int | Decimal):
            message += "; put it in quotes"
        return message
    if keyword == "enum":
        return f"must be one of {', '.join(str(v) for v in value)} (got {_describe(instance)})"
    if keyword == "const":
        return f"must be {value} (got {_describe(instance)})"
    if keyword == "minItems":
        return f"needs at least {value} {'entry' if value == 1 else 'entries'}"
    if keyword == "uniqueItems":
        return "lists the same value more than once"
    if keyword == "minLength":
        return "must not be empty"
    if keyword == "minimum":
        return f"must be at least {value} (got {_describe(instance)})"
    if keyword == "pattern":
        return f"is not in the expected form (got {_describe(instance)})"
    return error.message
