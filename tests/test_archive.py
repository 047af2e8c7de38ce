"""The content-addressed archive: byte-exact, idempotent, verifiable."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.errors import ArchiveError
from mailflow.store.archive import Archive, sha256_hex


def test_put_get_round_trip_is_byte_exact(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    raw = "Subject: 测试\r\n\r\n正文\r\n".encode("gb18030")
    digest = archive.put(raw)
    assert digest == sha256_hex(raw)
    assert archive.get(digest) == raw
    assert digest in archive
    assert archive.verify(digest)


def test_put_twice_is_a_no_op(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    first = archive.put(b"same")
    path = archive.path_for(first)
    mtime = path.stat().st_mtime_ns
    assert archive.put(b"same") == first
    assert path.stat().st_mtime_ns == mtime
    assert not list(path.parent.glob(".tmp-*"))


def test_tampering_is_detected(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    digest = archive.put(b"original")
    archive.path_for(digest).write_bytes(b"changed")
    assert not archive.verify(digest)


def test_names_are_digests_only(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    with pytest.raises(ArchiveError):
        archive.path_for("../../etc/passwd")
    with pytest.raises(ArchiveError):
        archive.get("0" * 64)
