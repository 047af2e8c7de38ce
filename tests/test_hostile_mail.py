"""Hostile mail: parse_mail never raises, never hangs, and its file names are always safe.

Every example goes through fuzz.oracles.check_mail -- the same invariants the fuzz target
(``python -m fuzz.mail_parser``) hunts for: no exception, attachment file names that stay
plain names inside the storage folder on Linux and Windows, HTML without script or remote
loads, one-line subjects, and a classifier that copes with whatever the parser returned.
A per-input alarm (fuzz.guard.time_limit) turns a hang into a failure naming the input.
Inputs start from the shared corpus and our own built mails (fuzz.corpus) and are mutated
by structure-aware mutators (fuzz.mutations), each one also exercised on its own.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from fuzz import corpus, mutations
from fuzz.guard import time_limit
from fuzz.oracles import assert_safe_filename, check_mail
from mailflow.mail.filenames import MAX_NAME_BYTES, safe_filename
from mailflow.mail.parse import MAX_DEPTH, MAX_PARTS, ParsedMail

HANG_LIMIT = 10.0  # seconds for one parse of an input under ~300 KB (they take milliseconds)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FOLDER = Path("/srv/mailflow/attachments")  # never written: names are only resolved against it

SEEDS = corpus.mail_seeds(max_bytes=48 * 1024, limit=150)
FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse_checked(raw: bytes) -> ParsedMail:
    if currently_in_test_context():
        note(f"input: {len(raw)} bytes, starts {raw[:300]!r}")
    with time_limit(HANG_LIMIT, f"parse_mail on {len(raw)} bytes starting {raw[:200]!r}"):
        return check_mail(raw, FOLDER)


def mail_with_part(part_headers: bytes, payload: bytes = b"PK\x03\x04data") -> bytes:
    return (
        b"From: a@example.test\r\nSubject: t\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
        b"--b\r\n" + part_headers + b"\r\n\r\n" + payload + b"\r\n--b--\r\n"
    )


# --- attachment file names -----------------------------------------------------------------


@pytest.mark.parametrize("style", [0, 1, 2, 3], ids=["quoted", "rfc2047", "rfc2231", "raw8bit"])
@pytest.mark.parametrize("name", mutations.HOSTILE_NAMES, ids=ascii)
def test_hostile_attachment_names_become_safe_plain_names(name: str, style: int) -> None:
    ctype = b"Content-Type: " + DOCX.encode()
    disposition = b"\r\nContent-Disposition: attachment; "
    for headers in (
        ctype + disposition + mutations.encode_filename_param(name, style),
        ctype + b"; " + mutations.encode_filename_param(name, style, "name"),
    ):
        parsed = parse_checked(mail_with_part(headers))
        assert len(parsed.attachments) == 1


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../x", "x"),
        ("/etc/passwd", "passwd"),
        ("C:\\TEMP\\a.docx", "a.docx"),
        ("a\x00b.docx", "ab.docx"),
        ("CON.docx", "_CON.docx"),
        ("php://foo", "foo"),
        ("申请表\u202excod.exe", "申请表xcod.exe"),
        ("\u202eexe.docx", "exe.docx"),
    ],
)
def test_the_classic_hostile_names(name: str, expected: str) -> None:
    param = mutations.encode_filename_param(name, 2)
    parsed = parse_checked(mail_with_part(b"Content-Disposition: attachment; " + param))
    (att,) = parsed.attachments
    assert att.filename == expected
    assert att.original_filename == name  # kept for the record, never used as a path


DANGEROUS = [*'/\\.:\x00\r\n\t <>"|?*%~', "\u202e", "\u2066", "\u200f", "\ufeff", "\u2028"]
DANGEROUS += ["\x7f", "CON", "nul", "COM1", "LPT9", "AUX", "PRN", "..", "申", "\uff0e", "\u2215"]
dangerous_chars = st.sampled_from([*DANGEROUS, "\ud800"])
hostile_name_text = st.one_of(
    st.text(max_size=80),
    st.lists(dangerous_chars | st.characters(), max_size=40).map("".join),
    st.builds(lambda stem, ext: stem + ext, dangerous_chars, st.sampled_from(["", ".docx", ".x"])),
    st.text(min_size=190, max_size=400),
)


@settings(FAST, max_examples=200)
@given(hostile_name_text, st.integers(1, 999), st.sampled_from(["", DOCX, "text/plain"]))
def test_safe_filename_property(original: str, index: int, content_type: str) -> None:
    name = safe_filename(original, index, content_type)
    assert_safe_filename(name, FOLDER)
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES


# --- arbitrary and mutated input -----------------------------------------------------------


@settings(FAST, max_examples=200)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes(raw: bytes) -> None:
    parse_checked(raw)


@settings(FAST, max_examples=200)
@given(st.sampled_from(SEEDS), st.randoms(use_true_random=False))
def test_mutated_corpus_mails(seed: bytes, rnd: random.Random) -> None:
    parse_checked(mutations.mutate(seed, rnd, mutations.MAIL_MUTATORS))


@pytest.mark.parametrize("mutator", mutations.MAIL_MUTATORS, ids=lambda m: m.__name__)
@settings(FAST, max_examples=15)
@given(seed=st.sampled_from(SEEDS), rnd=st.randoms(use_true_random=False))
def test_each_mutator_on_corpus_mails(
    mutator: mutations.Mutator, seed: bytes, rnd: random.Random
) -> None:
    mutated = mutator(seed, rnd)
    assume(mutated != seed)
    parse_checked(mutated)


# --- MIME structure built by strategy ------------------------------------------------------

leaf_parts = st.builds(
    lambda ctype, cte, name, body: (
        b"Content-Type: " + ctype + b"\r\n" + cte
        + (b"Content-Disposition: attachment; " + name + b"\r\n" if name else b"")
        + b"\r\n" + body
    ),
    st.sampled_from([b"text/plain; charset=gbk", b"text/html", DOCX.encode(), b"image/png",
                     b"message/delivery-status", b"text/plain; charset=x-unknown", b"bogus"]),
    st.sampled_from([b"", b"Content-Transfer-Encoding: base64\r\n",
                     b"Content-Transfer-Encoding: quoted-printable\r\n",
                     b"Content-Transfer-Encoding: x-uuencode\r\n"]),
    st.one_of(st.just(b""), st.builds(mutations.encode_filename_param,
                                      st.sampled_from(mutations.HOSTILE_NAMES), st.integers(0, 3))),
    st.binary(max_size=200),
)  # fmt: skip


def _multipart(children: list[bytes], boundary: bytes) -> bytes:
    out = b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\npreamble\r\n'
    for child in children:
        out += b"--" + boundary + b"\r\n" + child + b"\r\n"
    return out + b"--" + boundary + b"--\r\nepilogue\r\n"


def _tree(depth: int) -> st.SearchStrategy[bytes]:
    if depth == 0:
        return leaf_parts
    below = _tree(depth - 1)
    multipart = st.builds(
        _multipart,
        st.lists(st.one_of(leaf_parts, below), min_size=0, max_size=4),
        st.sampled_from([b"b%d" % depth, b"same", b""]),  # reused and empty boundaries too
    )
    forwarded = below.map(
        lambda inner: b"Content-Type: message/rfc822\r\n\r\nFrom: x@y\r\n" + inner
    )
    return st.one_of(leaf_parts, multipart, forwarded)


@settings(FAST, max_examples=150)
@given(_tree(5))
def test_generated_mime_trees(body: bytes) -> None:
    parsed = parse_checked(b"From: a@example.test\r\nSubject: tree\r\nMIME-Version: 1.0\r\n" + body)
    assert len(parsed.attachments) <= MAX_PARTS


@pytest.mark.parametrize("depth", [MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 2, 60, 1000])
@pytest.mark.parametrize("kind", [b"multipart", b"rfc822", b"mixed"])
def test_deep_nesting_is_cut_not_followed(depth: int, kind: bytes) -> None:
    inner = b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    for level in range(depth):
        use_multipart = kind == b"multipart" or (kind == b"mixed" and level % 2)
        if use_multipart:
            inner = _multipart([inner], b"d%d" % level)
        else:
            inner = b"Content-Type: message/rfc822\r\n\r\nSubject: fw\r\n" + inner
    parsed = parse_checked(b"From: a@example.test\r\nSubject: deep\r\n" + inner)
    assert parsed.subject == "deep"
    if depth > MAX_DEPTH + 1:
        assert parsed.defects  # what was not read is said


# --- headers, charsets, encoded words, RFC 2231 --------------------------------------------


@pytest.mark.parametrize("label", mutations.HOSTILE_CHARSETS, ids=ascii)
def test_hostile_charset_labels_everywhere(label: str) -> None:
    raw_label = label.encode("utf-8", "surrogateescape")
    raw = (
        b"From: =?" + raw_label + b"?B?1tDOxA==?= <a@example.test>\r\n"
        b"Subject: =?" + raw_label + b"?Q?=D6=D0=CE=C4?=\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=" + raw_label + b"\r\n\r\n\xd6\xd0\xce\xc4\r\n"
        b'--b\r\nContent-Type: text/html; charset="' + raw_label + b'"\r\n\r\n<p>\xd6\xd0</p>\r\n'
        b"--b\r\nContent-Type: " + DOCX.encode() + b"\r\nContent-Disposition: attachment; "
        b"filename*=" + raw_label + b"''%D6%D0%CE%C4.docx\r\n\r\nPK\r\n--b--\r\n"
    )
    parse_checked(raw)


@pytest.mark.parametrize("word", mutations.ENCODED_WORDS, ids=ascii)
def test_invalid_encoded_words(word: str) -> None:
    encoded = word.encode()
    raw = (
        b"From: " + encoded + b" <a@example.test>\r\nTo: " + encoded + b", b@example.test\r\n"
        b"Subject: x " + encoded + b" y\r\n\r\nbody\r\n"
    )
    parse_checked(raw)
    parse_checked(mail_with_part(b'Content-Type: application/pdf; name="' + encoded + b'"'))


@pytest.mark.parametrize("garbage", mutations.RFC2231_GARBAGE, ids=ascii)
def test_rfc2231_garbage(garbage: str) -> None:
    for header in (b"Content-Disposition: attachment; ", b"Content-Type: application/pdf; "):
        parsed = parse_checked(mail_with_part(header + garbage.encode()))
        assert len(parsed.attachments) == 1


@settings(FAST, max_examples=30)
@given(
    st.sampled_from([b"Subject", b"From", b"To", b"References", b"Content-Type", b"X-Long"]),
    st.sampled_from(
        [
            b"a",
            b" x",
            b"\r\n a",
            b"\xd6\xd0",
            b" =?utf-8?B?5Lit?=",
            b", u@x.test",
            b"=?",
            b"(",
            b'"',
            b"<",
            b";",
            b"\\",
        ]
    ),
    st.sampled_from([1_000, 20_000, 200_000]),
)
def test_huge_header_lines(name: bytes, unit: bytes, size: int) -> None:
    value = unit * (size // len(unit))
    parsed = parse_checked(name + b": " + value + b"\r\nFrom: a@example.test\r\n\r\nbody\r\n")
    assert "\n" not in parsed.subject


@settings(FAST, max_examples=30)
@given(st.sampled_from(SEEDS), st.integers(1, 300), st.randoms(use_true_random=False))
def test_duplicated_headers(seed: bytes, times: int, rnd: random.Random) -> None:
    end = seed.find(b"\r\n\r\n")
    head = seed[: end if end > 0 else len(seed)].split(b"\n")
    line = rnd.choice(head) + b"\n"
    parse_checked(line * times + seed)


@pytest.mark.parametrize(
    "name",
    ["../../x", "/etc/passwd", "C:\\TEMP\\a.docx", "a\x00b.docx", "CON.docx", "con .txt",
     "php://foo", "\u202eexe.docx", ".", "..", "a.docx.", "a:b", "x" * 201],
    ids=ascii,
)  # fmt: skip
def test_the_check_itself_rejects_unsafe_names(name: str) -> None:
    with pytest.raises(AssertionError):
        assert_safe_filename(name, FOLDER)
