"""Issue 19.1: a mailbox position is (server, folder, UIDVALIDITY, UID).

Over the real Dovecot, under a running `mailflow run`: the watched folder is deleted and
created again, and new mail gets the old UIDs under a new UIDVALIDITY — each new mail is taken
in and answered once, and no old one twice. Restoring the folder from a backup that holds
mails already processed changes nothing (the content dedupe). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mailflow.config import Settings
from mailflow.store.models import InboundMail, SourcePosition
from mailflow_testing import mailbuild
from mailflow_testing.config_file import write_config
from mailflow_testing.dovecot import DovecotError
from tests.stack import SERVICE, query, stack_settings
from tests.test_run_loop import start, stop

FOLDER = "Requests"


def watching(mailstack: Any, url: str, tmp_path: Path) -> Settings:
    base = stack_settings(mailstack.dovecot, mailstack.smtp, url, tmp_path, poll_interval=1.0)
    return base.model_copy(update={"mailbox": base.mailbox.model_copy(
        update={"folder": FOLDER, "idle": False})})


def mails(senders: list[str], tag: str) -> list[bytes]:
    return [mailbuild.human_mail(sender=s, to=SERVICE, subject=f"{tag} {i}", body=f"{tag}-{i}")
            for i, s in enumerate(senders)]


def append(mailstack: Any, raws: list[bytes]) -> list[int]:
    """APPEND to the folder just made again (Dovecot may still be settling the deletion with
    the service's session: "Mailbox was deleted under us" — then again)."""
    for _ in range(20):
        try:
            uids: list[int] = mailstack.dovecot.append_many(SERVICE, raws, FOLDER)
            return uids
        except DovecotError:
            time.sleep(0.25)
    raise AssertionError("could not append to the recreated folder")


def recreate(mailstack: Any) -> None:
    with mailstack.dovecot.imap(SERVICE) as client:
        before = client.folder_status(FOLDER, ["UIDVALIDITY"])[b"UIDVALIDITY"]
        client.delete_folder(FOLDER)
        client.create_folder(FOLDER)
        after = client.folder_status(FOLDER, ["UIDVALIDITY"])[b"UIDVALIDITY"]
    assert after != before


def settle(mailstack: Any) -> list[Any]:
    """Wait until the folder is emptied (every mail taken, or moved as done before), then a
    while for the replies that causes; what SMTP received."""
    deadline = time.monotonic() + 30
    while mailstack.dovecot.count(SERVICE, FOLDER) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert mailstack.dovecot.count(SERVICE, FOLDER) == 0, "the service took nothing"
    time.sleep(3)
    return list(mailstack.smtp.messages)


def test_recreated_folder_reusing_uids_and_a_restored_backup_under_a_running_service(
    mailstack: Any, database_url: str, tmp_path: Path
) -> None:
    dovecot = mailstack.dovecot
    old_senders = [f"old{i}@example.test" for i in range(3)]
    new_senders = [f"new{i}@example.test" for i in range(3)]
    for user in old_senders + new_senders:
        dovecot.add_user(user, "pw")
    settings = watching(mailstack, database_url, tmp_path)
    first = mails(old_senders, "旧")
    old_uids = dovecot.append_many(SERVICE, first, FOLDER)
    proc = start(write_config(settings, tmp_path / "config.toml"), tmp_path)
    try:
        assert len(settle(mailstack)) == 3
        assert dovecot.count(SERVICE, FOLDER) == 0

        # (a) deleted and made again: UIDs start over under a new UIDVALIDITY
        recreate(mailstack)
        new_uids = append(mailstack, mails(new_senders, "新"))
        assert new_uids == old_uids  # the same UIDs, other mails
        received = settle(mailstack)

        # (b) restored from a backup taken before it was processed: all duplicates
        recreate(mailstack)
        append(mailstack, first)
        after_restore = settle(mailstack)
    finally:
        code, output = stop(proc)
    assert code == 0, output[-3000:]
    # every new mail answered once, no old one twice
    assert sorted(r for m in received for r in m.rcpt_tos) == sorted(old_senders + new_senders)
    assert len(after_restore) == 6  # nothing answered twice
    assert dovecot.count(SERVICE, FOLDER) == 0
    recorded = query(settings, select(InboundMail.from_addr))
    assert sorted(recorded) == sorted(old_senders + new_senders)
    # three folder generations, each with its own position keys
    keys = set(query(settings, select(SourcePosition.source_key)))
    assert len(keys) == 3 and all("UIDVALIDITY=" in key for key in keys)
