"""The planted bugs: each a small textual patch of one file, and the tests meant to catch it.

Each patch replaces text that must occur exactly once in the file (checked: a refactoring
that moves the code makes the mutant "stale", reported as such, never silently skipped).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bug:
    name: str
    what: str
    path: str
    patches: tuple[tuple[str, str], ...]
    tests: tuple[str, ...]  # pytest arguments


CRASH_SQLITE = ("tests/test_crash.py", "-k", "sqlite")

BUGS: tuple[Bug, ...] = (
    Bug("move_before_commit", "mails moved to Processed before they are recorded",
        "mailflow/intake.py",
        (("            for batch in source.batches(batch_size):\n"
          "                moves = self._take_batch(source.source_key, batch, report, writers)\n",
          "            for batch in source.batches(batch_size):\n"
          "                source.move([m.uid for m in batch], \"processed\")\n"
          "                moves = self._take_batch(source.source_key, batch, report, writers)\n"
          "                moves = {\"processed\": [], \"quarantine\": []}\n"),),
        CRASH_SQLITE),
    Bug("no_content_dedupe", "a second copy of a mail (raw hash, Message-ID + body) not seen",
        "mailflow/intake.py",
        (("        found = self.by_digest.get(p.digest)\n"
          "        if found is None and p.parsed.message_id:\n",
          "        found = None\n"
          "        if False:\n"),),
        ("tests/test_intake_e2e.py", "-k", "second_copy")),
    Bug("no_position_dedupe", "positions (UIDVALIDITY, UID) already recorded not recognised",
        "mailflow/intake.py",
        (("        return {uid: (\"quarantine\" if outcome == \"quarantine\" else \"processed\")\n"
          "                for uid, outcome in rows}\n",
          "        return {}\n"),),
        ("tests/test_intake_e2e.py", "-k", "kill_after_commit")),
    Bug("no_uidvalidity", "the mailbox position key without UIDVALIDITY",
        "mailflow/mail/sources.py",
        (("f\"UIDVALIDITY={self._validity}\")", "\"\")"),),
        ("tests/test_mailbox_identity.py", "-k", "sqlite")),
    Bug("mark_sent_before_smtp", "an outbox row marked sent before the SMTP server accepted it",
        "mailflow/delivery.py",
        (("        for index, item in enumerate(items):\n"
          "            try:\n",
          "        for index, item in enumerate(items):\n"
          "            with transaction(self._factory) as session:\n"
          "                outbox.mark_sent(session, item.id, now=self._clock.now(),\n"
          "                                 archive_sha256=digests[index])\n"
          "            try:\n"),),
        ("tests/test_delivery.py", "-k", "down_then_up")),
    Bug("no_skip_locked", "outbox claims wait for each other's row locks (FOR UPDATE only)",
        "mailflow/store/outbox.py",
        ((".with_for_update(skip_locked=True)", ".with_for_update()"),),
        ("tests/test_multiprocess.py", "-k", "outbox_claims")),
    Bug("no_lease_check", "a live, unexpired mailbox lease taken over anyway",
        "mailflow/store/lease.py",
        (("                if not expired and not dead:\n"
          "                    return False\n", ""),),
        ("tests/test_multiprocess.py", "-k", "three_processes")),
    Bug("archive_in_place", "blobs written in place, without fsync or rename",
        "mailflow/store/archive.py",
        (("        files = self.files\n"
          "        files.make_dirs(target.parent)\n",
          "        target.parent.mkdir(parents=True, exist_ok=True)\n"
          "        target.write_bytes(data)\n"
          "        return\n"
          "        files = self.files\n"
          "        files.make_dirs(target.parent)\n"),),
        ("tests/test_archive_atomic.py",)),
    Bug("archive_after_commit", "the raw mail archived just after the commit, not before",
        "mailflow/intake.py",
        (("_Waiting(fetched, writers.submit(self._archive.put, fetched.raw), reading)",
          "_Waiting(fetched, writers.submit(sha256_hex, fetched.raw), reading)"),
         ("            if self._after_commit is not None:\n"
          "                for item in taken:\n"
          "                    self._after_commit(item.uid)\n",
          "            if self._after_commit is not None:\n"
          "                for item in taken:\n"
          "                    self._after_commit(item.uid)\n"
          "            for item in taken:\n"
          "                self._archive.put({f.uid: f.raw for f in todo}[item.uid])\n")),
        CRASH_SQLITE),
    Bug("auto_submitted_ignored", "Auto-Submitted mail answered like a person's",
        "mailflow/mail/classify.py",
        (("    if submitted and submitted != \"no\":\n", "    if False:\n"),),
        ("tests/test_mail_classify.py",)),
    Bug("no_hourly_cap", "no hourly cap on replies to one address",
        "mailflow/reception.py",
        (("        if outbox.recent_count_to(session, sender.addr, now - outbox.REPLY_CAP_WINDOW)"
          " >= cap:\n",
          "        if False:\n"),),
        ("tests/test_delivery.py", "-k", "hourly_cap")),
    Bug("five_xx_temporary", "a permanent (5xx) refusal retried as if temporary",
        "mailflow/delivery.py",
        (("            if exc.permanent or attempts >= self._settings.max_attempts:\n",
          "            if attempts >= self._settings.max_attempts:\n"),),
        ("tests/test_delivery.py", "-k", "5xx")),
    # issue 20
    Bug("soffice_with_network", "LibreOffice converts with network access",
        "mailflow/documents/legacy.py",
        (("        if self.isolate_network:\n", "        if False:\n"),),
        ("tests/test_security_office.py", "-k", "linked_picture_in_a_doc")),
    Bug("conversion_in_transaction", "forms read (converted) inside the intake transaction",
        "mailflow/intake.py",
        (("                    self._reader.examine_ahead(parsed)\n",
          "                    pass\n"),),
        ("tests/test_security_office.py", "-k", "write_lock")),
    Bug("forged_resubmission", "a returned request completed by From alone",
        "mailflow/reception.py",
        (("        if from_requester and request.status == \"returned\" and not \\\n",
          "        if False and not \\\n"),),
        ("tests/test_security_answers.py", "-k", "forged_from and sqlite")),
)
