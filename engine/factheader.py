"""Header names as offices write them, mapped to Merit's columns.

A zh-CN team's sheet says 工号, 姓名, 目标, 销售额, often with a unit (`销售额（元）`); a company may
have its own words, declared once in a `columns:` map. A header name one typing slip away from a
column Merit or the policy reads (`regoin`, `colected`) is an error, because reading it as an
extra column would silently drop what the policy needs (a team award disappears). A header in 万元
is refused: Merit reads yuan, and a silent factor of 10,000 is a wrong payout. When a required
column is missing the rows are not read at all, and a line below that looks like the header (under
a title, or the second line of a two-line header) is named instead of a hundred follow-on problems.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import yaml

from engine.factrow import REQUIRED_COLUMNS, STANDARD_NUMBER_COLUMNS, STANDARD_TEXT_COLUMNS
from engine.factsources import Table, Value, is_blank, located
from engine.mojibake import mojibake_hint
from engine.problems import MeritInputError, Problem
from engine.sheetcells import column_letters

#: Built-in names a header may use for each column (compared after `header_key`).
ALIASES: dict[str, tuple[str, ...]] = {
    "rep_id": (
        "工号",
        "员工编号",
        "员工工号",
        "销售编号",
        "人员编号",
        "员工id",
        "销售id",
        "员工代码",
        "rep id",
        "employee id",
        "员工号",
        "员工编码",
    ),
    "name": (
        "姓名",
        "销售员",
        "销售姓名",
        "员工姓名",
        "名字",
        "销售人员",
        "业务员",
        "销售代表",
        "人员姓名",
        "销售员姓名",
        "业务员姓名",
        "rep name",
        "employee name",
    ),
    "period": (
        "期间",
        "月份",
        "年月",
        "考核期间",
        "考核月份",
        "统计月份",
        "统计期间",
        "业绩月份",
        "所属月份",
        "考核月",
        "month",
    ),
    "target": (
        "目标",
        "任务额",
        "目标额",
        "销售目标",
        "目标金额",
        "任务",
        "指标",
        "目标值",
        "月度目标",
        "销售任务",
        "考核目标",
        "目标销售额",
        "销售指标",
        "任务金额",
        "quota",
        "sales target",
    ),
    "actual": (
        "销售额",
        "实际完成",
        "实际",
        "实际销售额",
        "完成额",
        "实际金额",
        "实际完成额",
        "实际业绩",
        "销售金额",
        "完成金额",
        "实际完成金额",
        "实际销售金额",
        "完成销售额",
    ),
    "collected": ("回款", "回款额", "回款金额", "已回款", "实际回款", "实际回款额", "已回款金额", "collections"),
    "region": (
        "区域",
        "大区",
        "地区",
        "片区",
        "所属区域",
        "销售区域",
        "大区名称",
        "区域名称",
        "所属大区",
        "销售大区",
        "所属片区",
        "region name",
        "sales region",
    ),
    "product_line": ("产品线", "产品", "product line"),
    "manager_id": ("经理工号", "主管工号", "经理编号", "主管编号", "manager id"),
    "new_customers": ("新客户数", "新客户", "新增客户", "新增客户数", "新签客户数", "new customers"),
    "leads": ("线索量", "线索", "线索数"),
    "follow_ups": ("跟进次数", "跟进", "follow ups", "follow-ups"),
    "deals": ("成单量", "成交数", "成单数", "成交量"),
}
_UNIT = re.compile(r"\s*[(\[（【]\s*([^)\]）】]*)\s*[)\]）】]\s*$")
_YUAN_UNITS = ("元", "人民币", "rmb", "cny", "¥", "个", "次", "人", "单", "家", "yuan")
_SCALED = {"万元": "ten thousands", "万": "ten thousands", "w": "ten thousands", "千元": "thousands",
           "k": "thousands", "百万": "millions", "百万元": "millions"}  # fmt: skip


def header_key(raw: str) -> str:
    """How header names are compared: NFKC, lower case, spaces and dashes as one underscore."""
    text = unicodedata.normalize("NFKC", raw).strip().lower()
    return re.sub(r"[\s\-]+", "_", text)


def _compact(key: str) -> str:
    """A key without its separators: `区 域` (a space typed inside a header) is 区域, `rep id` is repid."""
    return key.replace("_", "")


def _alias_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for column, names in ALIASES.items():
        table[column] = column
        for name in names:
            table[header_key(name)] = column
    return table


_BUILT_IN = _alias_table()
_BUILT_IN_COMPACT = {_compact(k): v for k, v in _BUILT_IN.items()}
assert len({(_compact(k), v) for k, v in _BUILT_IN.items()}) == len(_BUILT_IN_COMPACT), "aliases clash compacted"


class HeaderMap:
    """Raw header text -> Merit column name, with the company's own map taking precedence."""

    def __init__(self, company: Mapping[str, str] | None = None) -> None:
        self.company = {header_key(k): v for k, v in (company or {}).items()}
        self.company_compact = {_compact(k): v for k, v in self.company.items()}

    def lookup(self, key: str) -> str | None:
        """The column a header key names, ignoring spaces inside it; None when it is not known."""
        compact = _compact(key)
        return (
            self.company.get(key)
            or self.company_compact.get(compact)
            or _BUILT_IN.get(key)
            or _BUILT_IN_COMPACT.get(compact)
        )

    def mapped_by_company(self, raw: str) -> bool:
        key = header_key(raw)
        return key in self.company or _compact(key) in self.company_compact

    def name(self, raw: str, cell: str = "C2") -> tuple[str, str | None]:
        """(column name, problem or None). Unknown names stay as they are (lower case), as before.
        `cell` is the column's first data cell, for the advice on converting 万元."""
        key = header_key(raw)
        if not key:
            return "", None
        found = self.lookup(key)
        if found:
            return found, None
        unit = _UNIT.search(key)
        if unit:
            bare, what = key[: unit.start()].rstrip("_"), unit.group(1).strip()
            column = self.lookup(bare)
            if column and what in _SCALED:
                factor = {"ten thousands": "10000", "thousands": "1000", "millions": "1000000"}[_SCALED[what]]
                return column, (
                    f"column {raw.strip()!r} is in {what} ({_SCALED[what]} of yuan); Merit reads yuan: convert it"
                    f" (in Excel ={cell}*{factor} in a spare column, filled down, paste as values) and name it"
                    f" without ({what})"
                )
            if column and (what in _YUAN_UNITS or not what):
                return column, None
        return column_key(raw), None


@dataclass
class Columns:
    """Where each named column sits (1-based), and the names in file order."""

    position: dict[str, int]
    names: tuple[str, ...]
    header: dict[int, str]  # column -> its name, for every named column (duplicates included)
    complete: bool = True  # every required column is there


def check_header(table: Table, extras: tuple[str, ...], names: HeaderMap) -> Columns:
    """Where each column is; problems for what is wrong with the header. `complete` is False when a
    required column is missing: the rows are then not checked (a hundred follow-on lines help nobody)."""
    source, line = table.source, table.header_line
    position: dict[str, int] = {}
    header: dict[int, str] = {}
    found: list[Problem] = []  # this line's own problems: not said when another line is the header
    for col, raw in table.header:
        cell = f"{column_letters(col)}{(line or 1) + 1}"
        name, problem = names.name(raw, cell)
        if not name:
            continue
        header[col] = name
        if problem:
            found.append(located(source, line, col, name, problem))
        if name in position:
            found.append(
                located(
                    source,
                    line,
                    col,
                    name,
                    f"column {name!r} appears twice in the header (first as column {position[name]})",
                )
            )
            continue
        position[name] = col
    complete = True
    if line is not None:
        known = {*STANDARD_TEXT_COLUMNS, *STANDARD_NUMBER_COLUMNS, "period", *extras}
        raws = dict(table.header)
        unknown = [
            (col, name)
            for name, col in position.items()
            if name not in known and not names.mapped_by_company(raws[col])
        ]
        for col, name in unknown:
            slip = near_miss_alias(raws[col], name, known - set(position))
            if slip:
                guess, why = slip
                found.append(
                    located(
                        source,
                        line,
                        col,
                        name,
                        f"column {name!r} is not a column Merit reads: did you mean {guess!r}? ({why}; rename the"
                        " header, or if it is something else map it to another name with --columns)",
                    )
                )
        hint = _header_hint(table, position, names)
        if not hint and unknown:
            shown = ", ".join(raws[col] for col, _ in unknown[:10]) + (", ..." if len(unknown) > 10 else "")
            hint = (
                f"; headers not recognised: {shown} — map them with --columns"
                " (API: the form field columns; docs/facts-from-excel.md)"
            )
        if not hint.startswith(" ("):
            table.problems.extend(found)
        for name in REQUIRED_COLUMNS:
            if name not in position:
                complete = False
                table.problems.append(located(source, line, None, name, f"required column {name!r} is missing{hint}"))
        for name in extras:
            if name not in position:
                table.problems.append(located(source, line, None, name, f"column {name!r} is required by the policy"))
    else:
        table.problems.extend(found)
    return Columns(position, tuple(position), header, complete)


def _header_hint(table: Table, position: Mapping[str, int], header_names: HeaderMap) -> str:
    """Why the header may lack the required columns, when the file itself suggests it."""
    if all(n in position for n in REQUIRED_COLUMNS):
        return ""
    cells = [raw for _, raw in table.header]
    garbled = mojibake_hint(cells, lambda text: header_names.lookup(header_key(text)) is not None)
    if garbled:
        return garbled
    for sep in (";", "\t", "|"):
        if any(sep in c for c in cells) and all(n in " ".join(cells).lower() for n in REQUIRED_COLUMNS):
            shown = "tab" if sep == "\t" else repr(sep)
            return f" (the header seems separated by {shown}: save the file as comma-separated CSV)"
    rest = iter(table.rows)
    first = list(itertools.islice(rest, 10))
    table.rows = itertools.chain(first, rest)  # peeked, not consumed: the rows are still checked
    for number, row in first:
        values = row.values() if isinstance(row, dict) else row
        names = {header_names.name(v)[0] for v in values if isinstance(v, str)}
        if all(n in names for n in REQUIRED_COLUMNS):
            return f" (line {number} looks like the header: remove the lines above it; a two-line header: make it one)"
    return ""


def is_repeated_header(cells: Mapping[int, Value], columns: Columns, names: HeaderMap) -> bool:
    """A data row that reads like the header (e.g. two exports pasted one after another)."""
    filled = [(col, v) for col, v in cells.items() if not is_blank(v)]
    return len(filled) >= 2 and all(
        isinstance(v, str) and names.name(v)[0] == columns.header.get(col) for col, v in filled
    )


def column_key(raw: str) -> str:
    return raw.strip().lower()


#: Headers common in sales sheets that are one character from an alias but never mean it
#: (序号 is not 工号, 排名 is not 姓名, 地址 is not 地区); a rate (完成率, 回款率) is never an amount.
_NOT_NEAR = frozenset({"序号", "排名", "名次", "地址", "备注", "编号"})
_COLUMN_ORDER = ("rep_id", "period", "target", "actual", *STANDARD_TEXT_COLUMNS[1:], *STANDARD_NUMBER_COLUMNS[2:])


def near_miss_alias(raw: str, name: str, absent: Iterable[str]) -> tuple[str, str] | None:
    """(column, why) when an unrecognised header is a slip for an absent column: one edit from its
    name or an alias (`regoin`, `区城`), or containing a Chinese alias of two or more characters
    (`大区名称`). An absent column is the condition: a genuinely extra column beside the real one is
    left alone, but a near-miss while the column is missing would silently drop what the policy needs
    (a region team award vanishes)."""
    full = header_key(raw)
    key = _compact(full)
    if key in _NOT_NEAR or key.endswith("率") or "%" in key or "占比" in key:
        return None
    wanted = set(absent)
    order = [c for c in _COLUMN_ORDER if c in wanted] + sorted(wanted - set(_COLUMN_ORDER))
    for column in order:
        for alias in (column, *ALIASES.get(column, ())):
            spelled = header_key(alias)
            if spelled.isascii():  # a letter slip in a word: only in words of four letters or more
                if full.isascii() and min(len(full), len(spelled)) >= 4 and _one_edit(full, spelled):
                    return column, f"{raw.strip()!r} is one slip from {alias!r}"
                continue
            target = _compact(spelled)
            if len(target) >= 2 and key != target and _one_edit(key, target):
                return column, f"{raw.strip()} is one character from {alias}"
            if len(target) >= 2 and target in key:
                return column, f"{raw.strip()} contains {alias}"
    return None


def _one_edit(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    return short[i:] == long[i + 1 :]


def parse_column_map(data: bytes, source: str) -> dict[str, str]:
    """A company's header names from a small YAML file: `columns: {业绩: actual, 考核目标: target}`."""

    def problem(message: str) -> MeritInputError:
        return MeritInputError([Problem(source, None, None, "columns", message)])

    try:
        doc = yaml.safe_load(data.decode("utf-8-sig")) if len(data) <= 64 * 1024 else None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise problem(f"cannot read the column map: {str(e).splitlines()[0]}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("columns"), dict) or not doc["columns"]:
        raise problem("write the column map as 'columns:' followed by lines 'header in the file: merit column'")
    mapping: dict[str, str] = {}
    for key, value in doc["columns"].items():
        if not isinstance(key, str | int) or not isinstance(value, str) or not value.strip():
            raise problem(f"{key!r}: {value!r} is not 'header text: column name'")
        target = value.strip().lower()
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,63}", target):
            raise problem(f"{value!r} is not a column name Merit reads (e.g. rep_id, target, actual, region)")
        mapping[str(key)] = target
    return mapping
