"""Throughput: N form mails through one ``Service.run_once()``, against the floor.

Both halves see the same N mails in an INBOX of the same size (the mailbox is emptied in
between: Maildir gets slower as it grows, MAILSTACK.md pitfall 15):

* mailflow: from the start of ``run_once()`` until every mail is archived, read, recorded,
  moved and its acknowledgment accepted by the SMTP server (``run_once`` returns then).
* floor: what no implementation can skip, with no mailflow logic: FETCH of all mails in
  batches of 100 (BODY.PEEK[]), ``parse_mail`` of each, ``check_office_file`` +
  ``read_form`` of each form, and sending mailflow's own acknowledgments (same bytes, same
  recipients) over one SMTP connection. Measured twice (mailbox refilled each time) and
  averaged, as the machine may be shared.
"""

from __future__ import annotations

import asyncio
import cProfile
import resource
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiosmtplib
from imapclient import IMAPClient
from sqlalchemy import func, select

from bench.mails import catalog, form_mails
from bench.sink import SinkProcess
from bench.stack import bench_settings, log_to
from mailflow.clock import SystemClock
from mailflow.documents.reading import read_form
from mailflow.documents.safety import SafetyLimits, check_office_file, office_kind
from mailflow.mail.parse import parse_mail
from mailflow.service import Service
from mailflow.store.models import InboundMail, OutboxMessage, Request
from mailflow_testing import DEFAULT_USERS, SERVICE_ADDRESS, Dovecot

APPEND_CHUNK = 200
FETCH_BATCH = 100
FLOOR_RUNS = 2


@dataclass
class ThroughputResult:
    mails: int
    mailflow_seconds: float
    floor_seconds: float
    floor_parts: dict[str, float]
    checks: dict[str, int] = field(default_factory=dict)
    # CPU seconds of this process (+ its reaped children: mailflow's read-ahead worker)
    mailflow_cpu: float = 0.0
    floor_cpu: float = 0.0
    floor_runs: list[float] = field(default_factory=list)  # seconds of each floor pass

    @property
    def ratio(self) -> float:
        return self.mailflow_seconds / self.floor_seconds

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ratio"] = round(self.ratio, 3)
        out["mailflow_forms_per_s"] = round(self.mails / self.mailflow_seconds, 1)
        out["floor_forms_per_s"] = round(self.mails / self.floor_seconds, 1)
        return out


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _fill_inbox(dovecot: Dovecot, mails: Sequence[bytes]) -> None:
    dovecot.reset()
    for start in range(0, len(mails), APPEND_CHUNK):
        dovecot.append_many(SERVICE_ADDRESS, mails[start:start + APPEND_CHUNK])
    if dovecot.count(SERVICE_ADDRESS) != len(mails):
        raise RuntimeError("INBOX does not hold the mails just appended")


def _mailflow_pass(
    dovecot: Dovecot, sink: SinkProcess, work: Path, profile: Path | None, database_url: str
) -> tuple[float, dict[str, int], list[tuple[list[str], bytes]]]:
    settings = bench_settings(dovecot, (sink.host, sink.port), work / "data",
                              database_url=database_url)
    service = Service(settings, SystemClock())  # migrations, templates: not timed
    profiler = cProfile.Profile() if profile else None
    try:
        if profiler:
            profiler.enable()
        started = time.perf_counter()
        report = service.run_once()
        elapsed = time.perf_counter() - started
        if profiler:
            profiler.disable()
        with service.factory() as session:
            def count(model: Any, *where: Any) -> int:
                stmt = select(func.count()).select_from(model).where(*where)
                return int(session.execute(stmt).scalar_one())

            checks = {
                "taken_in": report.intake.taken_in,
                "quarantined": report.intake.quarantined,
                "mails_recorded": count(InboundMail),
                "forms_registered": count(Request, Request.status == "submitted"),
                "acks_sent": count(OutboxMessage, OutboxMessage.status == "sent"),
            }
            acks = [(list(r.recipients), r.raw) for r in session.execute(
                select(OutboxMessage).order_by(OutboxMessage.id)).scalars()]
    finally:
        service.close()
    if profiler and profile:
        profiler.dump_stats(str(profile))
    checks["acks_at_server"] = sink.count()
    checks["inbox_left"] = dovecot.count(SERVICE_ADDRESS)
    return elapsed, checks, acks


async def _send_all(host: str, port: int, acks: Sequence[tuple[list[str], bytes]]) -> None:
    client = aiosmtplib.SMTP(hostname=host, port=port, timeout=30)
    await client.connect()
    try:
        for recipients, raw in acks:
            await client.sendmail(SERVICE_ADDRESS, recipients, raw)
    finally:
        await client.quit()


def _floor_pass(
    dovecot: Dovecot, sink: SinkProcess, acks: Sequence[tuple[list[str], bytes]]
) -> tuple[dict[str, float], int]:
    forms = catalog()
    limits = SafetyLimits()
    parts: dict[str, float] = {}
    started = time.perf_counter()
    client = IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=30)
    client.login(SERVICE_ADDRESS, DEFAULT_USERS[SERVICE_ADDRESS])
    client.select_folder("INBOX")
    uids = sorted(client.search(["UNDELETED"]))
    raws: list[bytes] = []
    for start in range(0, len(uids), FETCH_BATCH):
        chunk = uids[start:start + FETCH_BATCH]
        fetched = client.fetch(chunk, ["BODY.PEEK[]"])
        raws.extend(fetched[uid][b"BODY[]"] for uid in chunk)
    client.logout()
    parts["fetch"] = time.perf_counter() - started

    mark = time.perf_counter()
    parsed = [parse_mail(raw) for raw in raws]
    parts["parse"] = time.perf_counter() - mark

    mark = time.perf_counter()
    read = 0
    for mail in parsed:
        year = mail.date.year if mail.date else None
        for att in mail.attachments:
            if office_kind(att.filename, att.content_type, att.data) is None:
                continue
            checked = check_office_file(att.data, att.filename, att.content_type, limits=limits)
            readings = read_form(checked.data, checked.fmt, forms, source_name=att.filename,
                                 default_year=year)
            read += sum(1 for r in readings if r.ok)
    parts["forms"] = time.perf_counter() - mark

    mark = time.perf_counter()
    asyncio.run(_send_all(sink.host, sink.port, acks))
    parts["smtp"] = time.perf_counter() - mark
    return parts, read


def run_throughput(count: int, *, profile: Path | None = None, log: Path | None = None,
                   progress: Any = print, database_url: str = "") -> ThroughputResult:
    progress(f"throughput: building {count} form mails")
    mails = list(form_mails(count))
    with tempfile.TemporaryDirectory(prefix="mailflow-bench-") as tmp, \
            Dovecot(DEFAULT_USERS) as dovecot, SinkProcess() as sink:
        work = Path(tmp)
        log_path = log or work / "mailflow.log"
        with log_path.open("a", encoding="utf-8") as log_stream:
            log_to(log_stream)
            _fill_inbox(dovecot, mails)
            progress(f"throughput: mailflow run_once over {count} mails")
            cpu = _cpu()
            elapsed, checks, acks = _mailflow_pass(dovecot, sink, work, profile, database_url)
            mailflow_cpu = _cpu() - cpu
        # the floor twice, averaged: on a shared machine one pass can meet a busy moment
        runs: list[dict[str, float]] = []
        floor_cpu = 0.0
        for run in range(1, FLOOR_RUNS + 1):
            progress(f"throughput: floor {run}/{FLOOR_RUNS} over the same {count} mails")
            _fill_inbox(dovecot, mails)  # same mails, same INBOX size (pitfall 15)
            sink.clear()
            cpu = _cpu()
            parts, forms_read = _floor_pass(dovecot, sink, acks)
            floor_cpu += (_cpu() - cpu) / FLOOR_RUNS
            runs.append(parts)
            checks["floor_forms_read"] = min(checks.get("floor_forms_read", count), forms_read)
            checks["floor_acks_at_server"] = min(checks.get("floor_acks_at_server", count),
                                                 sink.count())
    floor_parts = {key: sum(r[key] for r in runs) / len(runs) for key in runs[0]}
    return ThroughputResult(
        mails=count,
        mailflow_seconds=elapsed,
        floor_seconds=sum(floor_parts.values()),
        floor_parts=floor_parts,
        checks=checks,
        mailflow_cpu=mailflow_cpu,
        floor_cpu=floor_cpu,
        floor_runs=[sum(r.values()) for r in runs],
    )
