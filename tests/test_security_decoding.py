"""Issue 20, finding 3: a base64 body is decoded in time and memory linear in its size.

``Q=Q=Q=…`` used to be split at every "=" and each one-letter piece decoded (and failed) on
its own: 52 MB took 51 s and 2.5 GB. Now it costs what a clean body of the same size costs;
and what well-formed base64 decodes to is unchanged (property tests).
"""

from __future__ import annotations

import base64
import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.mail.parse import MAX_B64_RUNS, parse_mail


def mail_with_body(encoded: bytes) -> bytes:
    return (b"From: a@example.test\r\nTo: b@example.test\r\nSubject: x\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
            b"--XX\r\nContent-Type: application/octet-stream; name=a.bin\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"\r\n--XX--\r\n")


def wrapped(text: bytes, width: int = 76) -> bytes:
    return b"\r\n".join(text[i:i + width] for i in range(0, len(text), width))


def peak_parsing(raw: bytes) -> tuple[int, bytes]:
    tracemalloc.start()
    try:
        mail = parse_mail(raw)
        return tracemalloc.get_traced_memory()[1], mail.attachments[0].data
    finally:
        tracemalloc.stop()


def test_many_padding_signs_cost_what_a_clean_body_of_that_size_costs() -> None:
    size = 4 * 1024 * 1024
    for wrap in (False, True):
        shape = wrapped if wrap else bytes
        clean_peak, _ = peak_parsing(mail_with_body(shape(b"QUJD" * (size // 4))))
        for hostile in (b"Q=" * (size // 2), b"QQ==\t =" * (size // 7), b"=" * size,
                        b"Q=Q==?!" * (size // 7)):
            peak, data = peak_parsing(mail_with_body(shape(hostile)))
            # the old decoder: ~9x the clean body's peak (25x the body itself)
            assert peak < 2 * clean_peak, (wrap, hostile[:8])
            assert len(data) <= size  # a bounded result, whatever it decodes to


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000))
def test_well_formed_base64_decodes_to_the_same_bytes(data: bytes) -> None:
    raw = mail_with_body(base64.encodebytes(data).replace(b"\n", b"\r\n"))
    (attachment,) = parse_mail(raw).attachments
    assert attachment.data == data


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=200), min_size=2, max_size=MAX_B64_RUNS // 2))
def test_glued_base64_runs_decode_run_by_run(chunks: list[bytes]) -> None:
    """Some clients concatenate separately encoded pieces, padding and all."""
    raw = mail_with_body(wrapped(b"".join(base64.b64encode(c) for c in chunks)))
    (attachment,) = parse_mail(raw).attachments
    assert attachment.data == b"".join(chunks)
