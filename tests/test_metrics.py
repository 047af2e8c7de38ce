"""Prometheus metrics: the status figures, from the textfile and from the 127.0.0.1 endpoint."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from mailflow.clock import SystemClock
from mailflow.config import MailboxSettings, Settings, StorageSettings
from mailflow.operator.metrics import StatusCollector, serve, write_textfile
from mailflow.service import Service
from mailflow_testing.dovecot import free_port


def samples(text: str) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}"] = sample.value
    return out


def test_metrics_textfile_and_endpoint(tmp_path: Path) -> None:
    box = tmp_path / "box"
    (box / "new").mkdir(parents=True)
    (box / "new" / "1.mail").write_bytes(
        b"From: a@example.com\r\nTo: it-flow@example.com\r\nSubject: x\r\n"
        b"Message-ID: <m1@x>\r\n\r\nhello\r\n")
    settings = Settings(mailbox=MailboxSettings(source="maildir", maildir_path=box),
                        storage=StorageSettings(data_dir=tmp_path / "data"))
    service = Service(settings, SystemClock())
    try:
        service.run_once()
        collector = StatusCollector(settings, service.factory, SystemClock().now, "9.9.9")
        target = tmp_path / "mailflow.prom"
        write_textfile(collector, target)
        found = samples(target.read_text())
        port = free_port()
        server = serve(collector, port)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                scraped = samples(r.read().decode())
        finally:
            server.shutdown()
            server.server_close()
    finally:
        service.close()
    for figures in (found, scraped):
        assert figures["mailflow_outbox_messages{status=sent}"] == 1  # the receipt
        assert figures["mailflow_outbox_messages{status=failed}"] == 0
        assert figures["mailflow_quarantined_mails{}"] == 0
        assert figures["mailflow_build_info{version=9.9.9}"] == 1
        assert figures["mailflow_last_intake_timestamp_seconds{}"] > 1e9
