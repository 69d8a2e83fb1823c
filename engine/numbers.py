"""Numbers typed by people (sweep values, parameter edits, shares): bounded before they are used.

`Decimal("1e999999999")` costs nothing, but writing it out, or computing with it, takes a core
for minutes and a gigabyte of text; a sweep over "1e20000000" answered after 26 s with 20 MB. So a
typed number is plain decimal text (no exponent), at most 15 digits before the point and 12
after it - bounds no incentive parameter comes near - and it is refused before anything expands
it. The fact loader keeps its own, stricter bounds for sales figures (`engine.factsources`).
"""

from __future__ import annotations

import re
from decimal import Decimal

MAX_WHOLE_DIGITS = 15
MAX_DECIMALS = 12
_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


class NumberRefused(ValueError):
    """Text that is not a bounded plain decimal number; the message quotes it, clipped."""


def clip(text: str, limit: int = 40) -> str:
    """`text` as a message may quote it: at most `limit` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[: max(limit - 30, 10)]}...({len(text)} characters)"


def bounded_decimal(text: str) -> Decimal:
    """The exact Decimal of plain decimal `text`, or NumberRefused (exponents, too many digits)."""
    text = text.strip()
    if len(text) > MAX_WHOLE_DIGITS + MAX_DECIMALS + 2 or not _PLAIN.fullmatch(text):
        if "e" in text.lower() and len(text) < 200 and _PLAIN.fullmatch(text.lower().split("e")[0]):
            raise NumberRefused(f"{clip(text)} uses exponent notation; write the number out in full")
        raise NumberRefused(f"{clip(text)} is not a decimal number of at most {MAX_WHOLE_DIGITS} digits")
    whole, _, decimals = text.lstrip("+-").partition(".")
    if len(whole.lstrip("0")) > MAX_WHOLE_DIGITS:
        raise NumberRefused(f"{clip(text)} has more than {MAX_WHOLE_DIGITS} digits before the decimal point")
    if len(decimals) > MAX_DECIMALS:
        raise NumberRefused(f"{clip(text)} has more than {MAX_DECIMALS} decimal places")
    return Decimal(text)


def number_text(value: object) -> str:
    """A number a JSON client sent (string, int or float) as text for `bounded_decimal`, without
    expanding it: a huge int or float keeps a short form that is then refused."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 64 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, float):
        exact = Decimal(repr(value))
        if not exact.is_finite() or not -MAX_DECIMALS <= exact.adjusted() < MAX_WHOLE_DIGITS:
            return repr(value)
        return format(exact, "f")
    return str(value)
