"""Retention (issue 17, part 5): expired records are listed for an archivist to confirm,
never deleted silently; a deletion is a sealed audit event keeping the hashes of what it
removed, and verify tells those files from lost ones."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from mailflow.config import RecordsSettings, WebSettings, WebUser
from mailflow.records.context import ArchiveContext
from mailflow.records.retention import RetentionError, delete_record, expired
from mailflow.records.search import Query, search
from mailflow.records.verify import verify
from mailflow.store.db import transaction
from mailflow.store.models import AuditEvent, Request
from mailflow.web.app import create_app
from tests.records_archive import PRINTER, build_archive
from tests.test_web import MovableClock, csrf_of, sign_in

PERIODS = {"general": 30}


def test_expired_records_are_listed_and_deleted_only_on_confirmation(
    mailstack: Any, database_url: str, tmp_path: Path
) -> None:
    small = build_archive(mailstack, database_url, tmp_path,
                          extra_toml="[records]\nretention_days = { general = 30 }\n")
    clock = MovableClock(datetime.now(UTC))
    ctx = ArchiveContext.open(small.settings, clock)
    try:
        with ctx.factory() as session:
            assert expired(session, PERIODS, clock.now()) == []
            printer = session.scalars(select(Request).where(Request.title == PRINTER)).one()
        # nothing is deleted before its time, nor without confirmation on the command line
        refused = small.cli("archive", "delete", printer.reference, "--by", "dangan")
        assert refused.returncode == 1 and "--confirm" in refused.stderr
        early = small.cli("archive", "delete", printer.reference, "--by", "dangan", "--confirm")
        assert early.returncode == 1 and "not past its retention period" in early.stderr
        clock.at += timedelta(days=31)
        with ctx.factory() as session:
            listed = expired(session, PERIODS, clock.now())
        assert [e.reference for e in listed] == [printer.reference]  # only general is due
        ctx.seal()
        with transaction(ctx.factory) as session:
            removed = delete_record(session, ctx.archive, printer.reference, actor="dangan",
                                    periods=PERIODS, now=clock.now())
        for digest in removed:
            ctx.archive.path_for(digest).unlink()
        ctx.seal()
        with ctx.factory() as session:
            gone = session.get(Request, printer.id)
            assert gone is not None and gone.status == "deleted" and gone.fields == {}
            event = session.scalars(select(AuditEvent)
                                    .where(AuditEvent.action == "record_deleted")).one()
            assert event.seq is not None and event.hash  # sealed
            assert event.actor == "dangan" and set(event.detail["deleted_files"]) == set(removed)
            assert all(h for h in event.detail["kept_events"])
            assert removed  # its raw mail and its refused reply's copy
            assert search(session, Query(text="卡纸"), ctx.zone) == []
            assert expired(session, PERIODS, clock.now()) == []
            report = verify(session, ctx.archive)
        assert report.ok, report.problems  # removed on confirmation is not "lost"
        assert report.deleted_files == len(removed)
        with transaction(ctx.factory) as session, pytest.raises(RetentionError):
            delete_record(session, ctx.archive, printer.reference, actor="dangan",
                          periods=PERIODS, now=clock.now())
    finally:
        ctx.close()


def test_the_archivist_confirms_a_deletion_on_the_retention_page(
    mailstack: Any, sqlite_url: str, tmp_path: Path
) -> None:
    small = build_archive(mailstack, sqlite_url, tmp_path)
    hashed = PasswordHasher().hash("pw-档案")
    settings = small.settings.model_copy(update={
        "records": RecordsSettings(retention_days=PERIODS),
        "web": WebSettings(secret_key="s", users=(
            WebUser(name="dangan", password_hash=hashed, roles=("archivist",)),
            WebUser(name="shenji", password_hash=hashed, roles=("auditor",))))})
    clock = MovableClock(datetime.now(UTC) + timedelta(days=31))
    ctx = ArchiveContext.open(settings, clock)
    try:
        from starlette.testclient import TestClient

        app = create_app(settings, clock, ctx)
        auditor = TestClient(app, follow_redirects=False)
        sign_in(auditor, "shenji", "pw-档案")
        assert auditor.get("/retention").status_code == 403  # auditors only look
        client = TestClient(app, follow_redirects=False)
        sign_in(client, "dangan", "pw-档案")
        page = client.get("/retention")
        assert page.status_code == 200 and PRINTER in page.text
        ref = re.search(r'name="reference" value="([^"]+)"', page.text)
        assert ref
        assert client.post("/retention", data={"reference": ref.group(1)}).status_code == 403
        done = client.post("/retention", data={"csrf": csrf_of(page.text),
                                               "reference": ref.group(1)})
        assert done.status_code == 303
        assert PRINTER not in client.get("/retention").text
        again = client.post("/retention", data={"csrf": csrf_of(page.text),
                                                "reference": ref.group(1)})
        assert again.status_code == 409 and "already deleted" in again.text
        # the deleted record's files are gone: its page says so, nothing breaks
        record = client.get(f"/records/{ref.group(1)}")
        assert record.status_code == 200 and "已删除" in record.text
        mail = re.search(r'href="(/records/[^"]+/mails/in/\d+)"', record.text)
        assert mail and client.get(mail.group(1)).status_code == 404
        with ctx.factory() as session:
            event = session.scalars(select(AuditEvent)
                                    .where(AuditEvent.action == "record_deleted")).one()
            assert event.actor == "web:dangan" and event.seq is not None
    finally:
        ctx.close()
