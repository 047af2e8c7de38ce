"""The archivists' pages in a real headless browser (issue 17, part 4): Debian's chromium
driven by Playwright against ``mailflow web`` serving a small archive taken in through the
real mail stack. Sign in, search in Chinese, open a record, download an attachment and an
export; a user without the role can neither open a classified record (R-DX-3) nor reach it
by URL. ``scripts/test-services`` installs chromium when it is missing.

Set MAILFLOW_SCREENSHOTS=DIR to keep the search and timeline screenshots (docs/ has them).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Browser, Page, sync_playwright

from tests.records_archive import PRINTER, REPO, SmallArchive, build_archive

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "档案-pass-2026"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(mailstack: Any, sqlite_url: str, tmp_path: Path) -> Iterator[tuple[str, SmallArchive]]:
    hashed = PasswordHasher().hash(PASSWORD)
    port = _free_port()
    users = ", ".join(
        f'{{ name = "{name}", password_hash = {json.dumps(hashed)}, roles = ["{role}"] }}'
        for name, role in (("dangan", "archivist"), ("shenji", "auditor")))
    small = build_archive(mailstack, sqlite_url, tmp_path, extra_toml=(
        f'[web]\nport = {port}\nsecret_key = "browser-test"\nusers = [{users}]\n'))
    server = subprocess.Popen(
        [sys.executable, "-m", "mailflow", "--config", str(small.config), "web"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("mailflow web did not start")
        yield base, small
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "chromium missing: run scripts/test-services"
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def sign_in(page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(f"{base}/")


def search(page: Page, text: str) -> None:
    page.fill("input[name=text]", text)
    page.click("#search")
    page.wait_for_selector("h2")


def test_browser_signs_in_searches_opens_downloads_and_roles_hold_r_dx_3(
    served: tuple[str, SmallArchive], browser: Browser, tmp_path: Path
) -> None:
    base, _small = served
    shots = Path(os.environ.get("MAILFLOW_SCREENSHOTS", tmp_path))
    auditor = browser.new_context(accept_downloads=True, locale="zh-CN",
                                  viewport={"width": 1280, "height": 800})
    page = auditor.new_page()
    sign_in(page, base, "shenji")
    search(page, "卡纸")  # two characters, in a mail body
    assert page.locator("table.results a").count() == 1
    assert PRINTER in page.inner_text("table.results")
    search(page, "数据提取")  # inside 业务数据提取申请
    results = page.inner_text("table.results")
    assert "2026年10月新增用户清单" in results and "机密" in results
    page.screenshot(path=str(shots / "web-search.png"), full_page=True)
    secret_link = page.locator("table.results tr", has_text="机密").locator("a").first
    secret_ref = secret_link.inner_text()
    search(page, "CRM系统")
    page.locator("table.results a").first.click()
    page.wait_for_selector("#timeline")
    assert "收到邮件" in page.inner_text("#timeline")
    with page.expect_download() as attachment:
        page.locator("a.file", has_text=".xlsx").first.click()
    saved = tmp_path / "attachment.xlsx"
    attachment.value.save_as(saved)
    assert attachment.value.suggested_filename.endswith(".xlsx")
    assert zipfile.is_zipfile(saved)
    with page.expect_download() as export:
        page.click("#export")
    bundle = tmp_path / "bundle.zip"
    export.value.save_as(bundle)
    with zipfile.ZipFile(bundle) as zf:
        assert {"manifest.json", "summary.pdf", "audit.jsonl"} <= set(zf.namelist())
    page.goto(f"{base}/records/{secret_ref}")
    assert "机密" in page.inner_text("main")  # the auditor may open it
    assert "邮件已发出" in page.inner_text("#timeline")
    page.screenshot(path=str(shots / "web-timeline.png"), full_page=True)
    auditor.close()

    archivist = browser.new_context(locale="zh-CN")
    page = archivist.new_page()
    sign_in(page, base, "dangan")
    search(page, "数据提取")
    assert secret_ref not in page.inner_text("main")
    response = page.goto(f"{base}/records/{secret_ref}")
    assert response is not None and response.status == 403
    assert "您没有查看此档案的权限" in page.inner_text("main")
    assert "2026年10月新增用户清单" not in page.content()
    archivist.close()
