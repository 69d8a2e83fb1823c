"""Safe YAML for policies: plain data, exact decimals, and the line and column of every value.

Why not `yaml.safe_load`: it turns `0.015` into a float (money must never pass through a float),
silently keeps the last of two duplicate keys, expands anchors and aliases (alias bombs), and
forgets where each value was written, so later checks could not say "line 23, column 7". Here the
text is composed into nodes (SafeLoader resolution, so `yes`, `3`, `0.5` mean what YAML says), every
explicit tag, anchor, alias, duplicate key, second document and over-large text is refused as a
located `Problem`, and the nodes are turned into plain dicts, lists, str, int, bool, None and
`Decimal` (built from the scalar's text). Mapping keys are always strings (their text). No input,
however broken, escapes as anything but a `MeritInputError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, NodeEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.problems import MeritInputError, Problem

MAX_BYTES = 1_000_000
MAX_DEPTH = 64

Path = tuple[str | int, ...]

_YAML_TAG = "tag:yaml.org,2002:"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"


def field_path(path: Path) -> str:
    """A readable path for HR: `commission.tiers[1].rate`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class YamlDocument:
    """One policy document: its plain `data`, where it came from, and where each value was written."""

    data: Any
    source: str
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict, repr=False)
    key_positions: dict[Path, tuple[int, int]] = field(default_factory=dict, repr=False)

    def locate(self, path: tuple[str | int, ...] | Any) -> tuple[int, int]:
        """1-based (line, column) of the value at `path`, or of its nearest existing ancestor."""
        parts = tuple(path)
        for n in range(len(parts), -1, -1):
            pos = self.positions.get(parts[:n])
            if pos is not None:
                return pos
        return (1, 1)

    def locate_key(self, path: tuple[str | int, ...] | Any) -> tuple[int, int]:
        """Position of the key that introduces `path` (for "unknown field" problems), else `locate`."""
        parts = tuple(path)
        return self.key_positions.get(parts) or self.locate(parts)

    def problem(self, path: tuple[str | int, ...] | Any, message: str, *, at_key: bool = False) -> Problem:
        """A `Problem` located at the value (or key) at `path`, with a readable field name."""
        parts = tuple(path)
        line, column = self.locate_key(parts) if at_key else self.locate(parts)
        return Problem(self.source, line, column, field_path(parts), message)


class _Refused(Exception):
    """Stops composing at once (depth limit); carries the located problem."""

    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class _Loader(yaml.SafeLoader):
    """SafeLoader that records, instead of honouring, explicit tags, anchors and aliases."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.refusals: list[tuple[Any, str]] = []
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            self.get_event()
            self.refusals.append(
                (event.start_mark, f"aliases (*{event.anchor}) are not allowed: write the value out in full")
            )
            start: Any = event.start_mark
            end: Any = event.end_mark
            return ScalarNode(_NULL, "", start, end)
        if isinstance(event, NodeEvent):
            if event.anchor is not None:
                self.refusals.append(
                    (
                        event.start_mark,
                        f"anchors (&{event.anchor}) are not allowed: write each value out in full",
                    )
                )
                event.anchor = None
            tag = getattr(event, "tag", None)
            if tag is not None:
                shown = "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag
                self.refusals.append((event.start_mark, f"explicit tags ({shown}) are not allowed: write plain values"))
                event.tag = None  # type: ignore[attr-defined]
                if isinstance(event, CollectionStartEvent):
                    event.implicit = True
                else:
                    event.implicit = (True, False)  # type: ignore[attr-defined]
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(event.start_mark, f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _pos(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


def _reader_position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


_SURROGATE = re.compile("[\ud800-\udfff]")


class _Builder:
    """Nodes -> plain data, recording positions and collecting problems."""

    def __init__(self, loader: _Loader, source: str) -> None:
        self.loader = loader
        self.source = source
        self.problems: list[Problem] = []
        self.positions: dict[Path, tuple[int, int]] = {}
        self.key_positions: dict[Path, tuple[int, int]] = {}

    def problem(self, mark: Any, path: Path, message: str) -> None:
        line, column = _pos(mark)
        self.problems.append(Problem(self.source, line, column, field_path(path), message))

    def build(self, node: Node, path: Path) -> Any:
        self.positions[path] = _pos(node.start_mark)
        if isinstance(node, MappingNode):
            out: dict[str, Any] = {}
            first_seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    self.problem(key_node.start_mark, path, "a key must be a plain name, not a list or mapping")
                    continue
                key = str(key_node.value)
                if _SURROGATE.search(key):
                    self.problem(key_node.start_mark, path, "a key contains a lone surrogate escape, which is not text")
                    continue
                child = (*path, key)
                if key in first_seen:
                    self.problem(
                        key_node.start_mark,
                        child,
                        f"duplicate key {key!r} (first written on line {first_seen[key]})",
                    )
                    continue
                first_seen[key] = key_node.start_mark.line + 1
                self.key_positions[child] = _pos(key_node.start_mark)
                out[key] = self.build(value_node, child)
            return out
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        return self.scalar(node, path)

    def scalar(self, node: ScalarNode, path: Path) -> Any:
        tag, text = node.tag, str(node.value)
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return self.loader.construct_yaml_bool(node)
        if tag == _INT:
            try:
                return self.loader.construct_yaml_int(node)
            except (ValueError, TypeError):
                self.problem(node.start_mark, path, f"{text!r} is not a number")
                return text
        if tag == _FLOAT:
            if ":" in text:
                self.problem(node.start_mark, path, f"{text!r}: write numbers as plain decimals, e.g. 0.015")
                return text
            try:
                value = Decimal(text.replace("_", ""))
            except InvalidOperation:
                value = Decimal("NaN")
            if not value.is_finite():
                self.problem(node.start_mark, path, f"{text!r} is not a finite number")
                return text
            return value
        if _SURROGATE.search(text):
            # "\ud800" in a double-quoted scalar: not a character, cannot be stored, hashed or shown
            self.problem(node.start_mark, path, "contains a lone surrogate escape (\\uD800-\\uDFFF), which is not text")
            return ""
        return text  # str, and timestamps (2026-07-01) kept as written for the schema to judge


def load_yaml_document(text: str, source: str) -> YamlDocument:
    """Parse one policy document; raise `MeritInputError` with every located problem found."""

    def refuse(line: int | None, column: int | None, message: str) -> MeritInputError:
        return MeritInputError([Problem(source, line, column, "", message)], kind="invalid-policy")

    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_BYTES:
        raise refuse(None, None, f"file is too large ({size} bytes; a policy may have at most {MAX_BYTES})")
    loader: _Loader | None = None
    try:
        try:
            loader = _Loader(text)
            root = loader.get_single_node()
        except _Refused as exc:
            raise refuse(*_pos(exc.mark), exc.message) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = exc.problem or "invalid YAML"
            if "expected a single document" in (exc.context or ""):
                message = "only one YAML document is allowed per policy file (remove the second '---')"
            elif exc.context and exc.context_mark is not None and exc.context_mark is not mark:
                message = f"{message} ({exc.context} on line {exc.context_mark.line + 1})"
            elif exc.context:
                message = f"{exc.context}: {message}"
            line, column = _pos(mark) if mark is not None else (None, None)
            raise refuse(line, column, f"invalid YAML: {message}") from None
        except yaml.reader.ReaderError as exc:
            line, column = _reader_position(text, exc.position)
            raise refuse(line, column, f"invalid YAML: {exc.reason} (character U+{int(exc.character):04X})") from None
        except yaml.YAMLError as exc:
            raise refuse(None, None, f"invalid YAML: {exc}") from None
        except RecursionError:
            raise refuse(None, None, "invalid YAML: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    assert loader is not None
    problems = [Problem(source, *_pos(mark), "", message) for mark, message in loader.refusals]
    if root is None:
        raise refuse(1, 1, "the file is empty: a policy is a YAML mapping (id: ..., version: ...)")
    if not isinstance(root, MappingNode):
        kind = "a list" if isinstance(root, SequenceNode) else "a single value"
        problems.append(
            Problem(
                source,
                *_pos(root.start_mark),
                "",
                f"a policy must be a YAML mapping (id: ..., version: ...), not {kind}",
            )
        )
        raise MeritInputError(problems, kind="invalid-policy")
    builder = _Builder(loader, source)
    data = builder.build(root, ())
    problems.extend(builder.problems)
    if problems:
        raise MeritInputError(problems, kind="invalid-policy")
    return YamlDocument(data, source, builder.positions, builder.key_positions)
