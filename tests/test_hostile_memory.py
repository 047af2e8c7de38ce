"""Bounded memory for big and pathological mails: stated bounds, measured with tracemalloc
(Python allocations) or, for inputs that blow the C stack or time, in a forked child by its
peak resident memory (fuzz.guard.run_isolated).

Bounds stated here (what the intake may rely on when it sizes workers):
- a 25 MB mail peaks below 8x its size, whether the bytes are a base64 attachment or a
  raw 8-bit GBK body (the heavier case: about 6.5x, text is decoded and copied);
- 10,000 tiny parts: at most MAX_PARTS attachments, a defect, under 16 MB;
- MIME nesting 1000 deep (multipart or message/rfc822): a result with a defect, under 64 MB.
Where the parser does *not* yet keep a bound, tests/test_hostile_findings.py says so.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from fuzz.guard import run_isolated, traced_peak
from mailflow.mail.parse import MAX_DEPTH, MAX_PARTS, ParsedMail, parse_mail

MiB = 1024 * 1024
SIZE = 25 * 1024 * 1024
RATIO = 8
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def parse_measured(raw: bytes) -> tuple[ParsedMail, int]:
    return traced_peak(lambda: parse_mail(raw))


def big_attachment_mail() -> tuple[bytes, bytes]:
    payload = bytes(range(256)) * (SIZE * 3 // 4 // 256)
    raw = (
        b"From: a@example.test\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee attachment\r\n"
        b"--b\r\nContent-Type: " + XLSX.encode() + b'; name="big.xlsx"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(payload)
        + b"\r\n--b--\r\n"
    )
    return raw, payload


def test_25_mb_base64_attachment() -> None:
    raw, payload = big_attachment_mail()
    assert len(raw) > 24 * MiB
    parsed, peak = parse_measured(raw)
    (att,) = parsed.attachments
    assert att.sha256 == hashlib.sha256(payload).hexdigest()
    assert peak < RATIO * len(raw), f"peak {peak / MiB:.0f} MiB for {len(raw) / MiB:.0f} MiB"


def test_25_mb_gbk_body_labelled_gb2312() -> None:
    line = "申请人：张三，部门：信息技术部。\n".encode("gbk")
    raw = (
        b"From: a@example.test\r\nSubject: big\r\nContent-Type: text/plain; charset=gb2312\r\n\r\n"
        + line * (SIZE // len(line))
    )
    parsed, peak = parse_measured(raw)
    assert parsed.text.startswith("申请人：张三")
    assert peak < RATIO * len(raw), f"peak {peak / MiB:.0f} MiB for {len(raw) / MiB:.0f} MiB"


def tiny_parts(count: int) -> bytes:
    return (
        b"From: a@example.test\r\nSubject: parts\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        + b"--b\r\n\r\nx\r\n" * count
        + b"--b--\r\n"
    )


def test_ten_thousand_tiny_parts() -> None:
    parsed, peak = parse_measured(tiny_parts(10_000))
    assert 0 < len(parsed.attachments) <= MAX_PARTS
    assert any(str(MAX_PARTS) in d for d in parsed.defects)
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"


def nested(depth: int, kind: str) -> bytes:
    inner = b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    for level in range(depth):
        if kind == "multipart":
            b = b"n%d" % level
            inner = (
                b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n--' + b + b"\r\n"
                + inner + b"\r\n--" + b + b"--\r\n"
            )  # fmt: skip
        else:
            inner = b"Content-Type: message/rfc822\r\n\r\nSubject: fw\r\n" + inner
    return b"From: a@example.test\r\nSubject: deep\r\n" + inner


@pytest.mark.parametrize("kind", ["multipart", "rfc822"])
def test_nesting_1000_deep(kind: str) -> None:
    raw = nested(1000, kind)

    def run() -> tuple[str, int, int]:
        parsed = parse_mail(raw)
        return parsed.subject, len(parsed.attachments), len(parsed.defects)

    result = run_isolated(run, timeout=60, cpu_seconds=20, memory_mb=1024)
    assert result.outcome == "returned", f"{result.outcome} {result.error} {result.detail}"
    assert isinstance(result.value, tuple)
    subject, attachments, defects = result.value
    assert subject == "deep"
    assert attachments <= MAX_PARTS
    assert defects > 0  # nesting past MAX_DEPTH is reported, not silently followed
    assert result.rss_growth < 64 * MiB, f"peak memory grew {result.rss_growth // MiB} MiB"


def test_max_depth_is_what_the_parser_follows() -> None:
    parsed = parse_mail(nested(MAX_DEPTH + 3, "multipart"))
    assert parsed.text == ""
    assert any(f"deeper than {MAX_DEPTH}" in d for d in parsed.defects)
