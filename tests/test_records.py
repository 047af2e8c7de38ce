"""The archive's records (issue 17): complete (every event names its request), sealed into a
hash chain, searchable in Chinese, exported byte for byte, and verifiable — through the CLI,
on SQLite and PostgreSQL, over forms mailed through the real mail stack."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pdfplumber
import pytest
from sqlalchemy import delete, select, update

from mailflow.records.chain import event_hash
from mailflow.records.search import Query, search
from mailflow.store.archive import Archive
from mailflow.store.db import make_engine, session_factory
from mailflow.store.models import Attachment, AuditEvent, InboundMail, OutboxMessage, Request
from tests.records_archive import PRINTER, SECRET, TWO_FORMS, SmallArchive, build_archive


@pytest.fixture
def small(mailstack: Any, database_url: str, tmp_path: Path) -> SmallArchive:
    return build_archive(mailstack, database_url, tmp_path)


def _session(small: SmallArchive) -> Any:
    engine = make_engine(small.settings.storage.resolved_database_url())
    return engine, session_factory(engine)


def _search(small: SmallArchive, *args: str) -> list[dict[str, Any]]:
    result = small.cli("archive", "search", "--json", *args)
    assert result.returncode == 0, result.stderr[-2000:]
    return list(json.loads(result.stdout))


def test_every_event_names_its_request_and_is_sealed_in_a_chain(small: SmallArchive) -> None:
    engine, factory = _session(small)
    try:
        with factory() as session:
            all_requests = list(session.scalars(select(Request)))
            requests = {r.title or "": r for r in all_requests}
            events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
            mails = {m.id: m for m in session.scalars(select(InboundMail))}
    except BaseException:
        engine.dispose()
        raise
    # a mail that opened a request: every event about it names that request
    assert all(e.request_id is not None for e in events
               if e.action in ("mail_received", "reply_queued", "mail_sent"))
    two = [e for e in events if e.action == "mail_received"
           and mails[e.mail_id or 0].subject == TWO_FORMS]
    assert len(two) == 2 and len({e.request_id for e in two}) == 2  # one per request
    queued = [e for e in events if e.action == "reply_queued"]
    assert len(queued) == 5  # four mails, the two-form mail's reply names both requests
    sent = [e for e in events if e.action == "mail_sent"]
    assert all(e.detail["sha256"] and e.request_id for e in sent) and len(sent) == 3
    # the reply to 张伟 was refused: its archived copy is named by the event and its row
    refused = [e for e in events if e.action == "mail_send_failed"]
    assert len(refused) == 1 and refused[0].request_id == requests[PRINTER].id
    with factory() as session:
        row = session.get(OutboxMessage, refused[0].outbox_id)
        assert row is not None and row.archive_sha256 == refused[0].detail["sha256"]
    engine.dispose()
    # sealed: seq 1..n, each hash over the one before
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    prev = "0" * 64
    for e in events:
        assert e.prev_hash == prev
        assert e.hash == event_hash(prev, {
            "id": e.id, "seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
            "request_id": e.request_id, "mail_id": e.mail_id, "outbox_id": e.outbox_id,
            "detail": e.detail})
        prev = e.hash
    assert len(all_requests) == 5


def test_chinese_substring_search_finds_the_right_records(small: SmallArchive) -> None:
    listed = _search(small)  # the command, as JSON
    assert len(listed) == 5
    engine, factory = _session(small)
    zone = ZoneInfo("Asia/Shanghai")

    def titles(text: str = "", **filters: Any) -> set[str]:
        with factory() as session:
            return {h.title for h in search(session, Query(text=text, **filters), zone)}

    try:
        # 4 characters inside 业务数据提取申请 (a word nowhere on its own): FTS5 trigram /
        # pg_trgm
        assert "2026年10月新增用户清单" in titles("数据提取")
        assert titles("客服工单月报") == {"客服工单月报"}  # a form value of the two-form mail
        # two characters and one (below a trigram): the fallback; in a mail body only
        assert titles("卡纸") == {PRINTER}
        assert titles("卡") == {PRINTER}
        assert titles("打印 卡纸") == {PRINTER}  # every word must occur
        assert titles("卡纸", kind="account") == set()
        assert titles(kind="account") == {"CRM系统"}
        assert len(titles(kind="account", first=date(2020, 1, 1))) == 1
        assert titles(kind="account", last=date(2020, 1, 1)) == set()
        assert titles(classification="机密") == {"2026年10月新增用户清单"}
        assert titles(requester="王强") == {"CRM系统"}
        assert titles(requester="zhang.wei@") == {PRINTER}
        assert titles(department="客服中心") == {"CRM系统"}
        assert titles(system="计费系统") == {"2026年10月新增用户清单", "客服工单月报"}
        assert titles(hidden=("绝密", "机密")) == {"CRM系统", PRINTER, "客服工单月报"}
        assert titles("没有这样的词") == set()
        with factory() as session:
            hit = search(session, Query(text="卡纸"), zone)[0]
            assert [h.reference for h in search(session, Query(reference=hit.reference),
                                                zone)] == [hit.reference]
    finally:
        engine.dispose()
    by_cli = _search(small, "卡纸", "--kind", "general")
    assert [r["title"] for r in by_cli] == [PRINTER]


def test_show_prints_the_whole_timeline(small: SmallArchive) -> None:
    ref = _search(small, "数据提取", "--classification", "机密")[0]["reference"]
    result = small.cli("archive", "show", ref, "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    shown = json.loads(result.stdout)
    actions = [e["action"] for e in shown["events"]]
    assert actions[:3] == ["mail_received", "request_created", "reply_queued"]
    assert "mail_sent" in actions
    assert all(e["hash"] for e in shown["events"])
    text = small.cli("archive", "show", ref)
    assert text.returncode == 0 and "收到邮件" in text.stdout and ref in text.stdout
    assert small.cli("archive", "show", "REQ-1999-000001").returncode == 1


def test_export_holds_byte_identical_originals_matching_the_manifest(
    small: SmallArchive, tmp_path: Path
) -> None:
    ref = _search(small, SECRET)[0]["reference"]
    out = tmp_path / "record.zip"
    result = small.cli("archive", "export", ref, str(out), "--progress")
    assert result.returncode == 0, result.stderr[-2000:]
    archive = Archive(small.settings.storage.resolved_archive_dir())
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
        listed = {f["path"]: f for f in manifest["files"]}
        assert set(listed) == set(names) - {"manifest.json", "MANIFEST.sha256"}
        for path, about in listed.items():
            data = zf.read(path)
            assert hashlib.sha256(data).hexdigest() == about["sha256"], path
            if about.get("original_sha256"):  # byte for byte what was received / sent
                assert data == archive.get(about["original_sha256"]), path
        received = [n for n in names if n.startswith("mails/received-") and n.endswith(".eml")]
        assert len(received) == 1
        assert any(n.endswith(".docx") for n in names)
        assert any(n.startswith("mails/sent-") for n in names)
        sums = zf.read("MANIFEST.sha256").decode()
        assert all(f"{a['sha256']}  {p}" in sums for p, a in listed.items())
        audit = [json.loads(line) for line in zf.read("audit.jsonl").decode().splitlines()]
        assert audit and all(a["hash"] and a["prev_hash"] for a in audit)
        html = zf.read("summary.html").decode()
        assert ref in html and "全过程记录" in html
        with pdfplumber.open(io.BytesIO(zf.read("summary.pdf"))) as pdf:
            text = "".join(page.extract_text() or "" for page in pdf.pages)
            fonts = {c["fontname"] for page in pdf.pages for c in page.chars}
        assert ref in text and "档案摘要" in text  # Chinese text, readable from the PDF
        assert any("CJK" in f and "+" in f for f in fonts)  # an embedded (subset) CJK font
    assert "exporting" in result.stderr
    # the export itself is on the record's trail
    shown = json.loads(small.cli("archive", "show", ref, "--json").stdout)
    assert shown["events"][-1]["action"] == "record_exported"


def test_export_of_a_period_bundles_every_record(small: SmallArchive, tmp_path: Path) -> None:
    out = tmp_path / "period.zip"
    result = small.cli("archive", "export", "--from", "2020-01-01", "--to", "2099-12-31",
                       str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    with zipfile.ZipFile(out) as zf:
        folders = {n.split("/")[0] for n in zf.namelist() if "/" in n}
    assert len(folders) == 5 and all(f.startswith("REQ-") for f in folders)


def test_verify_names_an_altered_file_an_altered_event_and_a_deleted_one(
    small: SmallArchive,
) -> None:
    ok = small.cli("archive", "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr[-2000:]
    assert "ok" in ok.stdout
    engine, factory = _session(small)
    try:
        with factory() as session, session.begin():
            digest = session.scalars(select(Attachment.sha256).order_by(Attachment.id)).first()
            altered = session.scalars(select(AuditEvent).where(AuditEvent.seq == 3)).one()
            session.execute(update(AuditEvent).where(AuditEvent.id == altered.id)
                            .values(actor="someone-else@example.test"))
            session.execute(delete(AuditEvent).where(AuditEvent.seq == 7))
    finally:
        engine.dispose()
    assert digest is not None
    path = Archive(small.settings.storage.resolved_archive_dir()).path_for(digest)
    path.write_bytes(path.read_bytes() + b"\x00")
    bad = small.cli("archive", "verify")
    assert bad.returncode == 1
    out = " ".join(bad.stdout.split())
    assert f"file_altered: {digest}" in out
    assert "event_altered: seq 3" in out
    assert "event_missing: seq 7" in out
    path.unlink()
    gone = small.cli("archive", "verify")
    assert f"file_missing: {digest}" in " ".join(gone.stdout.split())


def test_deleting_the_newest_events_is_caught_against_the_chain_head(
    small: SmallArchive,
) -> None:
    engine, factory = _session(small)
    try:
        with factory() as session, session.begin():
            last = max(session.scalars(select(AuditEvent.seq)).all(), key=lambda s: s or 0)
            session.execute(delete(AuditEvent).where(AuditEvent.seq >= (last or 0) - 1))
    finally:
        engine.dispose()
    bad = small.cli("archive", "verify")
    assert bad.returncode == 1
    assert f"event_missing: seq {(last or 0) - 1}-{last}" in " ".join(bad.stdout.split())


def test_any_event_naming_the_request_joins_its_timeline(small: SmallArchive) -> None:
    """Approval decisions and notices (other processes) are audit events naming their
    request: the timeline shows them without knowing their tables."""
    from datetime import UTC, datetime

    from mailflow.store import audit
    from mailflow.store.db import transaction

    engine, factory = _session(small)
    try:
        with transaction(factory) as session:
            request = session.scalars(select(Request).where(Request.title == PRINTER)).one()
            audit.record(session, datetime.now(UTC), "approval_decided", actor="boss@x.test",
                         request_id=request.id, decision="批准", reply_text="同意，尽快处理")
            reference = request.reference
    finally:
        engine.dispose()
    shown = json.loads(small.cli("archive", "show", reference, "--json").stdout)
    decided = [e for e in shown["events"] if e["action"] == "approval_decided"]
    assert decided and decided[0]["hash"] and decided[0]["detail"]["decision"] == "批准"
    text = small.cli("archive", "show", reference).stdout
    assert "decision=批准" in " ".join(text.split())


def test_reindex_reads_the_text_of_mails_recorded_before_it_was_kept(
    small: SmallArchive,
) -> None:
    engine, factory = _session(small)
    try:
        with factory() as session, session.begin():  # as migration 0004 leaves old mails
            session.execute(update(InboundMail).values(body_text=""))
        with factory() as session, session.begin():
            from mailflow.records.index import reindex_all

            reindex_all(session)
        zone = ZoneInfo("Asia/Shanghai")
        with factory() as session:
            assert search(session, Query(text="卡纸"), zone) == []  # only in the mail's body
        done = small.cli("archive", "seal", "--reindex")
        assert done.returncode == 0, done.stderr[-2000:]
        assert "mail texts read 4" in " ".join(done.stdout.split())
        with factory() as session:
            assert [h.title for h in search(session, Query(text="卡纸"), zone)] == [PRINTER]
    finally:
        engine.dispose()
