"""Issue 7: `mailflow run` stays up through outages of everything it talks to, loses nothing.

* Dovecot down for several seconds: reconnect with backoff, mail that arrives after the
  restart is taken in, everything answered once.
* SMTP server down, then answering 4xx: replies wait in the outbox and all go out once when
  it is back; a 5xx is reported (status failed, audit event) and never tried again.
* PostgreSQL killed (``pg_ctl stop -m immediate``) while mails are being taken in and sent,
  mail arriving while it is down, then restarted: nothing lost, nothing twice (apart from the
  one documented case: a reply the SMTP server accepted just before the "sent" commit
  failed goes out again with the same Message-ID).
* A database server that accepts connections and never answers: an error after the connect
  timeout, which the run loop retries, instead of a hang.

The PostgreSQL test starts its own throwaway cluster (initdb + pg_ctl as user postgres on a
free port under /tmp), so stopping it cannot disturb other tests using the shared one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from mailflow.config import Settings
from mailflow.store.db import make_engine, session_factory
from mailflow.store.models import AuditEvent, OutboxMessage
from mailflow_testing import SmtpServer, free_port
from tests.stack import SERVICE, stack_settings
from tests.test_crash import make_mails, tuned, verify_exactly_once

# -- `mailflow run` as a child process ----------------------------------------------------------

def write_config(settings: Settings, path: Path) -> Path:
    """The settings as the TOML file an administrator would write."""
    import json

    data = json.loads(settings.model_dump_json(exclude_none=True))
    lines: list[str] = []
    for section in ("service", "mailbox", "smtp", "storage"):
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in data[section].items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class MailflowRun:
    """``python -m mailflow --config FILE run``; its log goes to a file read at any time."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mailflow", "--config", str(config), "run"],
                cwd=config.parent, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                stdout=out, stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM and wait; the exit code (AssertionError when it does not stop)."""
        if not self.alive():
            return int(self.proc.returncode)
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"did not stop on SIGTERM:\n{self.output()[-3000:]}") from None


def wait_until(check: Callable[[], bool], timeout: float, what: str,
               run: MailflowRun | None = None) -> None:
    """Poll *check* until true; AssertionError naming *what* (and the run's log) otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if run is not None and not run.alive():
            raise AssertionError(f"mailflow exited while waiting for {what}:\n"
                                 f"{run.output()[-4000:]}")
        time.sleep(0.1)
    tail = f":\n{run.output()[-4000:]}" if run is not None else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}{tail}")


def outbox_rows(settings: Settings) -> list[OutboxMessage]:
    """The outbox now; empty while mailflow has not yet created its tables."""
    engine = make_engine(settings.storage.resolved_database_url())
    try:
        with session_factory(engine)() as session:
            return list(session.execute(select(OutboxMessage)).scalars())
    except OperationalError:
        return []
    finally:
        engine.dispose()


# -- Dovecot ---------------------------------------------------------------------------------

def test_dovecot_down_for_seconds_then_mail_arrives_after_restart(
    mailstack: Any, smtp_server: SmtpServer, sqlite_url: str, tmp_path: Path
) -> None:
    dovecot, sink = mailstack.dovecot, smtp_server  # sink: no LMTP, any recipient
    settings = stack_settings(dovecot, sink, sqlite_url, tmp_path, poll_interval=30.0,
                              replies_per_hour=1000)
    before, after = make_mails(3, "imap-before-"), make_mails(5, "imap-after-")
    dovecot.append_many(SERVICE, before)
    run = MailflowRun(write_config(settings, tmp_path / "config.toml"), tmp_path / "run.log")
    try:
        wait_until(lambda: len(sink.messages) >= 3, 90, "the first three replies", run)
        dovecot.stop()  # every IMAP connection drops; connects are refused
        time.sleep(5)  # down for a while: several reconnect attempts (backoff 1, 2, 4 s)
        assert run.alive()
        dovecot.start()
        dovecot.append_many(SERVICE, after)
        wait_until(lambda: len(sink.messages) >= 8, 60, "replies to mail after the restart",
                   run)
    finally:
        code = run.stop()
    output = run.output()
    assert code == 0, output[-3000:]
    assert output.count("connection lost; reconnecting") >= 2, output[-3000:]
    tally = verify_exactly_once(settings, before + after, sink, dovecot)
    assert tally.duplicates == 0


# -- SMTP ------------------------------------------------------------------------------------

def test_smtp_down_then_4xx_then_5xx_while_run_stays_up(
    mailstack: Any, smtp_server: SmtpServer, sqlite_url: str, tmp_path: Path
) -> None:
    dovecot, sink = mailstack.dovecot, smtp_server  # sink: no LMTP, any recipient
    settings = stack_settings(dovecot, sink, sqlite_url, tmp_path, poll_interval=30.0,
                              replies_per_hour=1000)
    down, tempfail = make_mails(4, "smtp-down-"), make_mails(3, "smtp-451-")
    refused = make_mails(1, "smtp-554-")
    sink.stop()
    dovecot.append_many(SERVICE, down)
    run = MailflowRun(write_config(settings, tmp_path / "config.toml"), tmp_path / "run.log")
    try:
        # down: recorded and queued, each tried and deferred at least twice
        wait_until(lambda: len(rows := outbox_rows(settings)) == 4
                   and all(r.status == "pending" and r.attempts >= 2 for r in rows),
                   90, "four replies deferred twice", run)
        assert sink.messages == []
        sink.start()
        wait_until(lambda: len(sink.messages) >= 4, 30, "the queued replies", run)

        # 4xx: refused six times, then accepted
        sink.fail_with(451, "4.3.0 try later", times=6)
        dovecot.append_many(SERVICE, tempfail)
        wait_until(lambda: len(sink.messages) >= 7, 30, "replies after 451s", run)

        # 5xx: reported once, never tried again
        sink.fail_with(554, "5.7.1 refused by policy")
        dovecot.append_many(SERVICE, refused)
        wait_until(lambda: any(r.status == "failed" for r in outbox_rows(settings)), 30,
                   "the refused reply marked failed", run)
        attempts = sink.attempts
        time.sleep(3)  # longer than retry_max_seconds (2 s): a retry would have happened
        assert sink.attempts == attempts
        sink.succeed()
        assert run.alive()
    finally:
        code = run.stop()
    assert code == 0, run.output()[-3000:]

    rows = outbox_rows(settings)
    assert Counter(r.status for r in rows) == {"sent": 7, "failed": 1}
    failed = next(r for r in rows if r.status == "failed")
    assert "554" in failed.last_error and failed.attempts == 1
    tempfailed = [r for r in rows if r.primary_recipient.startswith("smtp-451-")]
    assert sum(r.attempts for r in tempfailed) == 3 + 6
    sent_ids = Counter(str(m.parsed()["Message-ID"]) for m in sink.messages)
    assert sorted(sent_ids) == sorted(r.message_id for r in rows if r.status == "sent")
    assert set(sent_ids.values()) == {1}  # each sent exactly once
    engine = make_engine(settings.storage.resolved_database_url())
    with session_factory(engine)() as session:
        reports = session.execute(
            select(AuditEvent).where(AuditEvent.action == "mail_send_failed")
        ).scalars().all()
    engine.dispose()
    assert [r.outbox_id for r in reports] == [failed.id]
    assert dovecot.count(SERVICE, "INBOX") == 0


# -- PostgreSQL ------------------------------------------------------------------------------

class PrivateCluster:
    """A throwaway PostgreSQL cluster owned by user postgres, trust auth on 127.0.0.1."""

    def __init__(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                      else 0)
        if not bins:
            pytest.fail("PostgreSQL server binaries are not installed "
                        "(`bash scripts/test-services` installs them)", pytrace=False)
        self.bin = bins[-1].parent
        self.root = Path(tempfile.mkdtemp(prefix="mfpg-", dir="/tmp"))
        self.root.chmod(0o755)
        shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.port = free_port()
        self._as_postgres(self.bin / "initdb", "-D", str(self.data), "-A", "trust",
                          "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")

    def _as_postgres(self, *args: str | Path) -> None:
        result = subprocess.run(["runuser", "-u", "postgres", "--", *map(str, args)],
                                capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise AssertionError(f"{' '.join(map(str, args))} failed: {result.stdout}"
                                 f"{result.stderr}\n{tail}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._as_postgres(self.bin / "pg_ctl", "-D", self.data, "-l", self.root / "server.log",
                          "-w", "-t", "60", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(self.bin / "pg_ctl", "-D", self.data, "-w", "-t", "60", "-m", mode,
                          "stop")

    def create_database(self, name: str) -> str:
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(AssertionError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_pg() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


def test_postgresql_killed_and_restarted_while_run_works(
    mailstack: Any, smtp_server: SmtpServer, private_pg: PrivateCluster, tmp_path: Path
) -> None:
    dovecot, sink = mailstack.dovecot, smtp_server  # sink: no LMTP, any recipient
    url = private_pg.create_database("mailflow")
    settings = tuned(stack_settings(dovecot, sink, url, tmp_path, poll_interval=30.0,
                                    replies_per_hour=1000), fetch_batch=2)
    first, during, down = make_mails(4, "pg-a-"), make_mails(8, "pg-b-"), make_mails(4, "pg-c-")
    dovecot.append_many(SERVICE, first)
    run = MailflowRun(write_config(settings, tmp_path / "config.toml"), tmp_path / "run.log")
    try:
        wait_until(lambda: len(sink.messages) >= 4, 90, "the first replies", run)
        dovecot.append_many(SERVICE, during)
        wait_until(lambda: run.output().count("mail taken in") >= 6, 30,
                   "intake of the second group under way", run)
        private_pg.stop("immediate")  # like a crash: connections cut mid-transaction
        dovecot.append_many(SERVICE, down)  # mail keeps arriving while the database is away
        time.sleep(3)
        assert run.alive()
        assert dovecot.count(SERVICE, "INBOX") >= len(down)  # nothing recorded, nothing moved
        private_pg.start()
        total = len(first) + len(during) + len(down)
        wait_until(lambda: len({m.parsed()["Message-ID"] for m in sink.messages}) >= total
                   and dovecot.count(SERVICE, "INBOX") == 0,
                   90, "every reply after the restart", run)
    finally:
        code = run.stop()
    output = run.output()
    assert code == 0, output[-3000:]
    assert "reconnecting" in output or "database unavailable" in output, output[-3000:]
    tally = verify_exactly_once(settings, first + during + down, sink, dovecot)
    # at most the one reply in flight when the database went away goes out twice
    assert tally.duplicates <= 1, tally


def test_a_database_server_that_never_answers_is_an_error_not_a_hang() -> None:
    """A PostgreSQL host that accepts the connection and then says nothing (half-dead
    server, black-holing firewall): libpq would wait forever by default, freezing the run
    loop; mailflow's connect timeout turns it into an error the loop retries."""
    silent = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True).start()
    engine = make_engine(f"postgresql://mailflow@127.0.0.1:{silent.getsockname()[1]}/mailflow")
    outcome: list[BaseException] = []

    def connect() -> None:
        try:
            engine.connect().close()
        except BaseException as exc:
            outcome.append(exc)

    attempt = threading.Thread(target=connect, daemon=True)
    try:
        attempt.start()
        attempt.join(timeout=60)
        assert not attempt.is_alive(), "connecting to a silent server hangs"
        assert outcome and isinstance(outcome[0], OperationalError), outcome
    finally:
        engine.dispose()
        for conn in accepted:
            conn.close()
        silent.close()
