"""The archivists' pages (issue 17, part 4) through Starlette's TestClient: sign-in, session
expiry, lockout, CSRF on every form, roles and classification (R-DX-3), mails shown safely,
and every view, download and export on the audit trail."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from starlette.testclient import TestClient

from mailflow.config import WebSettings, WebUser
from mailflow.records.context import ArchiveContext
from mailflow.store.models import AuditEvent
from mailflow.web.app import create_app
from tests.records_archive import PRINTER, SECRET, SmallArchive, build_archive

PASSWORD = "correct horse 电池"
HASH = PasswordHasher().hash(PASSWORD)


@dataclass
class MovableClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


@dataclass
class Site:
    small: SmallArchive
    ctx: ArchiveContext
    clock: MovableClock
    app: Any

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="http://127.0.0.1", follow_redirects=False)

    def events(self, action: str) -> list[AuditEvent]:
        with self.ctx.factory() as session:
            return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                        .order_by(AuditEvent.id)))


@pytest.fixture
def site(mailstack: Any, sqlite_url: str, tmp_path: Path) -> Any:
    small = build_archive(mailstack, sqlite_url, tmp_path)
    web = WebSettings(secret_key="test-secret", max_failed_logins=3, session_minutes=30,
                      users=(WebUser(name="dangan", password_hash=HASH, roles=("archivist",)),
                             WebUser(name="shenji", password_hash=HASH, roles=("auditor",))))
    settings = small.settings.model_copy(update={"web": web})
    clock = MovableClock(datetime.now(UTC))
    ctx = ArchiveContext.open(settings, clock)
    try:
        yield Site(small, ctx, clock, create_app(settings, clock, ctx))
    finally:
        ctx.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"csrf": token, "username": name, "password": password})


def search(client: TestClient, text: str) -> Any:
    token = csrf_of(client.get("/").text)
    return client.get("/", params={"text": text, "csrf": token})


def reference_of(html: str, title: str) -> str:
    rows = [row for row in html.split("<tr>")[1:] if title in row]
    assert rows, html[-2000:]
    found = re.search(r'href="/records/([A-Z]+-\d{4}-\d{6})"', rows[0])
    assert found
    return found.group(1)


def test_pages_refuse_requests_without_a_session(site: Site) -> None:
    client = site.client()
    record = "/records/REQ-2026-000001"
    for path in ("/", record, "/retention", f"{record}/mails/in/1", f"{record}/files/{'0' * 64}"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login", path
    assert client.post("/records/REQ-2026-000001/export", data={}).status_code in (303, 403)


def test_forms_refuse_requests_without_the_csrf_token(site: Site) -> None:
    client = site.client()
    client.get("/login")
    refused = client.post("/login", data={"username": "dangan", "password": PASSWORD})
    assert refused.status_code == 403
    assert client.post("/login", data={"csrf": "forged", "username": "dangan",
                                       "password": PASSWORD}).status_code == 403
    assert sign_in(client, "dangan").status_code == 303
    ref = reference_of(search(client, "卡纸").text, PRINTER)
    assert client.post(f"/records/{ref}/export", data={}).status_code == 403
    assert client.post(f"/records/{ref}/export", data={"csrf": "x"}).status_code == 403
    assert client.get("/", params={"text": "卡纸"}).status_code == 403  # search without token
    assert client.post("/logout", data={}).status_code == 403
    assert client.get("/").status_code == 200  # still signed in
    # a token from another session does not work either
    other = site.client()
    sign_in(other, "shenji")
    theirs = csrf_of(other.get("/").text)
    assert client.post(f"/records/{ref}/export", data={"csrf": theirs}).status_code == 403


def test_archivist_searches_views_downloads_and_exports_and_each_is_logged(
    site: Site,
) -> None:
    client = site.client()
    assert sign_in(client, "dangan").headers["location"] == "/"
    page = search(client, "卡纸")
    assert page.status_code == 200 and PRINTER in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    ref = reference_of(page.text, PRINTER)
    record = client.get(f"/records/{ref}")
    assert record.status_code == 200 and "全过程记录" in record.text and "收到邮件" in record.text
    mail_link = re.search(rf'href="(/records/{ref}/mails/in/\d+)"', record.text)
    assert mail_link
    mail = client.get(mail_link.group(1))
    assert mail.status_code == 200 and "卡纸" in mail.text
    # shown safely: no script, no remote load, no javascript: link, no handler
    assert "<script" not in mail.text and "tracker.example.test" not in mail.text
    assert "javascript:" not in mail.text and "onclick" not in mail.text
    # an attachment of the account record, downloaded as a file
    account = reference_of(search(client, "CRM系统").text, "CRM系统")
    page = client.get(f"/records/{account}").text
    link = re.search(rf'href="(/records/{account}/files/[0-9a-f]{{64}})"', page)
    assert link
    download = client.get(link.group(1))
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.content[:2] == b"PK"  # the .xlsx itself
    token = csrf_of(page)
    bundle = client.post(f"/records/{account}/export", data={"csrf": token})
    assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as zf:
        assert "manifest.json" in zf.namelist() and "summary.pdf" in zf.namelist()
    for action in ("record_viewed", "file_downloaded", "record_exported"):
        events = site.events(action)
        assert events and all(e.actor == "web:dangan" and e.request_id for e in events), action


def test_classified_records_only_for_allowed_roles_even_by_url_r_dx_3(site: Site) -> None:
    auditor = site.client()
    sign_in(auditor, "shenji")
    found = search(auditor, "计费系统")
    ref = reference_of(found.text, "2026年10月新增用户清单")
    assert "机密" in found.text
    assert auditor.get(f"/records/{ref}").status_code == 200
    archivist = site.client()
    sign_in(archivist, "dangan")
    listed = search(archivist, "计费系统")
    assert "客服工单月报" in listed.text, listed.text  # 保密 is not guarded
    assert f"/records/{ref}" not in listed.text and "2026年10月新增用户清单" not in listed.text
    for path in (f"/records/{ref}", f"/records/{ref}/mails/in/1"):
        refused = archivist.get(path)
        assert refused.status_code == 403 and SECRET not in refused.text, path
    token = csrf_of(archivist.get("/").text)
    assert archivist.post(f"/records/{ref}/export", data={"csrf": token}).status_code == 403
    refusals = site.events("record_view_refused")
    assert refusals and all(e.actor == "web:dangan" for e in refusals)


def test_repeated_failed_sign_ins_lock_the_name(site: Site) -> None:
    client = site.client()
    for _ in range(2):
        assert sign_in(client, "dangan", "wrong").status_code == 401
    assert sign_in(client, "dangan", "wrong").status_code == 429  # the third: locked
    locked = sign_in(client, "dangan")  # even the right password, while locked
    assert locked.status_code == 429 and "登录失败次数过多" in locked.text
    assert sign_in(site.client(), "shenji").status_code == 303  # others are not locked
    site.clock.at += timedelta(minutes=16)
    assert sign_in(client, "dangan").status_code == 303
    assert len(site.events("web_sign_in_failed")) == 3


def test_an_idle_session_expires(site: Site) -> None:
    client = site.client()
    sign_in(client, "dangan")
    site.clock.at += timedelta(minutes=29)
    assert client.get("/").status_code == 200  # activity keeps it alive
    site.clock.at += timedelta(minutes=29)
    assert client.get("/").status_code == 200
    site.clock.at += timedelta(minutes=31)
    response = client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_hash_password_prints_an_argon2_hash_the_sign_in_accepts(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.records_archive import REPO

    done = subprocess.run(
        [sys.executable, "-m", "mailflow", "web", "hash-password", "--password", PASSWORD],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    hashed = done.stdout.strip()
    assert hashed.startswith("$argon2") and PASSWORD not in done.stdout
    assert PasswordHasher().verify(hashed, PASSWORD)
    WebUser(name="x", password_hash=hashed)  # accepted by the config
