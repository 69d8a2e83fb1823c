"""The fixed texts of what people read (statements, the 公示 notice) in their language.

Message catalogues are gettext `.po` files shipped as package data
(`service/statements/locale/<locale>/LC_MESSAGES/merit.po`), read with Babel and compiled in
memory, once per process: the source texts are English, so English needs no catalogue, and a
missing translation shows the English text rather than failing. Money is formatted by Babel's CLDR
data (`¥1,234.56` in zh-CN, `CN¥1,234.56` in English) from the exact `Decimal`, never a float.
"""

from __future__ import annotations

import functools
import io
from decimal import ROUND_DOWN, Decimal
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations

from engine.metrics import Ratio, percent

LANGUAGES = {"zh-CN": "zh_CN", "en": "en"}
"""What --lang and ?lang= accept, and the Babel locale each one means."""
DEFAULT_LANGUAGE = "zh-CN"
DOMAIN = "merit"


def locale_of(lang: str) -> str:
    """The Babel locale of a --lang value (ValueError names the accepted ones)."""
    try:
        return LANGUAGES[lang]
    except KeyError:
        raise ValueError(f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}") from None


@functools.lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> NullTranslations:
    """The catalogue of `lang`, compiled from its .po once per process (English: the source texts)."""
    locale = locale_of(lang)
    po = resources.files("service.statements").joinpath(f"locale/{locale}/LC_MESSAGES/{DOMAIN}.po")
    if not po.is_file():
        return NullTranslations()
    with po.open("rb") as fp:
        catalog = read_po(fp, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


class Formats:
    """Numbers as one language writes them: money, percentages, ratios as percentages."""

    def __init__(self, lang: str, currency: str) -> None:
        self.locale = locale_of(lang)
        self.currency = currency

    def money(self, amount: Decimal | None) -> str:
        """`¥1,234.56` (zh-CN): two places, exactly the amount (amounts are already rounded)."""
        if amount is None:
            return "-"
        return format_currency(amount, self.currency, locale=self.locale, decimal_quantization=False)

    def money_short(self, amount: Decimal) -> str:
        """A policy parameter: `¥1,000` when whole, else as `money`."""
        if amount == amount.to_integral_value():
            return format_currency(amount, self.currency, format="¤#,##0", locale=self.locale, currency_digits=False)
        return self.money(amount)

    @staticmethod
    def rate(value: Decimal | None) -> str:
        """A rate or threshold the policy wrote: 0.015 -> 1.5% (exact)."""
        return "-" if value is None else percent(value)

    @staticmethod
    def ratio(value: Ratio | None) -> str:
        """A metric value as a percentage, two places, truncated (79.999...% never shows as 80%)."""
        if value is None:
            return "-"
        exact = value.numerator * 100 / value.denominator
        shown = exact.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        text = format(shown, "f").rstrip("0").rstrip(".")
        return f"{text}%"

    @staticmethod
    def number(value: Ratio | Decimal | None) -> str:
        """A count (new customers, follow-ups) or any plain value, exact."""
        if value is None:
            return "-"
        if isinstance(value, Ratio):
            value = value.value if value.denominator == 1 else value.value.quantize(Decimal("0.01"), ROUND_DOWN)
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
