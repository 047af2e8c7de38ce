"""Hangs and memory blow-ups found by the hostile-input work (issue 7, part 3), not yet fixed.

Each test is the exact reproducer of one finding, marked ``xfail(strict=True)``: it fails
today (so the suite stays green), and the day the owning module is fixed it passes, which
strict mode turns into a failure -- the sign to delete the marker and keep the test as the
regression guard.  The fixes are described in fuzz/README.md ("Findings").

Every reproducer runs in a forked child (fuzz.guard.run_isolated) with a CPU-time limit, so
a hang costs at most ~2 s here and cannot stall the run even when it sits in C code (nh3).
The limits are generous: with the fixes described in fuzz/README.md applied (checked by
monkeypatching them in), each input takes at most a third of its limit.
"""

from __future__ import annotations

import pytest

from fuzz.guard import Isolated, run_isolated, traced_peak
from mailflow.mail.parse import parse_mail

MiB = 1024 * 1024
CPU_SECONDS = 1  # parse_mail on each input below; the fixed code needs ~0.05-0.3 s


def parse_in_child(raw: bytes, *, traced: bool = False, cpu_seconds: int = CPU_SECONDS) -> Isolated:
    """parse_mail in a child; its value is the tracemalloc peak when *traced* (tracing
    slows the parser about fivefold, hence the larger CPU allowance those tests give)."""

    def run() -> int:
        if traced:
            return traced_peak(lambda: parse_mail(raw))[1]
        return len(parse_mail(raw).defects)

    return run_isolated(run, timeout=60, cpu_seconds=cpu_seconds, memory_mb=2048)


def assert_bounded(result: Isolated, raw: bytes, *, memory_ratio: int | None = None) -> None:
    assert result.outcome == "returned", (
        f"{result.outcome} ({result.error}) after {result.seconds:.1f} s "
        f"on a {len(raw) / MiB:.2f} MiB mail"
    )
    if memory_ratio is not None:
        # Python allocations (tracemalloc peak): what the parser keeps, not what the
        # allocator happened to have free after the fork.
        assert isinstance(result.value, int)
        bound = memory_ratio * len(raw) + 2 * MiB
        assert result.value < bound, (
            f"peak {result.value / MiB:.1f} MiB for a {len(raw) / MiB:.2f} MiB mail "
            f"(bound {bound / MiB:.1f} MiB)"
        )


def finding(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=reason)


@finding("F1 charsets.decode_header_value: quadratic in unaligned base64 encoded words")
def test_f1_many_unaligned_base64_words_in_one_header() -> None:
    # "Q" leaves one base64 character pending; every "QUJD" after it keeps 4k+1 pending, so
    # the pending string is re-copied on every word (str += on a closure variable).
    raw = "From: a@example.test\r\nSubject: =?utf-8?B?Q?=" + " =?utf-8?B?QUJD?=" * 300_000
    raw_bytes = (raw + "\r\n\r\nbody\r\n").encode()
    assert_bounded(parse_in_child(raw_bytes, cpu_seconds=2), raw_bytes)  # fixed: ~0.65 s


def nested_with_long_body(depth: int, lines: int) -> bytes:
    inner = b"Content-Type: text/plain\r\n\r\n" + b"x\r\n" * lines
    for level in range(depth):
        b = b"n%d" % level
        inner = (
            b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n--' + b + b"\r\n"
            + inner + b"\r\n--" + b + b"--\r\n"
        )  # fmt: skip
    return b"From: a@example.test\r\nSubject: deep\r\n" + inner


@finding("F2 parse._feed/stdlib feedparser: every line is checked against every open boundary")
def test_f2_deep_multipart_with_a_long_innermost_body() -> None:
    # 300 open multiparts x 100,000 lines = 3e7 boundary checks in email.feedparser, for a
    # 0.3 MB mail; the tree below MAX_DEPTH is all parse.py reads anyway.
    raw = nested_with_long_body(300, 100_000)
    assert_bounded(parse_in_child(raw), raw)


@finding("F3 parse._feed: MAX_PARTS bounds the walk, not the stdlib parse (~50 B per byte)")
def test_f3_tiny_parts_memory() -> None:
    raw = (
        b"From: a@example.test\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        + b"--b\r\n\r\nx\r\n" * 12_000
        + b"--b--\r\n"
    )
    assert_bounded(parse_in_child(raw, traced=True, cpu_seconds=10), raw, memory_ratio=8)


@finding("F4 parse._parse_addresses: quadratic 'addr in value' and no cap on address count")
def test_f4_forty_thousand_distinct_addresses() -> None:
    to = ", ".join(f"u{i}@example{i}.test" for i in range(40_000))
    raw = f"From: a@example.test\r\nTo: {to}\r\n\r\nbody\r\n".encode()
    assert_bounded(parse_in_child(raw), raw)


@finding("F5 parse._bodies/nh3: html5ever is quadratic in nested block elements")
def test_f5_deeply_nested_divs() -> None:
    raw = b"From: a@example.test\r\nContent-Type: text/html\r\n\r\n" + b"<div>" * 60_000 + b"x"
    assert_bounded(parse_in_child(raw), raw)


@finding("F6 parse.MAX_HTML_TO_TEXT: inscriptis on up to 4M characters of HTML (~70x memory)")
def test_f6_html_only_mail_with_a_big_table() -> None:
    rows = b"<tr><td>a</td><td>b</td></tr>" * 70_000  # 2 MB: ~5.5 s of CPU and +220 MB today
    raw = b"From: a@example.test\r\nContent-Type: text/html\r\n\r\n<table>" + rows + b"</table>"
    assert_bounded(parse_in_child(raw, cpu_seconds=2), raw)  # fixed: ~0.7 s (nh3 included)


@finding("F7 parse: no cap on header fields (~30 B of memory per header byte)")
def test_f7_thirty_thousand_header_fields() -> None:
    fields = b"".join(b"X-H%d: v\r\n" % i for i in range(30_000))
    raw = b"From: a@example.test\r\n" + fields + b"\r\nbody"
    assert_bounded(parse_in_child(raw, traced=True, cpu_seconds=10), raw, memory_ratio=8)


@finding("F8 charsets._guess: charset-normalizer run once per undecodable header (~1.5 ms each)")
def test_f8_many_headers_with_undecodable_8bit_text() -> None:
    fields = b"".join(b"X-H%d: \xff\x80\xfe abc\r\n" % i for i in range(12_000))
    raw = b"From: a@example.test\r\n" + fields + b"\r\nbody"
    assert_bounded(parse_in_child(raw), raw)
