"""How a mail's thread headers and subject name the request it belongs to (pure parts)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.mail.parse import parse_mail
from mailflow.workflow.matching import subject_references, thread_ids
from mailflow_testing import mailbuild


@pytest.mark.parametrize(("subject", "expected"), [
    ("回复: [REQ-2026-000007] 请修改后重新提交：数据提取申请", ["REQ-2026-000007"]),
    ("关于req-2026-000012的补充", ["REQ-2026-000012"]),  # typed by hand, lower case
    ("RE: [REQ-2026-000001] 已受理 / REQ-2026-000002", ["REQ-2026-000001", "REQ-2026-000002"]),
    ("[REQ-2026-000001] 和 REQ-2026-000001 重复", ["REQ-2026-000001"]),
    ("REQ-2027-1234567 七位编号", ["REQ-2027-1234567"]),
    ("XREQ-2026-000001 不是编号", []),  # inside a longer word
    ("REQ-2026-0000012345 太长", []),
    ("REQ-2026-00001 太短", []),
    ("CHG-2026-000001 别的前缀", []),
    ("REQ-٢٠٢٦-٠٠٠٠٠١ 别的数字", []),  # only ASCII digits make a number
    ("", []),
])
def test_subject_references(subject: str, expected: list[str]) -> None:
    assert subject_references(subject, "REQ") == expected


def test_subject_references_are_bounded() -> None:
    subject = " ".join(f"REQ-2026-{n:06d}" for n in range(50))
    assert len(subject_references(subject, "REQ")) == 3


def test_thread_ids_most_direct_first() -> None:
    raw = mailbuild.human_mail(
        sender="a@example.test", to="b@example.test", subject="Re: x", body="y",
        extra_headers={"In-Reply-To": "<parent@x>",
                       "References": "<root@x> <middle@x> <parent@x>"})
    assert thread_ids(parse_mail(raw)) == ["<parent@x>", "<middle@x>", "<root@x>"]


def test_thread_ids_without_in_reply_to_take_the_newest_reference_first() -> None:
    raw = mailbuild.human_mail(
        sender="a@example.test", to="b@example.test", subject="Re: x", body="y",
        extra_headers={"References": " ".join(f"<m{n}@x>" for n in range(40))})
    ids = thread_ids(parse_mail(raw))
    assert ids[0] == "<m39@x>" and len(ids) == 20


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_subject_references_any_subject(subject: str) -> None:
    """Hostile subjects: no error, at most three numbers, each one a whole reference."""
    found = subject_references(subject, "REQ")
    assert len(found) <= 3
    assert all(re.fullmatch(r"REQ-[0-9]{4}-[0-9]{6,9}", r) for r in found)
    assert all(r in subject.upper() for r in found)
