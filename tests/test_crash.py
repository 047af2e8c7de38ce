"""Issue 7: kill -9 mailflow again and again while it works; afterwards nothing is lost or twice.

Each round a fresh mailflow process is started and SIGKILLed, either at a chosen point of the
pipeline (the n-th time it gets there) or after a random delay of 0.05-1.5 s (every third
round: a random moment, inside whatever step runs then); then the next round starts on
whatever the dead one left behind. The points cover every step of one mail, inside steps as
well as after them, and every campaign asserts that each of them fired:

    archive_writing  inside the write of a blob: part of it written, the rest not (issue 19)
    archive_put    a blob (inbound mail, attachment or sent copy) was just written
    mail_received  inside the intake transaction: recorded, not committed
    committed      after the commit, before the move out of the INBOX
    moved          right after a batch was moved to Processed
    before_send    outbox rows claimed, the next one not yet handed to SMTP
    smtp_accepted  the SMTP server accepted the mail, "sent" not yet committed
    mail_sent      inside the "sent" transaction, not committed

Python and mailflow's imports take seconds here, so the processes are forked from a
"zygote" that imported everything once (``python -m tests.test_crash``): a round costs a
fork and one Service() start instead of a new interpreter.

After every round, whatever the kill left, the archive-first invariant holds (issue 19): every
recorded mail, attachment and sent copy has its archived bytes with the right hash, no blob
under its real name is torn, and every mail in Processed is recorded.

The one window where a mail may go out twice is documented (docs/architecture.md): the
server accepted it and the process died before the "sent" commit. The test counts those
kills and checks that every extra copy is that same mail again (same Message-ID), never a
second, different acknowledgment for one request.
"""

from __future__ import annotations

import email
import json
import os
import random
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select

from mailflow.config import Settings
from mailflow.records.verify import check_chain
from mailflow.store.archive import Archive, sha256_hex
from mailflow.store.db import make_engine, session_factory
from mailflow.store.models import (
    Attachment,
    AuditEvent,
    InboundMail,
    OutboxMessage,
    Request,
    SourcePosition,
)
from mailflow_testing import SmtpServer, mailbuild
from tests.stack import SERVICE, stack_settings

REPO = Path(__file__).resolve().parents[1]

POINTS = ("archive_writing", "archive_put", "mail_received", "committed", "moved",
          "before_send", "smtp_accepted", "mail_sent")
#: the killing file layer writes this much per call, so every blob takes several writes
PIECE = 512


# -- the zygote and its children (run as ``python -m tests.test_crash SETTINGS JOURNAL``) -----

def _child(settings: Settings, plan: dict[str, Any], journal: Path) -> None:
    """One mailflow process: a Service with kill hooks on public edges, run once or forever."""
    from mailflow.clock import SystemClock
    from mailflow.mail.sources import FetchedMail, MailSource, Target, make_source
    from mailflow.service import Service
    from mailflow.store import audit
    from mailflow.store.archive import OsFiles

    point: str | None = plan.get("point")
    target = int(plan.get("n", 0))
    seen: Counter[str] = Counter()
    state = {"after_send": False}

    def hit(name: str, detail: str = "") -> None:
        if name != point:
            return
        seen[name] += 1
        if seen[name] == target:
            with journal.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"point": name, "detail": detail}) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.kill(os.getpid(), signal.SIGKILL)

    class KillingSource:
        def __init__(self, inner: MailSource) -> None:
            self.inner = inner
            self.source_key = inner.source_key

        def open(self) -> None:
            self.inner.open()
            self.source_key = self.inner.source_key

        def batches(self, size: int) -> Iterator[list[FetchedMail]]:
            return self.inner.batches(size)

        def move(self, uids: Sequence[str], target: Target) -> None:
            self.inner.move(uids, target)
            if uids:
                hit("moved", target)

        def wait(self, timeout: float) -> bool:
            return self.inner.wait(timeout)

        def close(self) -> None:
            self.inner.close()

    service = Service(settings, SystemClock(), source=KillingSource(make_source(settings.mailbox)),
                      after_commit=lambda uid: hit("committed", uid))

    class KillingFiles(OsFiles):
        """Writes a blob in pieces and may die between them: inside the write (issue 19)."""

        def write(self, fd: int, data: memoryview) -> int:
            written = super().write(fd, data[:PIECE])
            if written < len(data):
                hit("archive_writing")
            return written

    service.archive.files = KillingFiles()
    put = service.archive.put

    def killing_put(data: bytes, digest: str | None = None) -> str:
        result = put(data, digest)
        kind = "sent" if state["after_send"] else "inbound"
        state["after_send"] = False
        hit("archive_put", kind)
        return result

    service.archive.put = killing_put  # type: ignore[method-assign]

    send = service.transport.send

    async def killing_send(sender: str, recipients: Sequence[str], raw: bytes) -> None:
        hit("before_send")
        await send(sender, recipients, raw)
        state["after_send"] = True
        hit("smtp_accepted")

    service.transport.send = killing_send  # type: ignore[method-assign]

    record = audit.record

    def killing_record(*args: Any, **kwargs: Any) -> Any:
        result = record(*args, **kwargs)
        action = args[2] if len(args) > 2 else kwargs.get("action", "")
        if action in ("mail_received", "mail_sent"):
            hit(str(action))
        return result

    audit.record = killing_record

    if plan.get("mode") == "forever":
        service.run_forever()
    else:
        service.run_once()
        service.close()


def _zygote(settings_file: Path, journal: Path) -> None:
    """Import everything once, then fork one child per request line on stdin."""
    from mailflow.logs import configure
    from mailflow.service import Service  # noqa: F401  (the import is the point)

    configure("info", "console")
    settings = Settings.model_validate_json(settings_file.read_text(encoding="utf-8"))
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        plan = json.loads(line)
        out.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                fd = os.open(plan["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                _child(settings, plan, journal)
            except BaseException:
                traceback.print_exc()
                code = 70
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        out.write(f"pid {pid}\n")
        out.flush()
        _, status = os.waitpid(pid, 0)
        out.write(f"exit {os.waitstatus_to_exitcode(status)}\n")
        out.flush()


class Zygote:
    """The pytest side: ask for a child, maybe kill it, learn how it ended."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.workdir = workdir
        self.journal = workdir / "kills.jsonl"
        settings_file = workdir / "settings.json"
        settings_file.write_text(settings.model_dump_json(), encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.test_crash", str(settings_file), str(self.journal)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self._expect("ready")
        self.rounds = 0

    def _line(self) -> str:
        stdout: IO[str] | None = self.proc.stdout
        assert stdout is not None
        line = stdout.readline()
        if not line:
            raise AssertionError(f"zygote died (code {self.proc.poll()})")
        return line.strip()

    def _expect(self, word: str) -> str:
        """The zygote's next line, which must start with *word* (pytest-timeout bounds it)."""
        line = self._line()
        if not line.startswith(word):
            raise AssertionError(f"zygote said {line!r}, expected {word!r}")
        return line.removeprefix(word).strip()

    def round(self, plan: dict[str, Any], kill_after: float | None = None,
              limit: float = 60.0) -> int:
        """Run one child and return its exit code (-9: killed).

        With *kill_after* it is SIGKILLed after that many seconds unless it ended; without,
        it must end by itself (kill hook or done) within *limit* seconds.
        """
        self.rounds += 1
        plan = {**plan, "log": str(self.workdir / f"round-{self.rounds:03d}.log")}
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(json.dumps(plan) + "\n")
        stdin.flush()
        pid = int(self._expect("pid"))
        deadline = time.monotonic() + (kill_after if kill_after is not None else limit)
        while time.monotonic() < deadline and _running(pid):
            time.sleep(0.01)
        hung = _running(pid) and kill_after is None
        if _running(pid):
            os.kill(pid, signal.SIGKILL)  # still our zygote's unreaped child: pid is safe
        code = int(self._expect("exit"))
        if hung:
            raise AssertionError(f"round {self.rounds} ({plan}) hung for {limit} s")
        return code

    def kills(self) -> list[dict[str, str]]:
        if not self.journal.exists():
            return []
        return [json.loads(line) for line in self.journal.read_text().splitlines() if line]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _running(pid: int) -> bool:
    """True while *pid* runs (a zombie waiting for the zygote's waitpid counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


# -- the test side ---------------------------------------------------------------------------

@dataclass
class Campaign:
    """What happened over all rounds, for the assertions and the failure message."""

    kills: int = 0
    appended: int = 0  # mails put in the INBOX so far
    timed_rounds: int = 0
    timed_kills: int = 0
    clean_exits: int = 0
    by_point: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)


def make_mails(n: int, tag: str) -> list[bytes]:
    """*n* requests from *n* different people, some with attachments, some in GBK."""
    pdf = b"%PDF-1.4\n% scanned\n"
    mails = []
    for i in range(n):
        sender = f"{tag}{i:03d}@example.test"
        if i % 3 == 0:
            raw = mailbuild.human_mail(sender=sender, to=SERVICE, charset="gbk",
                                       subject=f"申请开通帐号 {tag}{i}", body="请帮忙开通，谢谢。")
        elif i % 3 == 1:
            raw = mailbuild.human_mail(sender=sender, to=SERVICE, subject=f"数据提取 {tag}{i}",
                                       body="详见附件。",
                                       attachments=[(f"说明-{tag}{i}.pdf", pdf + bytes([i % 256]),
                                                     "application/pdf")])
        else:
            raw = mailbuild.human_mail(sender=sender, to=SERVICE, subject=f"咨询 {tag}{i}",
                                       body=f"第{i}个问题")
        mails.append(mailbuild.to_crlf(raw))
    return mails


def crash_campaign(
    zygote: Zygote,
    append: Callable[[list[bytes]], None],
    mails: list[bytes],
    *,
    seed: int,
    min_kills: int,
    waiting: Callable[[], int],
    timed_every: int = 3,
    max_rounds: int = 120,
    after_round: Callable[[], None] | None = None,
) -> Campaign:
    """Kill a child every round while feeding *mails* as the rounds use them.

    Before each round the INBOX is topped up to two waiting mails (*waiting* counts them),
    so there is always work for a kill to interrupt and the mails last until every point has
    fired: the chosen points are those that have not fired yet, as long as there are any.
    Every *timed_every*-th round is killed after a random delay instead, at whatever moment
    that is. *after_round* checks what each round left behind. Once enough kills happened
    and every point fired, the mails not used yet are appended for the recovery run.
    """
    rng = random.Random(seed)
    c = Campaign()

    def feed(count: int) -> None:
        if count > 0 and c.appended < len(mails):
            group = mails[c.appended:c.appended + count]
            append(group)
            c.appended += len(group)

    for number in range(1, max_rounds + 1):
        fired = {k["point"] for k in zygote.kills()}
        if c.kills >= min_kills and fired >= set(POINTS):
            feed(len(mails))
            break
        feed(2 - waiting())
        if number % timed_every == 0:
            mode = rng.choice(["once", "forever"])
            delay = rng.uniform(0.05, 1.5)
            code = zygote.round({"mode": mode}, kill_after=delay)
            c.timed_rounds += 1
            c.log.append(f"{number}: timed {mode} {delay:.2f}s -> {code}")
            if code == -signal.SIGKILL:
                c.timed_kills += 1
        else:
            unfired = [p for p in POINTS if p not in fired]
            plan = {"mode": "once", "point": rng.choice(unfired or list(POINTS)),
                    "n": rng.randint(1, 2)}
            code = zygote.round(plan)
            c.log.append(f"{number}: {plan['point']}#{plan['n']} -> {code}")
        if code == -signal.SIGKILL:
            c.kills += 1
        elif code == 0:
            c.clean_exits += 1
        else:
            raise AssertionError(f"round {number} failed with {code}; see {zygote.workdir}\n"
                                 + "\n".join(c.log))
        if after_round is not None:
            try:
                after_round()
            except AssertionError as exc:
                raise AssertionError(f"after round {number} ({c.log[-1]}): {exc}") from exc
    else:
        raise AssertionError(f"only {c.kills} kills in {max_rounds} rounds, fired "
                             f"{sorted({k['point'] for k in zygote.kills()})}\n"
                             + "\n".join(c.log))
    for k in zygote.kills():
        c.by_point[k["point"] + ("/sent" if k["detail"] == "sent" else "")] += 1
    return c


def check_archive_first(settings: Settings, dovecot: Any) -> None:
    """The archive-first invariant, true after any kill (issue 19): every recorded mail,
    attachment and sent copy has its bytes archived under their hash; no blob under its real
    name is torn; every mail in Processed is recorded."""
    engine = make_engine(settings.storage.resolved_database_url())
    root = settings.storage.resolved_archive_dir()
    archive = Archive(root)
    try:
        with session_factory(engine)() as s:
            mails = set(s.execute(select(InboundMail.sha256)).scalars())
            attachments = set(s.execute(select(Attachment.sha256)).scalars())
            sent = {d for d in s.execute(select(OutboxMessage.archive_sha256)).scalars() if d}
    finally:
        engine.dispose()
    for kind, digests in (("mail", mails), ("attachment", attachments), ("sent copy", sent)):
        missing = [d[:12] for d in digests if d not in archive or not archive.verify(d)]
        assert not missing, f"recorded {kind}s without their archived bytes: {missing}"
    for blob in root.rglob("*"):
        if blob.is_file() and not blob.name.startswith(".tmp-"):
            assert sha256_hex(blob.read_bytes()) == blob.name, f"torn blob {blob.name[:12]}"
    processed = settings.mailbox.processed_folder
    if processed in dovecot.folders(SERVICE):
        unrecorded = [raw[:60] for raw in dovecot.fetch_all(SERVICE, processed)
                      if sha256_hex(raw) not in mails]
        assert not unrecorded, f"mails in {processed} that are not recorded: {unrecorded}"


@dataclass(frozen=True)
class Tally:
    received: int  # SMTP transactions the server accepted
    distinct: int  # different Message-IDs among them
    duplicates: int  # received - distinct: extra copies of a mail already sent


def _bare(message_id: str | None) -> str:
    return (message_id or "").strip().strip("<>")


def verify_exactly_once(settings: Settings, inbound: Sequence[bytes], smtp: SmtpServer,
                        dovecot: Any) -> Tally:
    """Everything a mail causes exists exactly once; returns what reached the SMTP server.

    inbound: the raw mails (CRLF) that were put in the INBOX, all from different people.
    """
    n = len(inbound)
    engine = make_engine(settings.storage.resolved_database_url())
    archive = Archive(settings.storage.resolved_archive_dir())
    try:
        with session_factory(engine)() as s:
            mails = s.execute(select(InboundMail)).scalars().all()
            requests = s.execute(select(Request)).scalars().all()
            rows = s.execute(select(OutboxMessage)).scalars().all()
            positions = s.execute(select(func.count()).select_from(SourcePosition)).scalar_one()
            attachments = s.execute(select(Attachment.sha256)).scalars().all()
            actions = Counter(s.execute(select(AuditEvent.action)).scalars())
            _sealed, _unsealed, chain_problems = check_chain(s)  # issue 17: still one chain
    finally:
        engine.dispose()

    # archived once: one row per mail, the blob there byte for byte
    assert sorted(m.sha256 for m in mails) == sorted(sha256_hex(raw) for raw in inbound)
    assert all(m.status == "registered" for m in mails), Counter(m.status for m in mails)
    for raw in inbound:
        assert archive.get(sha256_hex(raw)) == raw
    assert all(archive.verify(digest) for digest in attachments)
    assert positions == n
    # one request per mail, reference numbers unique and without gaps (rolled-back
    # transactions give their number back)
    assert sorted(r.source_mail_id for r in requests) == sorted(m.id for m in mails)
    numbers = sorted(int(r.reference.rsplit("-", 1)[1]) for r in requests)
    assert numbers == list(range(1, n + 1)), numbers
    # one acknowledgment per mail, sent, its sent bytes archived
    assert len(rows) == n and all(r.status == "sent" for r in rows), \
        Counter((r.status, r.claimed_by) for r in rows)
    assert all(archive.get(r.archive_sha256) == r.raw for r in rows)
    assert actions["mail_received"] == n and actions["request_created"] == n
    assert actions["reply_queued"] == n and actions["mail_sent"] == n
    assert actions["mail_quarantined"] == 0
    assert chain_problems == []  # kills mid-seal roll back: no gap, no fork

    # what the SMTP server got: every outbox row at least once; a repeat is the same mail
    by_id: dict[str, list[bytes]] = defaultdict(list)
    acks_for: dict[str, set[str]] = defaultdict(set)
    for message in smtp.messages:
        parsed = email.message_from_bytes(message.data, policy=policy.default)
        mid = _bare(parsed["Message-ID"])
        by_id[mid].append(message.data)
        acks_for[_bare(parsed["In-Reply-To"])].add(mid)
    assert set(by_id) == {_bare(r.message_id) for r in rows}
    for mid, copies in by_id.items():
        assert len(set(copies)) == 1, f"two different mails under one Message-ID {mid}"
    inbound_ids = {
        _bare(email.message_from_bytes(raw, policy=policy.default)["Message-ID"])
        for raw in inbound
    }
    assert set(acks_for) == inbound_ids
    assert all(len(ids) == 1 for ids in acks_for.values()), "two different acks for one mail"

    # the mailbox: everything moved to Processed, nothing left, nothing quarantined
    assert dovecot.count(SERVICE, "INBOX") == 0
    assert dovecot.count(SERVICE, settings.mailbox.processed_folder) == n
    assert settings.mailbox.quarantine_folder not in dovecot.folders(SERVICE) or \
        dovecot.count(SERVICE, settings.mailbox.quarantine_folder) == 0
    received = len(smtp.messages)
    return Tally(received=received, distinct=len(by_id), duplicates=received - len(by_id))


def tuned(settings: Settings, *, fetch_batch: int = 3, lease_seconds: float = 3.0) -> Settings:
    """Small fetch batches (more moves to die between) and a short mailbox lease."""
    return settings.model_copy(update={
        "mailbox": settings.mailbox.model_copy(update={"fetch_batch": fetch_batch}),
        "service": settings.service.model_copy(update={"lease_seconds": lease_seconds}),
    })


def run_campaign(mailstack: Any, sink: SmtpServer, url: str, tmp_path: Path, *, mails: int,
                 kills: int, seed: int) -> tuple[Campaign, Tally]:
    dovecot = mailstack.dovecot
    settings = tuned(stack_settings(dovecot, sink, url, tmp_path, replies_per_hour=1000))
    inbound = make_mails(mails, f"s{seed}-")
    zygote = Zygote(settings, tmp_path)
    try:
        campaign = crash_campaign(zygote, lambda group: dovecot.append_many(SERVICE, group),
                                  inbound, seed=seed, min_kills=kills,
                                  waiting=lambda: dovecot.count(SERVICE, "INBOX"),
                                  after_round=lambda: check_archive_first(settings, dovecot))
        recovery = zygote.round({"mode": "once"})  # a restart nobody kills
    finally:
        zygote.close()
    assert recovery == 0, f"recovery run failed; see {tmp_path}"
    check_archive_first(settings, dovecot)
    tally = verify_exactly_once(settings, inbound[:campaign.appended], sink, dovecot)
    # at-least-once window: SMTP accepted, killed before the "sent" commit. Each such kill
    # at a chosen point causes exactly one more copy of that mail; a random-delay kill may.
    window = (campaign.by_point["smtp_accepted"] + campaign.by_point["mail_sent"]
              + campaign.by_point["archive_put/sent"])
    detail = f"{campaign.by_point} {tally}\n" + "\n".join(campaign.log)
    assert window <= tally.duplicates <= window + campaign.timed_kills, detail
    return campaign, tally


def test_kill9_forty_mails_thirty_kills_sqlite(
    mailstack: Any, smtp_server: SmtpServer, sqlite_url: str, tmp_path: Path
) -> None:
    campaign, tally = run_campaign(mailstack, smtp_server, sqlite_url, tmp_path, mails=40,
                                   kills=32, seed=20260701)
    assert campaign.kills >= 32
    # every point fired (the campaign aims at those that have not); if mailflow's pipeline
    # changes so that one never fires, this says which
    assert {p.split("/")[0] for p in campaign.by_point} == set(POINTS), campaign.by_point
    assert campaign.timed_rounds * 3 >= len(campaign.log) - 2  # random moments: a third
    print(f"\nkills {campaign.kills} (timed {campaign.timed_kills}), clean {campaign.clean_exits},"
          f" by point {dict(campaign.by_point)}, {tally}")


def test_kill9_postgresql(
    mailstack: Any, smtp_server: SmtpServer, postgres_url: str, tmp_path: Path
) -> None:
    campaign, tally = run_campaign(mailstack, smtp_server, postgres_url, tmp_path, mails=30,
                                   kills=12, seed=2026)
    assert campaign.kills >= 12
    assert {p.split("/")[0] for p in campaign.by_point} == set(POINTS), campaign.by_point
    assert campaign.timed_rounds * 3 >= len(campaign.log) - 2
    print(f"\nkills {campaign.kills} (timed {campaign.timed_kills}), clean {campaign.clean_exits},"
          f" by point {dict(campaign.by_point)}, {tally}")


if __name__ == "__main__":
    _zygote(Path(sys.argv[1]), Path(sys.argv[2]))
