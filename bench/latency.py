"""Latency: ``mailflow run`` idling in IMAP IDLE; one form mail at a time.

Each sample is the time from APPEND returning to the acknowledgment reaching the SMTP
server. Dovecot delays every IDLE notification by 500 ms (MAILSTACK.md pitfall 9), so no
IDLE client can answer faster than that here; the rest is mailflow.

With ``stall`` (``--stall``, issue 20) a hostile mail (bench/stall.py) is delivered after the
warm-up and LibreOffice is kept converting it through every sample: the figures are then the
latency of ordinary mail while a hostile mail is being converted, and the result says whether
the conversion was still in flight when the last sample was taken.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.mails import filled_forms, form_mail
from bench.stack import bench_settings, stop, write_config
from bench.stall import HOSTILE_SENDER, HoldingListener, hostile_mail, linked_picture_doc
from mailflow_testing import DEFAULT_USERS, SERVICE_ADDRESS, Dovecot, SmtpServer
from mailflow_testing.mailbuild import to_crlf

WARMUP = 2  # first mails pay for imports and caches; not counted
REPO = Path(__file__).resolve().parents[1]


@dataclass
class LatencyResult:
    samples: list[float] = field(default_factory=list)
    #: --stall: was the hostile mail still converting (unanswered) after the last sample?
    stalled_throughout: bool | None = None
    #: --stall: seconds from releasing the hostile conversion to its mail's answer
    hostile_answered_after: float | None = None

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def max(self) -> float:
        return max(self.samples)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(count=len(self.samples), p50=round(self.p50, 4), p95=round(self.p95, 4),
                   max=round(self.max, 4), min=round(min(self.samples), 4))
        return out


def _wait_for_line(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(encoding="utf-8", errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"mailflow run did not log {text!r}; see {log}:\n"
                       + log.read_text(encoding="utf-8", errors="replace")[-3000:])


def run_latency(count: int, *, gap: float = 0.2, progress: Any = print,
                database_url: str = "", stall: bool = False) -> LatencyResult:
    forms = filled_forms()
    mails = [to_crlf(form_mail(forms[n % len(forms)], n)) for n in range(1, count + WARMUP + 1)]
    result = LatencyResult()
    with tempfile.TemporaryDirectory(prefix="mailflow-bench-") as tmp, \
            Dovecot(DEFAULT_USERS) as dovecot, SmtpServer() as smtp, \
            contextlib.closing(HoldingListener()) as listener:
        work = Path(tmp)
        settings = bench_settings(dovecot, (smtp.host, smtp.port), work / "data",
                                  poll_interval=60.0, database_url=database_url)
        hostile = b""
        if stall:
            hostile = hostile_mail(linked_picture_doc(f"http://127.0.0.1:{listener.port}/p"))
            listener.hold()
            long = 3600.0  # the listener's release, not a timeout, ends the conversion
            settings = settings.model_copy(update={"forms": settings.forms.model_copy(update={
                "conversion_network_sandbox": False, "conversion_timeout_seconds": long,
                "conversion_budget_seconds": long})})
        config = write_config(settings, work / "config.toml")
        log = work / "run.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mailflow", "--config", str(config), "run"],
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        try:
            _wait_for_line(log, "mailbox open", proc, 60)
            time.sleep(1.0)  # let it reach IDLE
            progress(f"latency: {count} mails one at a time (+{WARMUP} warm-up)")
            client = dovecot.connect(SERVICE_ADDRESS)
            try:
                for index, raw in enumerate(mails):
                    if stall and index == WARMUP:
                        client.append("INBOX", hostile)
                        if not listener.request_held.wait(180):
                            raise RuntimeError("--stall: LibreOffice never asked for the "
                                               f"linked picture; see {log}")
                        progress("latency: a hostile mail is converting; measuring")
                    client.append("INBOX", raw)
                    sent = time.monotonic()
                    smtp.wait_for(index + 1, timeout=60)
                    if index >= WARMUP:
                        result.samples.append(time.monotonic() - sent)
                    time.sleep(gap)
                if stall:
                    result.stalled_throughout = listener.holding() and not any(
                        HOSTILE_SENDER in m.rcpt_tos for m in smtp.messages)
                    released = time.monotonic()
                    listener.release()
                    smtp.wait_for(len(mails) + 1, timeout=300)
                    result.hostile_answered_after = time.monotonic() - released
            finally:
                client.logout()
        finally:
            stop(proc)
    return result
