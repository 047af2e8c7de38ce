"""The monthly 服务月报 (R-SP-7, R-PM-13) from a generated month of data: requests of several
kinds, deadlines met and missed, service-desk times, faults, generated ticket figures; the
figures, the trend against last month, the charts inline in the HTML, in the .docx and in the
.xlsx; a contract's report counts only its customer's requests; no ticket source: the report
says there is no ticket data. And ``mailflow report --month`` renders without sending."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from mailflow.config import Settings
from mailflow.reports.periods import Period, parse_period
from mailflow.reports.render import Metric, ReportMaker
from mailflow.store import audit
from mailflow.store.db import make_engine, session_factory, transaction, upgrade
from mailflow.store.models import InboundMail, Request, db_time
from mailflow.store.rows import insert_row
from mailflow.templates import Templates

SH = ZoneInfo("Asia/Shanghai")
STAFF, CUSTOMER = "zhang.wei@example.test", "li.na@customer.test"
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class GeneratedTickets:
    """What the tickets package would give (the report's TicketFigures protocol)."""

    opened: int
    resolved: int
    resolved_in_time: int
    by_category: Mapping[str, int] = field(default_factory=dict)
    by_severity: Mapping[str, int] = field(default_factory=dict)
    ratings: Sequence[int] = ()


def tickets(session: Session, start: datetime, end: datetime, contract: str | None
            ) -> GeneratedTickets:
    if start.month == 11:
        return GeneratedTickets(10, 8, 6, {"技术问题": 5, "使用问题": 5},
                                {"紧急": 2, "一般": 8}, [5, 4, 4, 3, 5])
    return GeneratedTickets(6, 6, 6, {"技术问题": 6}, {"一般": 6}, [3, 3])


def config(database_url: str, tmp_path: Path) -> Settings:
    return Settings.model_validate({
        "storage": {"database_url": database_url, "data_dir": str(tmp_path / "data")},
        "systems": [{"name": "CRM", "owner_department": "it", "aliases": ["客户关系管理系统"]},
                    {"name": "计费系统", "owner_department": "it"}],
        "departments": [{"key": "it", "name": "IT管理部", "is_it": True}],
        "contracts": [{"key": "east", "name": "华东运维服务合同", "customer": "华东电力",
                       "requester_domains": ["customer.test"]}],
    })


@pytest.fixture
def factory(database_url: str, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=SH)


class Month:
    """Writes generated requests and their audit events."""

    def __init__(self, session: Session, tag: str = "a", first: int = 0) -> None:
        self.session = session
        self.n = first
        self.mail = insert_row(session, InboundMail(
            sha256=tag * 64, body_sha256="b" * 64, message_id=f"<m{tag}@x>", size=1, subject="s",
            from_addr=STAFF, from_name="", to_addrs=[], cc_addrs=[],
            received_at=db_time(at("2026-10-01T09:00")), source="", kind="human",
            kind_reason="", status="processed", status_reason="", in_reply_to="",
            defects=[])).id

    def request(self, kind: str, when: datetime, *, status: str = "done",
                who: str = STAFF, minutes: int = 60, **fields: str) -> int:
        self.n += 1
        row = insert_row(self.session, Request(
            reference=f"REQ-2026-{self.n:06d}", kind=kind, status=status, title=f"{kind} {self.n}",
            requester_email=who, requester_name="", fields=dict(fields), problems=[],
            source_mail_id=self.mail, created_at=db_time(when),
            updated_at=db_time(when + timedelta(minutes=minutes))))
        return int(row.id)

    def event(self, action: str, request_id: int, when: datetime, rule: str) -> None:
        audit.record(self.session, when, action, request_id=request_id, rule=rule)


def generate(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        m = Month(session)
        # October: 2 requests, both on time
        for day in ("2026-10-05", "2026-10-06"):
            r = m.request("data_extraction", at(f"{day}T10:00"))
            m.event("request_done_on_time", r, at(f"{day}T15:00"), rule="R-DX-4")
        # November: five plain requests (one withdrawn, one open), three data extractions
        plain = [m.request("general", at(f"2026-11-0{d}T10:00"),
                           status="withdrawn" if d == 5 else "received" if d == 4 else "done")
                 for d in range(1, 6)]
        m.event("service_desk_met", plain[0], at("2026-11-01T11:00"), rule="R-SD-1")
        m.event("service_desk_met", plain[1], at("2026-11-02T11:00"), rule="R-SD-1")
        m.event("service_desk_missed", plain[2], at("2026-11-03T12:00"), rule="R-SD-1")
        m.event("service_desk_met", plain[0], at("2026-11-01T15:00"), rule="R-SD-2")
        m.event("service_desk_missed", plain[1], at("2026-11-03T10:00"), rule="R-SD-2")
        extractions = [m.request("data_extraction", at(f"2026-11-1{d}T10:00"), who=who)
                       for d, who in ((0, STAFF), (1, CUSTOMER), (2, CUSTOMER))]
        m.event("request_done_on_time", extractions[0], at("2026-11-11T10:00"), rule="R-DX-4")
        m.event("request_done_on_time", extractions[1], at("2026-11-12T10:00"), rule="R-DX-4")
        # chased, then done late: one miss
        m.event("deadline_escalated", extractions[2], at("2026-11-16T10:00"), rule="R-DX-4")
        m.event("request_done_late", extractions[2], at("2026-11-17T10:00"), rule="R-DX-4")
        # three faults: 3 + 30 + 120 minutes to the fix, one from the customer on CRM
        m.request("fault", at("2026-11-20T10:00"), minutes=3, system="crm系统")
        m.request("fault", at("2026-11-21T10:00"), minutes=30, system="计费系统")
        m.request("fault", at("2026-11-22T10:00"), minutes=120, who=CUSTOMER,
                  symptom="客户关系管理系统无法登录")


def test_r_sp_7_monthly_report_figures_trend_and_charts_everywhere(
        factory: sessionmaker[Session], database_url: str, tmp_path: Path) -> None:
    generate(factory)
    settings = config(database_url, tmp_path)
    with factory() as session:
        report = ReportMaker(settings, settings.templates(), tickets).make(
            session, date(2026, 11, 1), None)
    f = report.figures
    assert f.requests_by_kind == {"general": 4, "data_extraction": 3, "fault": 3}
    assert (f.requests_total, f.requests_done) == (10, 9)
    assert (f.deadlines.met, f.deadlines.missed) == (2, 1)
    assert (f.first_reply.met, f.first_reply.missed) == (2, 1)
    assert (f.progress.met, f.progress.missed) == (1, 1)
    assert (f.faults, f.fault_minutes, f.systems_in_scope) == (3, 153, 2)
    assert f.faults_by_system == {"CRM": 2, "计费系统": 1}
    assert f.fault_rate == pytest.approx(153 / (30 * 24 * 60 * 2))
    # R-PM-13: 问题解决率 and 客户满意度 from the ticket figures
    assert f.resolution_rate == pytest.approx(0.8)
    assert f.satisfaction == pytest.approx(21 / 5 / 5)
    assert f.request_resolution_rate == pytest.approx(0.9)
    rows = {m.key: m for m in report.metrics}
    assert rows["satisfaction"].trend({"up": "↑"}).startswith("↑")  # 60% → 84%
    assert rows["requests_total"].last == 2

    # the mail: HTML referencing inline PNG charts by cid
    html = report.content.html
    assert "客户满意度" in html and "84.0%" in html and "↑" in html
    assert {c.name for c in report.charts} == {"kinds", "met_missed", "trend"}
    for chart in report.charts:
        assert f"cid:{chart.cid}" in html and chart.png.startswith(PNG)
    assert "R-SD-1" in report.content.text

    # the .docx: inline pictures and the figures
    document = Document(io.BytesIO(report.docx))
    assert len(document.inline_shapes) == 3
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    assert "客户满意度" in cells and "84.0%" in cells and "系统故障申告单" in cells

    # the .xlsx: the figures typed, the kinds, the tickets, an image
    book = load_workbook(io.BytesIO(report.xlsx))
    figures = {row[0]: row[1:] for row in book.worksheets[0].iter_rows(min_row=3,
                                                                        values_only=True)}
    assert figures["请求总数"][:2] == (10, 2)
    assert figures["问题解决率"][0] == pytest.approx(0.8)
    assert figures["逾期"][0] == 1
    kinds = {row[0]: row[1] for row in book.worksheets[1].iter_rows(min_row=2,
                                                                     values_only=True)}
    assert kinds["系统故障申告单"] == 3
    assert sum(len(ws._images) for ws in book.worksheets) == 3


def test_r_sp_7_contract_report_counts_its_customer_and_says_when_there_are_no_tickets(
        factory: sessionmaker[Session], database_url: str, tmp_path: Path) -> None:
    generate(factory)
    settings = config(database_url, tmp_path)
    with factory() as session:
        report = ReportMaker(settings, Templates(settings.service.templates_dir, "en")).make(
            session, date(2026, 11, 1), "east")
    f = report.figures
    assert f.requests_by_kind == {"data_extraction": 2, "fault": 1}
    assert (f.deadlines.met, f.deadlines.missed) == (1, 1)
    assert f.tickets is None and f.satisfaction is None
    assert "No ticket data" in report.content.text
    assert "华东运维服务合同" in report.content.subject
    assert report.docx_name == "service-report-2026-11-east.docx"


def test_r_sp_7_periods_are_calendar_aligned_and_named_by_their_labels() -> None:
    q4 = Period.containing("quarter", date(2026, 11, 17))
    assert (q4.start, q4.end, q4.label) == (date(2026, 10, 1), date(2027, 1, 1), "2026Q4")
    assert q4.previous() == Period("quarter", date(2026, 7, 1)) and q4.next().label == "2027Q1"
    h1 = Period.containing("half-year", date(2027, 6, 30))
    assert (h1.label, h1.end, h1.previous().label) == ("2027H1", date(2027, 7, 1), "2026H2")
    assert Period.containing("year", date(2026, 3, 3)).previous().label == "2025"
    for label in ("2026-11", "2026Q4", "2026H2", "2026", "2026q1"):
        assert parse_period(label).label == label.upper()
    for bad in ("2026Q5", "2026H3", "2026-13", "Q4", "26-11"):
        with pytest.raises(ValueError):
            parse_period(bad)


def test_r_sp_7_a_contract_quarter_report_covers_three_months_against_the_quarter_before(
        factory: sessionmaker[Session], database_url: str, tmp_path: Path) -> None:
    """R-SP-7: the customer's report period is set per contract; a quarter's figures are
    those of its three months, its trend against the previous quarter, its words the
    quarter's (服务季报, 本季度 / 上季度)."""
    from mailflow.reports.monthly import MonthlyReports

    generate(factory)
    with transaction(factory) as session:
        more = Month(session, tag="c", first=100)
        more.request("data_extraction", at("2026-12-30T10:00"), who=CUSTOMER)
        more.request("general", at("2026-10-02T10:00"), who=CUSTOMER)
        more.request("general", at("2027-01-01T00:00"), who=CUSTOMER)  # the next quarter
    raw = config(database_url, tmp_path).model_dump()
    settings = Settings.model_validate({**raw, "reports": [
        {"report": "east", "to": [CUSTOMER], "period": "quarter", "day": 3}]})
    quarter = parse_period("2026Q4")
    with factory() as session:
        report = ReportMaker(settings, settings.templates()).make(session, quarter, "east")
    f = report.figures
    # October, November and December, not the first of January
    assert f.requests_by_kind == {"data_extraction": 3, "fault": 1, "general": 1}
    assert f.start == at("2026-10-01T00:00") and f.end == at("2027-01-01T00:00")
    assert report.previous.start == at("2026-07-01T00:00")
    assert f.fault_rate == pytest.approx(120 / (92 * 24 * 60 * 2))
    assert "服务季报" in report.content.subject and "2026年第4季度" in report.content.subject
    assert "本季度" in report.content.html and "上季度" in report.content.html
    assert "客户：华东电力\n合同：华东运维服务合同\n" in report.content.text
    assert report.docx_name == "服务季报-2026Q4-east.docx"
    monthly = MonthlyReports(settings)
    (entry,) = settings.reports
    assert monthly.first_period(entry, at("2026-11-20T10:00")) == quarter
    assert monthly.due_time(entry, quarter) == at("2027-01-03T09:00")
    assert monthly.key(entry).startswith("east:quarter:")


def test_r_sp_7_half_year_and_year_reports_name_their_period_in_either_language(
        factory: sessionmaker[Session], database_url: str, tmp_path: Path) -> None:
    generate(factory)
    settings = config(database_url, tmp_path)
    en = Templates(settings.service.templates_dir, "en")
    with factory() as session:
        half = ReportMaker(settings, settings.templates()).make(
            session, parse_period("2026H2"), None)
        year = ReportMaker(settings, en).make(session, parse_period("2026"), "east")
    assert "服务半年报" in half.content.subject and "2026年下半年" in half.content.subject
    assert half.figures.requests_total == 12 and half.previous.requests_total == 0
    assert "Annual service report" in year.content.subject and "This year" in year.content.html
    assert year.figures.requests_by_kind == {"data_extraction": 2, "fault": 1}
    assert year.docx_name == "service-report-2026-east.docx"


def test_trend_arrows_percent_points_for_shares_and_percent_for_counts() -> None:
    words = {"up": "↑", "down": "↓", "same": "→", "points": "pp", "no_data": "-"}
    assert Metric("x", "x", 0.9, 0.8, True).trend(words) == "↑ 10.0 pp"
    assert Metric("x", "x", 5, 10, False).trend(words) == "↓ 50%"
    assert Metric("x", "x", 3, 3, False).trend(words) == "→"
    assert Metric("x", "x", None, 3, False).trend(words) == "-"


def test_report_command_renders_without_sending(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    generate(session_factory(engine))
    engine.dispose()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[storage]\ndatabase_url = "{sqlite_url}"\ndata_dir = "{tmp_path}"\n'
                   '[[contracts]]\nkey = "east"\nname = "华东运维服务合同"\n'
                   'requester_domains = ["customer.test"]\n', encoding="utf-8")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(cfg), "report", "--month",
         "2026-11", "--contract", "east", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (out / "服务月报-2026-11-east.docx").is_file()
    assert (out / "服务月报-2026-11-east.xlsx").is_file()
    assert len(list(out.glob("*.png"))) == 3
    page = (out / "服务月报-2026-11-east.html").read_text(encoding="utf-8")
    assert "cid:" not in page and ".png" in page
    bad = subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(cfg), "report", "--month",
         "2026-11", "--contract", "west"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert bad.returncode != 0 and "unknown contract 'west'" in bad.stderr
    assert "Traceback" not in bad.stderr
    quarter = subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(cfg), "report", "--quarter",
         "2026Q4", "--contract", "east", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert quarter.returncode == 0, quarter.stderr
    assert "2026年第4季度" in quarter.stdout and (out / "服务季报-2026Q4-east.xlsx").is_file()
    for args, words in ((["--quarter", "2026-11"], "is a month, not a quarter"),
                        (["--month", "2026-11", "--year", "2026"], "name one period"),
                        (["--half-year", "2026H3"], "--half-year")):
        wrong = subprocess.run(
            [sys.executable, "-m", "mailflow", "--config", str(cfg), "report", *args],
            capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
        assert wrong.returncode != 0 and words in wrong.stderr, wrong.stderr
        assert "Traceback" not in wrong.stderr


def test_config_example_documents_every_reports_key() -> None:
    from mailflow.config import load_settings
    from tests.paths import REPO

    example = REPO / "config.example.toml"
    settings = load_settings(example, environ={})
    text = example.read_text(encoding="utf-8")
    assert settings.contracts and settings.reports and settings.projects
    models = [type(settings.project_summary), type(settings.plans),
              type(settings.fault_recurrence), type(settings.contracts[0]),
              type(settings.reports[0]), type(settings.projects[0])]
    for model in models:
        for key in model.model_fields:
            assert f"\n{key} =" in text, f"{model.__name__}.{key} undocumented"


def test_reports_config_names_what_exists() -> None:
    from pydantic import ValidationError

    base = {"people": [{"email": STAFF, "name": "张伟", "employee_id": "E01"}]}
    Settings.model_validate({**base, "reports": [{"to": ["张伟", "E01", "zhang.wei",
                                                         "role:it_manager", "x@y.test"]}]})
    for bad, words in (
        ({"reports": [{"report": "west", "to": [STAFF]}]}, "neither"),
        ({"reports": [{"to": ["李四"]}]}, "'李四' is no address"),
        ({"projects": [{"key": "P", "name": "n", "pm": STAFF, "end": "2027-01-01",
                        "contract": "west"}]}, "unknown contract"),
        ({"reports": [{"to": [STAFF], "at": "25:00"}]}, "not a time"),
    ):
        with pytest.raises(ValidationError, match=words):
            Settings.model_validate({**base, **bad})


def test_env_overrides_reach_the_reports_sections_and_unknown_keys_are_still_named(
        tmp_path: Path) -> None:
    """[plans], [project_summary] and [fault_recurrence] are sections like [smtp]:
    MAILFLOW_<SECTION>_<KEY> sets their keys, and a misspelt one is warned about."""
    from mailflow.config import load_settings, unknown_env_variables

    env = {"MAILFLOW_PLANS_MAINTENANCE_MONTH": "3", "MAILFLOW_PROJECT_SUMMARY_MAX_REMINDERS": "5",
           "MAILFLOW_FAULT_RECURRENCE_COUNT": "4"}
    settings = load_settings(None, environ=env)
    assert settings.plans.maintenance_month == 3
    assert settings.project_summary.max_reminders == 5 and settings.fault_recurrence.count == 4
    assert unknown_env_variables(env) == []
    (warning,) = unknown_env_variables({"MAILFLOW_PLANS_MAINTENANCE_MONHT": "3"})
    assert "MAILFLOW_PLANS_MAINTENANCE_MONTH" in warning
    from mailflow.errors import ConfigError
    with pytest.raises(ConfigError, match="MAILFLOW_PLANS_MAINTENANCE_MONTH"):
        load_settings(None, environ={"MAILFLOW_PLANS_MAINTENANCE_MONTH": "13"})


def test_r_sp_7_a_report_already_sent_is_never_queued_again(
        factory: sessionmaker[Session], database_url: str, tmp_path: Path) -> None:
    """The row moved back (a restart with a changed start, a restored backup): the month's
    report for the same recipients is recorded as sent and is not queued twice."""
    from sqlalchemy import select

    from mailflow.reports.monthly import MonthlyReports
    from mailflow.store.models import OutboxMessage

    settings = Settings.model_validate({
        **config(database_url, tmp_path).model_dump(),
        "reports": [{"to": [STAFF], "day": 2, "at": "08:30"}]})
    monthly = MonthlyReports(settings)
    (entry,) = settings.reports
    november = Period("month", date(2026, 11, 1))
    assert monthly.due_time(entry, november) == at("2026-12-02T08:30")
    assert monthly.first_period(entry, at("2026-12-02T08:29")) == november
    assert monthly.first_period(entry, at("2026-12-02T08:31")).start == date(2026, 12, 1)
    now = at("2026-12-02T08:30")
    with transaction(factory) as session:
        assert monthly.send_one(session, entry, date(2026, 11, 1), now)
    with transaction(factory) as session:
        assert not monthly.send_one(session, entry, date(2026, 11, 1), now)
        assert monthly.send_one(session, entry, date(2026, 10, 1), now)  # another month
    with factory() as session:
        rows = list(session.execute(select(OutboxMessage)).scalars())
    assert len(rows) == 2 and all(r.recipients == [STAFF] for r in rows)


def test_r_sp_7_the_next_report_follows_a_changed_day_and_keeps_its_month(
        factory: sessionmaker[Session], database_url: str, tmp_path: Path) -> None:
    from mailflow.reports.monthly import KIND, MonthlyReports
    from mailflow.store.models import utc
    from mailflow.workflow import due

    raw = config(database_url, tmp_path).model_dump()
    first = MonthlyReports(Settings.model_validate({**raw, "reports": [{"to": [STAFF]}]}))
    later = MonthlyReports(Settings.model_validate({**raw, "reports": [
        {"to": [STAFF], "day": 5, "at": "14:00"}]}))
    with transaction(factory) as session:
        first.ensure_scheduled(session, at("2026-11-20T10:00"))
        later.ensure_scheduled(session, at("2026-11-21T10:00"))
        (row,) = due.pending(session, kind=KIND)
        assert utc(row.due_at) == at("2026-12-05T14:00") and row.payload == {
            "month": "2026-11"}


def test_a_contract_counts_requests_naming_any_of_its_systems(
        database_url: str, tmp_path: Path) -> None:
    from mailflow.reports.figures import find_contract, in_contract

    settings = Settings.model_validate({
        **config(database_url, tmp_path).model_dump(),
        "contracts": [{"key": "crm", "name": "CRM运维合同", "systems": ["客户关系管理系统"]}]})
    contract = find_contract(settings, "crm")

    def request(**fields: object) -> Request:
        return Request(kind="data_extraction", requester_email=STAFF, title="数据提取",
                       fields=fields)

    assert in_contract(settings, contract, request(systems=["计费系统", "CRM"]))
    assert in_contract(settings, contract, request(symptom="crm 系统登录很慢"))
    assert not in_contract(settings, contract, request(systems=["计费系统"]))
    assert in_contract(settings, None, request(systems=["计费系统"]))  # internal: all
