"""Latency: ``mailflow run`` idling in IMAP IDLE; one form mail at a time.

Each sample is the time from APPEND returning to the acknowledgment reaching the SMTP
server. Dovecot delays every IDLE notification by 500 ms (MAILSTACK.md pitfall 9), so no
IDLE client can answer faster than that here; the rest is mailflow.
"""

from __future__ import annotations

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
from mailflow_testing import DEFAULT_USERS, SERVICE_ADDRESS, Dovecot, SmtpServer
from mailflow_testing.mailbuild import to_crlf

WARMUP = 2  # first mails pay for imports and caches; not counted
REPO = Path(__file__).resolve().parents[1]


@dataclass
class LatencyResult:
    samples: list[float] = field(default_factory=list)

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
                database_url: str = "") -> LatencyResult:
    forms = filled_forms()
    mails = [to_crlf(form_mail(forms[n % len(forms)], n)) for n in range(1, count + WARMUP + 1)]
    result = LatencyResult()
    with tempfile.TemporaryDirectory(prefix="mailflow-bench-") as tmp, \
            Dovecot(DEFAULT_USERS) as dovecot, SmtpServer() as smtp:
        work = Path(tmp)
        settings = bench_settings(dovecot, (smtp.host, smtp.port), work / "data",
                                  poll_interval=60.0, database_url=database_url)
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
                    client.append("INBOX", raw)
                    sent = time.monotonic()
                    smtp.wait_for(index + 1, timeout=60)
                    if index >= WARMUP:
                        result.samples.append(time.monotonic() - sent)
                    time.sleep(gap)
            finally:
                client.logout()
        finally:
            stop(proc)
    return result
