"""Regenerate mailflow/mail/cjk_frequency.py from chardet 5.2.0's frequency tables.

Run on demand (not in CI): python3 -m venv /tmp/chd && /tmp/chd/bin/pip install chardet==5.2.0
&& /tmp/chd/bin/python scripts/make_cjk_frequency.py > mailflow/mail/cjk_frequency.py
(then re-add the module docstring). The tables map a code position to its frequency order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chardet.big5freq import BIG5_CHAR_TO_FREQ_ORDER  # type: ignore[import-not-found]
from chardet.euckrfreq import EUCKR_CHAR_TO_FREQ_ORDER  # type: ignore[import-not-found]
from chardet.gb2312freq import GB2312_CHAR_TO_FREQ_ORDER  # type: ignore[import-not-found]
from chardet.jisfreq import JIS_CHAR_TO_FREQ_ORDER  # type: ignore[import-not-found]


def _char(codec: str, lead: int, trail: int) -> str | None:
    if lead > 0xFE:
        return None
    try:
        return bytes((lead, trail)).decode(codec)
    except UnicodeDecodeError:
        return None


def _ranked(table: Sequence[int], char_at: Callable[[int], str | None], size: int) -> str:
    pairs = sorted((order, ch) for i, order in enumerate(table)
                   if (ch := char_at(i)) is not None and ord(ch) > 0x2000)
    seen: dict[str, None] = {}
    for _, ch in pairs:
        seen.setdefault(ch, None)
    return "".join(list(seen)[:size])


def _big5(i: int) -> str | None:
    row, col = divmod(i, 157)
    return _char("big5", 0xA4 + row, 0x40 + col if col < 63 else 0xA1 + col - 63)


TABLES = {
    "SIMPLIFIED": _ranked(GB2312_CHAR_TO_FREQ_ORDER,
                          lambda i: _char("gb2312", 0xB0 + i // 94, 0xA1 + i % 94), 3000),
    "TRADITIONAL": _ranked(BIG5_CHAR_TO_FREQ_ORDER, _big5, 3000),
    "KOREAN": _ranked(EUCKR_CHAR_TO_FREQ_ORDER,
                      lambda i: _char("euc_kr", 0xB0 + i // 94, 0xA1 + i % 94), 1500),
    "JAPANESE": _ranked(JIS_CHAR_TO_FREQ_ORDER,
                        lambda i: _char("euc_jp", 0xA1 + i // 94, 0xA1 + i % 94), 2000),
}

if __name__ == "__main__":
    for name, chars in TABLES.items():
        print(f"{name} = (")
        for start in range(0, len(chars), 60):
            print(f'    "{chars[start:start + 60]}"')
        print(")\n")
