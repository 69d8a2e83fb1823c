"""Headers that are UTF-8 text read in the wrong character set (mojibake), told apart from unknown names.

A UTF-8 CSV opened in LibreOffice (or Excel) under a Western locale is read as Windows-1252, and
saved as a workbook its header 员工编号 becomes `å‘˜å·¥ç¼–å·`: every cell of the sheet is then
wrong, and telling HR to map these headers with `--columns` would only move the problem to the
names and months. The same file opened as GBK shows `鍛樺伐缂栧彿`. A header is judged mojibake only
when re-encoding it gives back UTF-8 text that names a column Merit reads, so a genuine unknown
header is never misjudged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

#: LibreOffice reads the five bytes Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) as
#: private-use characters U+F100 + byte (0x8F -> U+F18F, seen in a converted file); Python as U+0081...
_PRIVATE_USE_BASE = 0xF100


def _as_cp1252_bytes(text: str) -> bytes | None:
    out = bytearray()
    for ch in text:
        code = ord(ch)
        if code < 0x100:
            out.append(code)
            continue
        if 0x80 <= code - _PRIVATE_USE_BASE <= 0xFF:
            out.append(code - _PRIVATE_USE_BASE)
            continue
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            return None
    return bytes(out)


def _as_gbk_bytes(text: str) -> bytes | None:
    try:
        return text.encode("gb18030")
    except UnicodeEncodeError:  # pragma: no cover - gb18030 encodes every code point
        return None


_READINGS: tuple[tuple[str, Callable[[str], bytes | None]], ...] = (
    ("Western (Windows-1252/ISO-8859-1)", _as_cp1252_bytes),
    ("Chinese (GBK/GB18030)", _as_gbk_bytes),
)


def repaired(text: str) -> tuple[str, str] | None:
    """(the UTF-8 text `text` was, the character set it was misread in), or None when it is not that."""
    if text.isascii():
        return None
    for charset, encode in _READINGS:
        data = encode(text)
        if data is None or data.isascii():
            continue
        try:
            original = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if original != text:
            return original, charset
    return None


def mojibake_hint(headers: Iterable[str], is_column: Callable[[str], bool]) -> str:
    """A hint for a header whose cells are UTF-8 read in another character set, else ''."""
    for raw in headers:
        found = repaired(raw)
        if found and is_column(found[0]):
            original, charset = found
            return (
                f" (the headers are garbled: {raw.strip()!r} is {original.strip()!r} written in UTF-8 and read as"
                f" {charset}, so every text cell of the file is garbled too: open the original CSV again choosing"
                " the character set Unicode (UTF-8) - LibreOffice: 字符集 Unicode (UTF-8), or"
                " `soffice --infilter=CSV:44,34,76,1 --convert-to xlsx FILE.csv`; Excel: 数据 → 从文本/CSV,"
                " 文件原始格式 65001: Unicode (UTF-8) - and save it again; or give Merit the CSV itself)"
            )
    return ""
