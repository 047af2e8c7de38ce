"""Address headers (From, To, Cc, Reply-To) -> Address values, refusing forged readings.

Why our own checks around the stdlib's ``getaddresses``: Python 3.11.7 lacks the
CVE-2023-27043 fix, under which a crafted header reads as a different address than the one
a mail client shows.  We apply the fixed version's checks ourselves and treat a header that
fails them as ambiguous (the caller ignores it and notes a defect).

Why a size cap: a To header is not bounded by anything but the mail size, and the stdlib
spends ~50 us per address; 40,000 addresses took seconds (fuzz/README.md F4).  Only the
first MAX_ADDRESS_HEADER characters are read -- far more than any real recipient list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses
from typing import NamedTuple

from mailflow.mail.charsets import decode_header_bytes, decode_header_value, to_bytes

MAX_ADDRESS_HEADER = 64 * 1024  # characters of one address header that are read


@dataclass(frozen=True)
class Address:
    """One mailbox.  ``addr`` is '' when what was written is not a usable address."""

    name: str
    addr: str

    @property
    def key(self) -> str:
        """Lowercased address, for comparisons."""
        return self.addr.lower()


class AddressList(NamedTuple):
    """What one header yields: the addresses (None if its reading cannot be trusted), and
    whether it was cut at MAX_ADDRESS_HEADER (the addresses after the cut are not read)."""

    addresses: tuple[Address, ...] | None
    cut: bool


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(value: str) -> str:
    """Whitespace collapsed and control characters dropped: safe to log and display."""
    return " ".join(_CONTROL.sub(" ", value).split())


def parse_addresses(value: str, hint: tuple[str, ...]) -> AddressList:
    """Addresses in a header (unfolded raw text; 8-bit bytes as surrogate escapes).

    The checks of the fixed stdlib: balanced quotes and parentheses, no ``[`` in a parsed
    address, one address per top-level comma -- and every parsed address must appear
    verbatim in the header, in order.
    """
    cut = len(value) > MAX_ADDRESS_HEADER
    if cut:
        # At the last comma before the limit, so no address is read half.  (A comma byte
        # is never part of a GBK or Big5 character, so raw 8-bit text cuts safely.)
        end = value.rfind(",", 0, MAX_ADDRESS_HEADER)
        value = value[: end if end > 0 else MAX_ADDRESS_HEADER]
    return AddressList(_parse(value, hint), cut)


def _parse(value: str, hint: tuple[str, ...]) -> tuple[Address, ...] | None:
    if not value.isascii():
        # Raw 8-bit text first: GBK and Big5 trail bytes include '@', '\\' and '[' (许 is
        # B3 5C in Big5), which would otherwise take part in the address syntax.
        value = decode_header_bytes(to_bytes(value), hint=hint).text
    bare = _strip_quotes_and_comments(value)
    if bare is None:
        return None
    # Group syntax ("Team: a@x, b@y;", "undisclosed-recipients:;") adds no mailboxes.
    bare = _GROUP_NAME.sub(r"\1", bare).replace(";", "")
    expected = sum(1 for segment in bare.split(",") if segment.strip())
    pairs = [(n, a) for n, a in getaddresses([value]) if n or a]
    if len(pairs) != expected:
        pairs = _merge_repeated(pairs)
        if len(pairs) != expected:
            return None
    result: list[Address] = []
    start = 0  # each address is looked for after the previous one: linear, not quadratic
    for name, addr in pairs:
        if "[" in addr:
            return None
        if addr:
            found = value.find(addr, start)
            if found < 0:
                return None
            start = found + len(addr)
        result.append(_address(name, addr, hint))
    return tuple(result)


def _strip_quotes_and_comments(value: str) -> str | None:
    """Value with quoted strings and comments removed; None if quotes or parentheses do
    not balance (the shape of CVE-2023-27043 forgeries)."""
    out: list[str] = []
    quoted = False
    depth = 0
    escaped = False
    for ch in value:
        if escaped:
            escaped = False
            continue
        if ch == "\\":
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"' and depth == 0:
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return None
        elif depth == 0:
            out.append(ch)
    return None if depth or quoted else "".join(out)


_GROUP_NAME = re.compile(r"(^|,)[^,:<>@]*:")


def _merge_repeated(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``a@x.cn <a@x.cn>`` (the address written as its own display name, common from
    Outlook and webmail) reads as two addresses; when both are the same it is one."""
    out: list[tuple[str, str]] = []
    for name, addr in pairs:
        if out and not out[-1][0] and out[-1][1] and out[-1][1].lower() == addr.lower():
            out[-1] = (out[-1][1], addr)
        else:
            out.append((name, addr))
    return out


_BAD_DOMAIN = re.compile(r"[\s<>()\[\],;:\\\"@]")
_BAD_LOCAL = re.compile(r"[\s<>()\[\],;:\\\"]")


def _address(name: str, addr: str, hint: tuple[str, ...]) -> Address:
    display = one_line(decode_header_value(name, hint=hint)) if name else ""
    if not addr.isascii():
        try:  # RFC 6532: UTF-8 in the address itself
            addr = addr.encode("utf-8", "surrogateescape").decode("utf-8")
        except UnicodeError:
            return Address(display, "")
    local, at, domain = addr.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or _BAD_DOMAIN.search(domain)
        or (not local.startswith('"') and _BAD_LOCAL.search(local))
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in addr)
    ):
        return Address(display or addr.strip(), "")
    return Address(display, f"{local}@{domain.lower()}")
