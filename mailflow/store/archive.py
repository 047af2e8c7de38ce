"""Content-addressed file store for every raw mail and attachment (R-GEN-3).

Blobs are named by their SHA-256 and sharded two levels deep so no directory grows huge.

Why this exact sequence (issue 19): a blob is written to a temporary name in its own
directory, the file is fsynced, renamed into place, and the directory is fsynced. Written in
place, a crash (kill -9 inside the write) leaves half a blob under the real name; renamed
before its fsync, a power loss can leave the name pointing at a file whose data never reached
the disk; without the directory fsync, the rename itself may be lost although the database
row naming the blob was committed. The file system calls go through a small ``FileLayer``
so tests can check that order with a layer that injects faults (tests/test_archive_atomic.py)
and kill the process in the middle of a large write.

An existing file is never trusted by its name alone: a blob of the wrong size, or of the right
size whose bytes do not hash to its name (a torn write that kept its length, bit rot), is
written again the same safe way.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from mailflow.errors import ArchiveError

#: bytes handed to one write(2); a large attachment takes several
WRITE_CHUNK = 1 << 20


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileLayer(Protocol):
    """The file system calls the archive makes, in the order it makes them."""

    def size(self, path: Path) -> int | None:
        """The size of *path*, or None when there is no such file."""
        ...

    def read(self, path: Path) -> bytes: ...

    def make_dirs(self, path: Path) -> None: ...

    def create_temp(self, directory: Path) -> tuple[int, Path]:
        """A new, empty, private temporary file in *directory*: (open fd, path)."""
        ...

    def write(self, fd: int, data: memoryview) -> int:
        """Write some of *data*; how many bytes were written."""
        ...

    def fsync(self, fd: int) -> None: ...

    def close(self, fd: int) -> None: ...

    def rename(self, source: Path, target: Path) -> None: ...

    def fsync_dir(self, directory: Path) -> None: ...

    def unlink(self, path: Path) -> None: ...


class OsFiles:
    """The real file system."""

    def size(self, path: Path) -> int | None:
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return None

    def read(self, path: Path) -> bytes:
        return path.read_bytes()

    def make_dirs(self, path: Path) -> None:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def create_temp(self, directory: Path) -> tuple[int, Path]:
        fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-")  # 0600
        return fd, Path(name)

    def write(self, fd: int, data: memoryview) -> int:
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def close(self, fd: int) -> None:
        os.close(fd)

    def rename(self, source: Path, target: Path) -> None:
        source.replace(target)

    def fsync_dir(self, directory: Path) -> None:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def unlink(self, path: Path) -> None:
        path.unlink(missing_ok=True)


class Archive:
    """Stores and returns bytes by their hash; the database holds the hash, never a path."""

    def __init__(self, root: Path, files: FileLayer | None = None) -> None:
        self.root = root
        self.files: FileLayer = files or OsFiles()

    def path_for(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ArchiveError(f"not a sha256 digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes, digest: str | None = None) -> str:
        """Store *data* durably and return its digest; idempotent."""
        digest = digest or sha256_hex(data)
        target = self.path_for(digest)
        try:
            if self._holds(target, digest, len(data)):
                return digest
            self._write_new(target, data)
        except OSError as exc:
            raise ArchiveError(f"cannot write {target}: {exc}") from exc
        return digest

    def _holds(self, target: Path, digest: str, size: int) -> bool:
        """True when *target* already holds exactly these bytes: the size first (cheap),
        then, as a file of the right size may still be torn or rotten, the hash."""
        if self.files.size(target) != size:
            return False
        return sha256_hex(self.files.read(target)) == digest

    def _write_new(self, target: Path, data: bytes) -> None:
        """temp write -> fsync(file) -> rename -> fsync(dir): see the module docstring."""
        files = self.files
        files.make_dirs(target.parent)
        fd, tmp = files.create_temp(target.parent)
        try:
            try:
                view = memoryview(data)
                while view:
                    written = files.write(fd, view[:WRITE_CHUNK])
                    view = view[written:]
                files.fsync(fd)
            finally:
                files.close(fd)
            files.rename(tmp, target)
        except BaseException:
            files.unlink(tmp)
            raise
        files.fsync_dir(target.parent)

    def get(self, digest: str) -> bytes:
        try:
            return self.path_for(digest).read_bytes()
        except FileNotFoundError as exc:
            raise ArchiveError(f"blob {digest} is not in the archive at {self.root}") from exc

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, str) and self.path_for(digest).exists()

    def verify(self, digest: str) -> bool:
        """True when the stored bytes still hash to their name (bit rot, tampering)."""
        return sha256_hex(self.get(digest)) == digest
