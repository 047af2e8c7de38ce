"""Everything mailflow writes is private to its user (issue 20, R-GEN-3's archive and more).

Why: the database holds form fields, addresses and the full text of every reply, the outbox
holds whole mails, exports the request list; none of it is for other accounts on the host.
Every command starts with umask 077 (files 0600, directories 0700), and the data directories
a service uses are made private even when they existed before with looser modes (a directory
another tool created 0755). The systemd unit sets ``UMask=0077`` as well (docs/deployment.md).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def set_private_umask() -> None:
    """From here on, new files are 0600 and new directories 0700."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create *path* (and missing parents) 0700; take group/other access away from an existing
    one that is ours. A directory of another owner is left alone (chmod would fail)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    private_file(path)
    return path


def private_file(path: Path) -> None:
    """Take group/other access away from *path* when it exists and is ours."""
    with contextlib.suppress(FileNotFoundError, PermissionError):
        info = path.stat()
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
            path.chmod(stat.S_IMODE(info.st_mode) & ~0o077)


def sqlite_files(database: Path) -> list[Path]:
    """A SQLite database and its write-ahead log and shared-memory files."""
    return [database, database.with_name(database.name + "-wal"),
            database.with_name(database.name + "-shm")]
