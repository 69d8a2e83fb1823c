"""Which encoding and separator a CSV or text file uses, decided only when the bytes leave no doubt.

zh-CN Excel saves "CSV (逗号分隔)" in GBK and "Unicode 文本" as tab-separated UTF-16 with a BOM;
both are everyday files, so both are read, with a note saying so. GB18030 (a superset of GBK)
decodes many byte strings, including Western European text, into nonsense; it is trusted only
when every character it yields is ASCII or what Chinese text uses (CJK ideographs and
punctuation, full-width forms). Anything else is refused naming what the bytes look like and
the Excel menu item that writes UTF-8.
"""

from __future__ import annotations

import unicodedata

from engine.problems import Problem

SAVE_AS = "save it from Excel with 'CSV UTF-8(逗号分隔)(*.csv)' (WPS/LibreOffice: CSV, character set UTF-8)"


def decode_utf8(data: bytes, source: str) -> str | Problem:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        return Problem(source, line, None, "", f"the file is not UTF-8 text (byte 0x{data[e.start]:02x}); {SAVE_AS}")


def decode_table_text(data: bytes, source: str) -> tuple[str, str, str | None] | Problem:
    """(encoding for `TextIOWrapper`, delimiter, note or None), or the problem that refuses the bytes."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            return Problem(source, None, None, "", f"the file starts like UTF-16 text but is not: {SAVE_AS}")
        note = "read as UTF-16 text (Excel 'Unicode 文本')"
        return "utf-16", _delimiter(text[:4096]), note
    if data.isascii():
        return "utf-8-sig", _delimiter(data[:4096].decode("ascii")), None
    try:
        text = data.decode("utf-8-sig")
        encoding, note = "utf-8-sig", ""
    except UnicodeDecodeError as e:
        if _mostly_utf8(data):  # UTF-8 with a few broken bytes: GB18030 would read it as other characters
            return _refusal(data, source, e.start, "UTF-8 with some invalid bytes")
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            return _refusal(data, source, e.start)
        if not all(_chinese_or_ascii(ch) for ch in set(text)):
            return _refusal(data, source, e.start)
        encoding, note = "gb18030", "read as GBK/GB18030 text (Excel 'CSV (逗号分隔)' on Chinese Windows)"
    delimiter = _delimiter(text[:4096])
    del text
    return encoding, delimiter, note or None


def _delimiter(head: str) -> str:
    """Tab when the first line is tab-separated and has no comma (Excel's Unicode text), else comma."""
    first = next((line for line in head.splitlines() if line.strip()), "")
    return "\t" if "\t" in first and "," not in first else ","


def _chinese_or_ascii(ch: str) -> bool:
    if ch.isascii():
        return True
    code = ord(ch)
    if 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF or 0x2000 <= code <= 0x206F:
        return True  # CJK punctuation, full-width forms, general punctuation (—, “ ”, …)
    return unicodedata.name(ch, "").startswith(("CJK ", "CJK COMPATIBILITY")) or ch in "·×÷¥￥°±"


def _mostly_utf8(data: bytes) -> bool:
    """Most non-ASCII characters decode as UTF-8: the bad bytes are damage, not another encoding."""
    text = data[: 1 << 20].decode("utf-8", errors="replace")
    wide = sum(1 for ch in text if not ch.isascii())
    return text.count("\ufffd") * 10 < wide


def _refusal(data: bytes, source: str, at: int, found: str | None = None) -> Problem:
    line = data.count(b"\n", 0, at) + 1
    found = found or _guess(data)
    return Problem(
        source,
        line,
        None,
        "",
        f"the file is not UTF-8 or GBK text (byte 0x{data[at]:02x}); it looks like {found}: {SAVE_AS}",
    )


def _guess(data: bytes) -> str:
    sample = data[:65536]
    if sample.count(b"\x00") > len(sample) // 4:
        return "UTF-16 without a byte-order mark"
    for encoding, name in (("big5", "Big5 (Traditional Chinese)"), ("shift_jis", "Shift-JIS (Japanese)")):
        try:
            sample.decode(encoding)
            return name
        except UnicodeDecodeError:
            pass
    try:
        text = sample.decode("cp1252")
        if all(ch.isascii() or ch.isalpha() or ch in "€£©®°±µ·" for ch in text):
            return "Windows-1252 (Western European)"
    except UnicodeDecodeError:
        pass
    return "an encoding Merit does not read"
