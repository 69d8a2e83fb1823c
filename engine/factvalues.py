"""Cell values of a fact file, and how each is read as text, an amount, an id or a month.

Offices write the same figure many ways: `¥840,000`, `８４００００`, `RMB 840000.00`, a month as
`2026/8/1`, `202608` or `2026年8月`, or as a date cell. Each form read here has one meaning only;
anything that could mean two things (a number `2026.1`: January, or October typed as 2026.10) is
refused with advice that works in Excel. Amounts never pass through float. Ids are NFKC-normalised
and refused when they hold invisible characters, so `Ｒ001`, `R00１` and `R001` are one rep and
`R\u200b001` is not a fourth one that prints alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from engine.periods import Month
from engine.sheetcells import EXCEL_DIGITS, Cell

_PLAIN_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_GROUPED_NUMBER = re.compile(r"^-?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")
_EXPONENT_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+$")
_CURRENCY = re.compile(r"^(?:¥|RMB|CNY|人民币)\s*|\s*元$", re.IGNORECASE)
MAX_WHOLE_DIGITS = 15
"""An amount is below 10**15 (at most 999,999,999,999,999.999999): a thousand trillion yuan, some
200 times the yearly revenue of the largest company there is (about ¥5 trillion), so any figure of
a real company fits - a rep's month, a region's quarter, a whole year's sales - while a value of
thousands of digits (or an exponent) is refused before anything computes with it. Within these
bounds sums and products stay exact (engine.metrics, engine.totals check it)."""
MAX_DECIMALS = 6
CENTS = 2  # an amount written with at most this many decimal places is money, never float noise
#: Database column sizes: a longer value would be accepted here and fail later, in the database.
MAX_TEXT = {"rep_id": 100, "name": 200, "region": 100, "product_line": 100, "manager_id": 100}
DATE = "a date cell"
PERIOD_ADVICE = (
    'write the month as text like 2026-08 (in Excel: =TEXT(F2,"yyyy-mm") in a spare column, then copy and'
    " paste as values; or retype it as '2026-08 with a leading apostrophe)"
)

_YEAR_MONTH = re.compile(r"^(\d{4})\s*[-/.]\s*(\d{1,2})$")
_YEAR_MONTH_DAY = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ]0{1,2}:00(?::00(?:\.0+)?)?)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})$")
_CHINESE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*日)?(?:份)?$")


@dataclass(frozen=True, slots=True)
class Opaque:
    """A value that is neither text nor a number: a date or error cell, JSON NaN, a list, a float."""

    shown: str
    what: str


Value = str | Decimal | bool | Opaque | None


def column_name(text: str) -> str:
    return text.strip().lower()


def is_blank(value: Value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def as_text(value: Value) -> str | None:
    """The value as stripped text; None when blank."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Opaque):
        return value.shown
    return value.strip() or None


def invisible(text: str) -> str | None:
    """The first invisible or control character of `text`, named, or None."""
    for i, ch in enumerate(text, start=1):
        if unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cn", "Zl", "Zp") or (
            unicodedata.category(ch) == "Zs" and ch != " "
        ):
            name = unicodedata.name(ch, "a control character")
            return f"U+{ord(ch):04X} {name} at position {i}"
    return None


def clean_text(text: str) -> str:
    """NFKC form (full-width letters and digits become ASCII), stripped; plain ASCII is returned as is."""
    if text.isascii():
        return text.strip()
    return unicodedata.normalize("NFKC", text).strip()


def plain_text(text: str) -> bool:
    """True when `clean_text` leaves `text` as it is and it has nothing invisible (the fast path's test)."""
    return text.isprintable() and (
        text.isascii() or (unicodedata.is_normalized("NFKC", text) and _lookalike(text) is None)
    )


def key_text(value: Value, column: str) -> tuple[str | None, str | None]:
    """An id or group key (rep_id, region, ...): (clean text, None), (None, None) if blank, or (None, why)."""
    text = as_text(value)
    if text is None:
        return None, None
    found = invisible(text.strip())
    if found:
        return None, f"{column} {_clip(text)!r} contains an invisible character ({found}): retype it"
    text = clean_text(text)
    lookalike = _lookalike(text)
    if lookalike:
        return None, f"{column} {_clip(text)!r} contains {lookalike}: it would print like another id; retype it"
    limit = MAX_TEXT.get(column)
    if limit is not None and len(text) > limit:
        return None, f"{column} is {len(text)} characters long; at most {limit} are allowed"
    return text or None, None


#: Scripts whose letters print like Latin ones (Cyrillic Р, Greek Ρ beside R): in an id or a group
#: key they make a second rep, or a second region, that nobody can tell apart on paper.
_LOOKALIKE_SCRIPTS = ("CYRILLIC", "GREEK")


def _lookalike(text: str) -> str | None:
    """What in a key would print like something else: a combining mark (R001 + U+0301) or a
    Cyrillic/Greek letter; None for plain text (ASCII and CJK pass the first test)."""
    if text.isascii():
        return None
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Mn", "Mc", "Me"):
            return f"the combining mark U+{ord(ch):04X} {unicodedata.name(ch, '')}".rstrip()
        if category.startswith("L") and unicodedata.name(ch, "").startswith(_LOOKALIKE_SCRIPTS):
            return f"the letter {ch!r} (U+{ord(ch):04X} {unicodedata.name(ch)}), which looks like a Latin one"
    return None


def float_noise(text: str) -> bool:
    """A decimal with 16 or 17 significant digits beyond the cents: how a program writes a binary
    float (0.1+0.2 is 0.30000000000000004). Money written to cents is read as written, however
    large: 123456789012345.67 is 17 significant digits, and exactly what it says."""
    if len(text) <= 16:  # most amounts: decided by their length alone
        return False
    whole, _, decimals = text.lstrip("-").partition(".")
    if len(decimals) <= CENTS:
        return False
    digits = len((whole + decimals).lstrip("0"))
    return EXCEL_DIGITS < digits <= 17 and _PLAIN_NUMBER.match(text) is not None


def as_number(value: Value) -> tuple[Decimal | None, str | None]:
    """(number, None), (None, None) when blank, or (None, why it is not a number)."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return None, f"{'TRUE' if value else 'FALSE'} is a true/false value, not a number"
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None, f"{value} is not a number"
        return _within_limits(value, format(value, "f"))
    if isinstance(value, Opaque):
        return None, f"{value.shown} is {value.what}, not a number"
    text = value.strip()
    if not text:
        return None, None
    if not text.isascii():
        text = _CURRENCY.sub("", unicodedata.normalize("NFKC", text)).strip()
    elif text[0] in "RrCc":
        text = _CURRENCY.sub("", text).strip()
    if _PLAIN_NUMBER.match(text):
        if float_noise(text):  # the 15 significant digits Excel keeps, as for an .xlsx cell
            return _within_limits(+_excel(Decimal(text)), text)
        return _within_limits(Decimal(text), text)
    if _GROUPED_NUMBER.match(text):
        return _within_limits(Decimal(text.replace(",", "")), text)
    if _EXPONENT_NUMBER.match(text):
        return None, f"{_clip(value.strip())!r} uses exponent notation; write the number out in full"
    return None, f"{_clip(value.strip())!r} is not a number (write it like 840000, 840000.50 or 840,000.50)"


def _excel(number: Decimal) -> Decimal:
    from decimal import ROUND_HALF_EVEN, Context

    return Context(prec=EXCEL_DIGITS, rounding=ROUND_HALF_EVEN).plus(number).normalize()


def _within_limits(number: Decimal, shown: str) -> tuple[Decimal | None, str | None]:
    """Bounds no sales figure comes near, inside which every sum and product of the evaluation
    stays exact in a 28-digit context: at most 15 digits before the point and 6 after it."""
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if exponent < -MAX_DECIMALS:
        return None, (
            f"{_clip(shown)} has more than {MAX_DECIMALS} decimal places (round it to cents: in Excel"
            " =ROUND(C2,2), then copy and paste as values)"
        )
    if number.adjusted() >= MAX_WHOLE_DIGITS:
        return None, f"{_clip(shown)} has more than {MAX_WHOLE_DIGITS} digits before the decimal point"
    return number, None


def _clip(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def as_month(value: Value) -> tuple[Month | None, str | None]:
    """The month a period cell means: text in any unambiguous form, a date cell, or YYYYMM."""
    if isinstance(value, Opaque):
        if value.what == DATE:
            return _month(int(value.shown[:4]), int(value.shown[5:7]), value.shown)
        return None, f"period {value.shown} is {value.what}: {PERIOD_ADVICE}"
    if isinstance(value, bool) or value is None:
        return None, f"period {as_text(value)} is not a month: {PERIOD_ADVICE}"
    if isinstance(value, Decimal):
        text = format(value, "f")
        if _COMPACT.match(text):
            return as_month(text)
        if re.fullmatch(r"\d{4}\.\d\d", text):
            return as_month(text)
        return None, f"period {text} is a number, which cannot say the month (2026.1 may be 2026.10): {PERIOD_ADVICE}"
    text = clean_text(value)
    if re.fullmatch(r"\d{4}\.1", text):
        return None, f"period {text!r} may be January or October (2026.10 shown as 2026.1): {PERIOD_ADVICE}"
    for pattern in (_YEAR_MONTH, _COMPACT, _CHINESE, _YEAR_MONTH_DAY):
        m = pattern.match(text)
        if m:
            if m.lastindex == 3 and m.group(3) is not None and not _valid_day(m):
                break
            return _month(int(m.group(1)), int(m.group(2)), text)
    return None, f"{_clip(value.strip())!r} is not a month (e.g. 2026-08): {PERIOD_ADVICE}"


def _valid_day(m: re.Match[str]) -> bool:
    import datetime

    try:
        datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return False
    return True


def _month(year: int, month: int, shown: str) -> tuple[Month | None, str | None]:
    if not 1 <= month <= 12 or year < 1900:
        return None, f"{shown!r} is not a month (e.g. 2026-08): {PERIOD_ADVICE}"
    return Month(year, month), None


def from_python(value: object) -> Value:
    if value is None or isinstance(value, str | bool | Decimal | Opaque):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Opaque(repr(value), "a binary float, which cannot be exact (give it as text or Decimal)")
    if isinstance(value, Mapping):
        return Opaque("{…}", "an object")
    if isinstance(value, list | tuple):
        return Opaque("[…]", "a list")
    return Opaque(repr(value), f"a {type(value).__name__}")


def from_cell(cell: Cell | None) -> Value:
    """A spreadsheet cell (.xlsx, .ods) as a value."""
    if cell is None:
        return None
    if cell.kind == "number":
        return Decimal(cell.text)
    if cell.kind == "bool":
        return cell.text == "TRUE"
    if cell.kind == "date":
        return Opaque(cell.text, DATE)
    if cell.kind == "error":
        return Opaque(cell.text, "an error cell")
    if cell.kind == "formula":
        return Opaque(cell.text, "a formula with no saved value (open the file in Excel and save it)")
    return cell.text
