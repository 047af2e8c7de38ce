"""Issue 19.2: archive writes are atomic and durable, and a test fails when they are not.

A simulated file system (``Disk``) plays the archive's calls and knows what a power loss
keeps: file data only once fsynced, a directory entry (a create or a rename) only once its
directory is fsynced. Cutting the power before each call in turn, the blob's name must show
either nothing or the whole blob, and after ``put`` returns it must be there for good. An
archive that renames before the fsync, skips the directory fsync or writes in place fails this
(checked below with such archives). A real SIGKILL in the middle of writing a large
attachment leaves no partial blob under its name, and an existing file is trusted only when
its size and hash are right.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mailflow.store.archive import WRITE_CHUNK, Archive, sha256_hex

REPO = Path(__file__).resolve().parents[1]


class PowerLoss(Exception):
    pass


class Disk:
    """An in-memory file system with a page cache: what survives a power loss is only what
    was fsynced (file data) or whose directory was fsynced (names)."""

    def __init__(self, crash_before: int | None = None) -> None:
        self.crash_before = crash_before
        self.calls: list[str] = []
        self.names: dict[Path, int] = {}
        self.durable_names: dict[Path, int] = {}
        self.data: dict[int, bytearray] = {}
        self.durable_data: dict[int, bytes] = {}
        self.fds: dict[int, int] = {}
        self._next = 3

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.crash_before is not None and len(self.calls) == self.crash_before:
            raise PowerLoss(name)

    def _new_inode(self) -> int:
        self._next += 1
        return self._next

    def put_file(self, path: Path, content: bytes) -> None:
        """A file that is already there, durably (before the test's run)."""
        inode = self._new_inode()
        self.names[path] = self.durable_names[path] = inode
        self.data[inode] = bytearray(content)
        self.durable_data[inode] = content

    def after_power_loss(self, path: Path) -> bytes | None:
        inode = self.durable_names.get(path)
        return None if inode is None else self.durable_data.get(inode, b"")

    # -- the FileLayer ---------------------------------------------------------------------
    def size(self, path: Path) -> int | None:
        inode = self.names.get(path)
        return None if inode is None else len(self.data[inode])

    def read(self, path: Path) -> bytes:
        return bytes(self.data[self.names[path]])

    def make_dirs(self, path: Path) -> None:
        pass  # directories are taken as existing durably

    def create_temp(self, directory: Path) -> tuple[int, Path]:
        self._call("create_temp")
        inode = self._new_inode()
        path = directory / f".tmp-{inode}"
        self.names[path] = inode
        self.data[inode] = bytearray()
        self.fds[inode] = inode
        return inode, path

    def write(self, fd: int, data: memoryview) -> int:
        self._call("write")
        part = bytes(data[:4096])  # a short write, as write(2) may do
        self.data[self.fds[fd]] += part
        return len(part)

    def fsync(self, fd: int) -> None:
        self._call("fsync")
        self.durable_data[self.fds[fd]] = bytes(self.data[self.fds[fd]])

    def close(self, fd: int) -> None:
        self._call("close")
        self.fds.pop(fd)

    def rename(self, source: Path, target: Path) -> None:
        self._call("rename")
        self.names[target] = self.names.pop(source)

    def fsync_dir(self, directory: Path) -> None:
        self._call("fsync_dir")
        for path in [p for p in self.durable_names if p.parent == directory]:
            if path not in self.names:
                del self.durable_names[path]
        for path, inode in self.names.items():
            if path.parent == directory:
                self.durable_names[path] = inode

    def unlink(self, path: Path) -> None:
        self._call("unlink")
        self.names.pop(path, None)


BLOB = bytes(range(256)) * 64  # 16 KiB: several (short) writes


def violations(archive_type: type[Archive], data: bytes = BLOB,
               existing: bytes | None = None, root: Path = Path("/archive")) -> list[str]:
    """Cut the power before every call of one put; what the blob's name showed afterwards
    that it must not (a part, or nothing once put had returned)."""
    digest = sha256_hex(data)
    total = None
    found: list[str] = []
    crash_before = 1
    while total is None or crash_before <= total + 1:
        disk = Disk(crash_before)
        archive = archive_type(root, files=disk)
        target = archive.path_for(digest)
        if existing is not None:
            disk.put_file(target, existing)
        try:
            archive.put(data)
        except PowerLoss as cut:
            after = disk.after_power_loss(target)
            if after is not None and after != data and after != existing:
                found.append(f"power lost before {cut} (call {crash_before}): "
                             f"{len(after)} bytes under the blob's name")
        else:
            total = len(disk.calls) if total is None else total
            if disk.after_power_loss(target) != data:
                found.append("put returned, but after a power loss the blob is gone or torn")
        crash_before += 1
        if crash_before > 10_000:
            raise AssertionError("put never finished")
    return found


def test_every_power_loss_leaves_nothing_or_the_whole_blob_and_put_is_durable() -> None:
    assert violations(Archive) == []


def test_the_calls_come_in_the_safe_order() -> None:
    disk = Disk()
    Archive(Path("/archive"), files=disk).put(BLOB)
    calls = [c for i, c in enumerate(disk.calls) if c != "write" or disk.calls[i - 1] != "write"]
    assert calls == ["create_temp", "write", "fsync", "close", "rename", "fsync_dir"]


class RenameBeforeFsync(Archive):
    def _write_new(self, target: Path, data: bytes) -> None:
        files = self.files
        fd, tmp = files.create_temp(target.parent)
        view = memoryview(data)
        while view:
            view = view[files.write(fd, view):]
        files.rename(tmp, target)
        files.fsync_dir(target.parent)
        files.fsync(fd)  # too late: the name was durable before the data
        files.close(fd)


class NoDirectoryFsync(Archive):
    def _write_new(self, target: Path, data: bytes) -> None:
        files = self.files
        fd, tmp = files.create_temp(target.parent)
        view = memoryview(data)
        while view:
            view = view[files.write(fd, view):]
        files.fsync(fd)
        files.close(fd)
        files.rename(tmp, target)


class InPlace(Archive):
    def _write_new(self, target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


@pytest.mark.parametrize("wrong", [RenameBeforeFsync, NoDirectoryFsync, InPlace])
def test_the_check_catches_an_archive_that_breaks_the_order(
    wrong: type[Archive], tmp_path: Path
) -> None:
    assert violations(wrong, root=tmp_path) != []  # InPlace writes for real: in tmp_path


def test_an_existing_file_is_trusted_only_with_the_right_size_and_hash(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    data = b"the real attachment" * 100
    target = archive.path_for(sha256_hex(data))
    target.parent.mkdir(parents=True)
    for damaged in (data[:-7], b"\0" * len(data), data[:-1] + b"X"):  # short, zeroed, rotten
        target.write_bytes(damaged)
        assert archive.put(data) == sha256_hex(data)
        assert target.read_bytes() == data
    # and rewriting a damaged one is as safe as a first write
    assert violations(Archive, data=BLOB, existing=b"\0" * len(BLOB)) == []


KILLER = """
import os, signal, sys
from pathlib import Path
from mailflow.store.archive import Archive, OsFiles

class DieInTheMiddle(OsFiles):
    written = 0
    def write(self, fd, data):
        n = super().write(fd, data)
        DieInTheMiddle.written += n
        if DieInTheMiddle.written > int(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)
        return n

Archive(Path(sys.argv[1]), files=DieInTheMiddle()).put(Path(sys.argv[2]).read_bytes())
"""


def test_sigkill_inside_the_write_of_a_large_attachment_leaves_no_partial_blob(
    tmp_path: Path,
) -> None:
    data = (b"%PDF-1.7 scanned contract page " * 200_000)[:6 * WRITE_CHUNK + 12345]
    source = tmp_path / "attachment.pdf"
    source.write_bytes(data)
    root = tmp_path / "archive"
    digest = sha256_hex(data)
    killed = subprocess.run([sys.executable, "-c", KILLER, str(root), str(source),
                             str(2 * WRITE_CHUNK)], cwd=REPO, capture_output=True, timeout=60,
                            check=False)
    assert killed.returncode == -9, killed.stderr.decode()
    archive = Archive(root)
    target = archive.path_for(digest)
    leftovers = list(target.parent.glob(".tmp-*"))
    assert leftovers and 2 * WRITE_CHUNK <= leftovers[0].stat().st_size < len(data)
    assert not target.exists()  # never half a blob under the real name

    assert archive.put(data) == digest  # the rerun
    assert archive.get(digest) == data
