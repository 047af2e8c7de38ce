"""Decision latency: ``mailflow run`` idling in IMAP IDLE; one approval reply at a time.

Each sample: a data extraction request (R-DX-2) is submitted and its department manager's
approval mail awaited (not timed); then the manager's "同意" is APPENDed, and the time until
the next step's mail (to the IT manager) reaches the SMTP server is the sample. As with the
intake latency, Dovecot delays every IDLE notification by 500 ms (MAILSTACK.md pitfall 9).
"""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
import tempfile
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from bench.latency import WARMUP, LatencyResult, _wait_for_line
from bench.stack import bench_settings, stop
from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow_testing import DEFAULT_USERS, SERVICE_ADDRESS, Dovecot, SmtpServer, mailbuild
from mailflow_testing.config_file import settings_toml
from tests.formfill import SAMPLES, fill_docx

REPO = Path(__file__).resolve().parents[1]
REQUESTER = "zhang.wei@example.test"
MANAGER = "zhao.lei@example.test"
IT_MANAGER = "wang.jun@example.test"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

DIRECTORY = f"""
[roles]
it_manager = "{IT_MANAGER}"

[[departments]]
key = "marketing"
name = "市场部"
manager = "{MANAGER}"

[[departments]]
key = "it"
name = "IT管理部"
manager = "{IT_MANAGER}"
is_it = true

[[people]]
email = "{REQUESTER}"
name = "张伟"
department = "marketing"

[[people]]
email = "{MANAGER}"
name = "赵磊"
department = "marketing"

[[people]]
email = "{IT_MANAGER}"
name = "王军"
department = "it"
"""


def _parsed(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _wait_to(smtp: SmtpServer, seen: int, rcpt: str, timeout: float = 60.0
             ) -> tuple[EmailMessage, int]:
    """The first approval mail (its Message-ID carries a token) to *rcpt* after the first
    *seen* mails, and the position after it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = smtp.messages
        for position, m in enumerate(messages[seen:], start=seen + 1):
            msg = _parsed(m.data)
            if rcpt in (r.lower() for r in m.rcpt_tos) and \
                    str(msg["Message-ID"]).startswith("<approval-"):
                return msg, position
        time.sleep(0.005)
    raise TimeoutError(f"no mail to {rcpt} within {timeout} s")


def run_decisions(count: int, *, gap: float = 0.2, progress: Any = print,
                  database_url: str = "") -> LatencyResult:
    catalog = load_catalog(default_forms_dir())
    blank = (default_forms_dir() / "blank" / "data_extraction.docx").read_bytes()
    form = fill_docx(blank, catalog.get("data_extraction"), SAMPLES["data_extraction"])
    result = LatencyResult()
    with tempfile.TemporaryDirectory(prefix="mailflow-bench-") as tmp, \
            Dovecot(DEFAULT_USERS) as dovecot, SmtpServer() as smtp:
        work = Path(tmp)
        settings = bench_settings(dovecot, (smtp.host, smtp.port), work / "data",
                                  poll_interval=60.0, database_url=database_url)
        config = work / "config.toml"
        config.write_text(settings_toml(settings) + DIRECTORY, encoding="utf-8")
        log = work / "run.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mailflow", "--config", str(config), "run"],
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        try:
            _wait_for_line(log, "mailbox open", proc, 60)
            time.sleep(1.0)
            progress(f"decisions: {count} approvals one at a time (+{WARMUP} warm-up)")
            client = dovecot.connect(SERVICE_ADDRESS)
            seen = 0
            try:
                for index in range(count + WARMUP):
                    client.append("INBOX", mailbuild.to_crlf(mailbuild.human_mail(
                        sender=REQUESTER, to=SERVICE_ADDRESS, subject=f"数据提取申请 {index}",
                        body="请审批", attachments=[("数据提取申请表.docx", form, DOCX)])))
                    ask, seen = _wait_to(smtp, seen, MANAGER)
                    parent = str(ask["Message-ID"])
                    client.append("INBOX", mailbuild.to_crlf(mailbuild.human_mail(
                        sender=MANAGER, to=SERVICE_ADDRESS, subject="回复: " + str(ask["Subject"]),
                        body="同意", charset="gbk",
                        extra_headers={"In-Reply-To": parent, "References": parent})))
                    sent = time.monotonic()
                    _, seen = _wait_to(smtp, seen, IT_MANAGER)
                    if index >= WARMUP:
                        result.samples.append(time.monotonic() - sent)
                    time.sleep(gap)
            finally:
                client.logout()
        finally:
            stop(proc)
    return result


if __name__ == "__main__":
    measured = run_decisions(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
    print(json.dumps(measured.as_json()["p50"]))
