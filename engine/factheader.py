"""Header names as offices write them, mapped to Merit's columns.

A zh-CN team's sheet says 工号, 姓名, 目标, 销售额, often with a unit (`销售额（元）`); a company may
have its own words, declared once in a `columns:` map. A header name one typing slip away from a
column Merit or the policy reads (`regoin`, `colected`) is an error, because reading it as an
extra column would silently drop what the policy needs (a team award disappears). A header in 万元
is refused: Merit reads yuan, and a silent factor of 10,000 is a wrong payout.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

import yaml

from engine.problems import MeritInputError, Problem

#: Built-in names a header may use for each column (compared after `header_key`).
ALIASES: dict[str, tuple[str, ...]] = {
    "rep_id": ("工号", "员工编号", "员工工号", "销售编号", "人员编号", "rep id", "employee id"),
    "name": ("姓名", "销售员", "销售姓名", "员工姓名", "名字", "rep name"),
    "period": ("期间", "月份", "年月", "考核期间", "考核月份", "统计月份", "month"),
    "target": ("目标", "任务额", "目标额", "销售目标", "目标金额", "任务", "指标", "quota"),
    "actual": ("销售额", "实际完成", "实际", "实际销售额", "完成额", "实际金额"),
    "collected": ("回款", "回款额", "回款金额", "已回款"),
    "region": ("区域", "大区", "地区", "片区"),
    "product_line": ("产品线", "产品", "product line"),
    "manager_id": ("经理工号", "主管工号", "经理编号", "主管编号", "manager id"),
    "new_customers": ("新客户数", "新客户", "新增客户", "新增客户数", "new customers"),
    "leads": ("线索量", "线索", "线索数"),
    "follow_ups": ("跟进次数", "跟进", "follow ups", "follow-ups"),
    "deals": ("成单量", "成交数", "成单数", "成交量"),
}
_UNIT = re.compile(r"\s*[(\[（【]\s*([^)\]）】]*)\s*[)\]）】]\s*$")
_YUAN_UNITS = ("元", "人民币", "rmb", "cny", "¥", "个", "次", "人", "单", "家", "yuan")
_TEN_THOUSANDS = ("万元", "万", "w", "万元人民币")


def header_key(raw: str) -> str:
    """How header names are compared: NFKC, lower case, spaces and dashes as one underscore."""
    text = unicodedata.normalize("NFKC", raw).strip().lower()
    return re.sub(r"[\s\-]+", "_", text)


def _alias_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for column, names in ALIASES.items():
        table[column] = column
        for name in names:
            table[header_key(name)] = column
    return table


_BUILT_IN = _alias_table()


class HeaderMap:
    """Raw header text -> Merit column name, with the company's own map taking precedence."""

    def __init__(self, company: Mapping[str, str] | None = None) -> None:
        self.company = {header_key(k): v for k, v in (company or {}).items()}

    def name(self, raw: str) -> tuple[str, str | None]:
        """(column name, problem or None). Unknown names stay as they are (lower case), as before."""
        key = header_key(raw)
        if not key:
            return "", None
        found = self.company.get(key) or _BUILT_IN.get(key)
        if found:
            return found, None
        unit = _UNIT.search(key)
        if unit:
            bare, what = key[: unit.start()], unit.group(1).strip()
            column = self.company.get(bare) or _BUILT_IN.get(bare)
            if column and what in _TEN_THOUSANDS:
                return column, (
                    f"column {raw.strip()!r} is in 万元 (ten thousands of yuan); Merit reads yuan: convert it"
                    " (in Excel =C2*10000 in a spare column, paste as values) and name it without (万元)"
                )
            if column and (what in _YUAN_UNITS or not what):
                return column, None
        return column_key(raw), None


def column_key(raw: str) -> str:
    return raw.strip().lower()


def near_miss(name: str, known: Iterable[str]) -> str | None:
    """The known column `name` is one edit (or one swap of neighbours) away from, if any."""
    if len(name) < 4 or not name.isascii():
        return None
    for candidate in sorted(known):
        if candidate != name and _one_edit(name, candidate):
            return candidate
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
