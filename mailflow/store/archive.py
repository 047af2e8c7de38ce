"""Content-addressed file store for every raw mail and attachment (R-GEN-3).

Blobs are named by their SHA-256 and sharded two levels deep so no directory grows huge.
Writes go to a temp file, are fsynced, then renamed: a crash never leaves half a blob under a
real name, and storing the same bytes twice is a no-op.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from mailflow.errors import ArchiveError


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Archive:
    """Stores and returns bytes by their hash; the database holds the hash, never a path."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ArchiveError(f"not a sha256 digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes, digest: str | None = None) -> str:
        """Store *data* and return its digest; idempotent."""
        digest = digest or sha256_hex(data)
        target = self.path_for(digest)
        if target.exists() and target.stat().st_size == len(data):
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            Path(tmp).replace(target)
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise ArchiveError(f"cannot write {target}: {exc}") from exc
        return digest

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
