"""Metrics for Prometheus: the figures of ``mailflow status`` as gauges, read from the
database at scrape time (so every process of a deployment reports the same numbers).

Two ways out: a textfile for node_exporter's textfile collector (``mailflow metrics
--textfile /var/lib/node_exporter/mailflow.prom``, from cron or a timer), or an HTTP endpoint
on 127.0.0.1 served by ``mailflow run`` when ``[service] metrics_port`` is set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from mailflow.config import Settings
from mailflow.operator.status import PROBLEMS, collect


class StatusCollector(Collector):
    def __init__(self, settings: Settings, factory: sessionmaker[Session],
                 now: Callable[[], datetime], version: str) -> None:
        self._settings = settings
        self._factory = factory
        self._now = now
        self._version = version

    def collect(self) -> Iterator[GaugeMetricFamily | InfoMetricFamily]:
        status = collect(self._settings, self._factory, self._now(), self._version,
                         probe_servers=False)
        yield InfoMetricFamily("mailflow_build", "mailflow version",
                               value={"version": status.version})
        outbox = GaugeMetricFamily("mailflow_outbox_messages", "Outbox rows by status",
                                   labels=["status"])
        for name in ("pending", "sent", "failed"):
            outbox.add_metric([name], status.outbox.get(name, 0))
        yield outbox
        yield GaugeMetricFamily("mailflow_quarantined_mails", "Mails in quarantine",
                                value=status.quarantined)
        yield GaugeMetricFamily("mailflow_unanswerable_mails",
                                "Recent mails archived without a usable sender",
                                value=len(status.unanswerable))
        problems = GaugeMetricFamily("mailflow_problems_24h",
                                     "Problems recorded in the last 24 hours", labels=["event"])
        for action in PROBLEMS:
            problems.add_metric([action], status.problems_24h.get(action, 0))
        yield problems
        for name, when, text in (
            ("mailflow_last_intake_timestamp_seconds", status.last_intake,
             "When the newest mail was taken in"),
            ("mailflow_last_send_timestamp_seconds", status.last_send,
             "When a mail was last accepted by the SMTP server"),
        ):
            yield GaugeMetricFamily(name, text, value=when.timestamp() if when else 0)
        yield GaugeMetricFamily("mailflow_mailbox_lease_held",
                                "1 when some process holds the mailbox lease",
                                value=1 if status.lease_holder else 0)


def registry_for(collector: StatusCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def render(collector: StatusCollector) -> bytes:
    return generate_latest(registry_for(collector))


def write_textfile(collector: StatusCollector, path: Path) -> None:
    """Written beside and renamed, so node_exporter never reads half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(render(collector))
    tmp.replace(path)


def serve(collector: StatusCollector, port: int) -> WSGIServer:
    """The /metrics endpoint on 127.0.0.1:*port* (a daemon thread of ``mailflow run``);
    the server, to shut down."""
    server, _thread = start_http_server(port, addr="127.0.0.1",
                                        registry=registry_for(collector))
    return server
