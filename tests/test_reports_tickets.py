"""The monthly report (R-PM-13) fed by the ticket desk: a ``[[customers]]`` contract is a
report's contract by its key, its 问题解决率 and 客户满意度 come from the real ticket records
(mailflow/tickets/figures.py), and the ticket codes are shown in the report's words."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from mailflow.config import Settings
from mailflow.reports.render import ReportMaker
from mailflow.reports.stage import ticket_source
from mailflow.store.db import make_engine, session_factory, transaction, upgrade
from tests.test_tickets_figures import add, add_december

DEC = datetime(2026, 12, 1, tzinfo=UTC)


def config(database_url: str, tmp_path: Path, **extra: object) -> Settings:
    return Settings.model_validate({
        "storage": {"database_url": database_url, "data_dir": str(tmp_path / "data")},
        "customers": [{"key": "east", "name": "华东电力公司", "domains": ["customer.test"]}],
        **extra,
    })


def test_r_pm_13_a_customer_contract_report_counts_its_real_tickets(
        database_url: str, tmp_path: Path) -> None:
    settings = config(database_url, tmp_path, reports=[{"report": "east", "to": ["a@b.test"]}])
    engine = make_engine(database_url)
    upgrade(engine)
    factory = session_factory(engine)
    with transaction(factory) as s:
        add_december(s)
        add(s, 4, contract="west", opened=DEC + timedelta(days=1), severity="urgent",
            category="technical")
    source = ticket_source(settings)
    assert source is not None
    with factory() as session:
        report = ReportMaker(settings, settings.templates(), source).make(
            session, date(2026, 12, 1), "east")
    engine.dispose()
    tickets = report.figures.tickets
    assert tickets is not None
    assert (tickets.opened, tickets.resolved, tickets.resolved_in_time) == (3, 2, 1)
    assert sorted(tickets.ratings) == [3, 5]
    text = report.content.text
    assert "华东电力公司" in text
    assert "技术问题" in text and "使用问题" in text and "紧急" in text
    assert "technical" not in text and "usage" not in text


def test_without_customers_there_is_no_ticket_source(tmp_path: Path) -> None:
    settings = Settings.model_validate({"storage": {"data_dir": str(tmp_path)}})
    assert ticket_source(settings) is None


def test_a_report_may_name_a_customer_but_not_an_unknown_key(tmp_path: Path) -> None:
    config("sqlite://", tmp_path, reports=[{"report": "east", "to": ["a@b.test"]}],
           projects=[{"key": "p1", "name": "运维项目", "contract": "east", "pm": "a@b.test",
                      "end": "2027-06-30"}])
    with pytest.raises(ValidationError, match="nowhere"):
        config("sqlite://", tmp_path, reports=[{"report": "nowhere", "to": ["a@b.test"]}])
