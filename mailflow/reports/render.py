"""One period's 服务月报 (a month, or a contract's quarter, half-year or year) rendered three
ways (R-SP-7, R-PM-13): the mail (text and HTML with the
charts inline), a Word document (docxtpl, the charts as InlineImage) and a workbook (openpyxl:
the figures as a typed table, the charts as images).

Why all three from one context: the customer reads the mail, files the Word copy and
re-uses the numbers from the workbook; the three must never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from mailflow.config import Settings
from mailflow.documents.definitions import FormCatalog, load_catalog
from mailflow.mail.compose import InlineImage, OutgoingAttachment
from mailflow.reports import charts
from mailflow.reports.figures import (
    Figures,
    MetMissed,
    TicketSource,
    collect,
    find_contract,
    labelled,
)
from mailflow.reports.office import render_docx, render_xlsx
from mailflow.reports.periods import Period
from mailflow.templates import RenderedMessage, Templates

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LABELS = "reports/report_labels"


@dataclass(frozen=True)
class Metric:
    """One row of the report: its key, label, this month's and last month's value."""

    key: str
    label: str
    value: float | int | None
    last: float | int | None
    rate: bool  # a share (shown as a percentage) rather than a count

    def shown(self, value: float | int | None, none: str) -> str:
        if value is None:
            return none
        if self.rate:
            return f"{value * 100:.1f}%" if value >= 0.001 or value == 0 else \
                f"{value * 100:.3f}%"
        return f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) \
            else str(value)

    def trend(self, words: Mapping[str, str]) -> str:
        """↑/↓/→ with the change: percentage points for a share, per cent for a count."""
        if self.value is None or self.last is None:
            return words.get("no_data", "")
        if self.value == self.last:
            return words.get("same", "→")
        arrow = words.get("up", "↑") if self.value > self.last else words.get("down", "↓")
        if self.rate:
            return f"{arrow} {abs(self.value - self.last) * 100:.1f} {words.get('points', '')}"
        if not self.last:
            return arrow
        return f"{arrow} {abs(self.value - self.last) / self.last * 100:.0f}%"


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    png: bytes

    @property
    def cid(self) -> str:
        return f"chart-{self.name}@mailflow"

    @property
    def filename(self) -> str:
        return f"{self.name}.png"


@dataclass(frozen=True)
class Report:
    month: date  # the period's first month
    period: Period
    key: str  # "internal" or the contract's key
    figures: Figures
    previous: Figures
    metrics: tuple[Metric, ...]
    charts: tuple[Chart, ...]
    content: RenderedMessage
    docx: bytes
    xlsx: bytes
    docx_name: str
    xlsx_name: str

    @property
    def inline(self) -> list[InlineImage]:
        return [InlineImage(c.cid, c.filename, c.png) for c in self.charts]

    @property
    def attachments(self) -> list[OutgoingAttachment]:
        return [OutgoingAttachment(self.docx_name, self.docx, DOCX_MIME),
                OutgoingAttachment(self.xlsx_name, self.xlsx, XLSX_MIME)]


def parse_month(text: str) -> date:
    """``2026-11`` → the first of that month."""
    try:
        year, month = (int(p) for p in text.strip().split("-"))
        return date(year, month, 1)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a month YYYY-MM") from exc


def previous_month(month: date) -> date:
    return date(month.year - 1, 12, 1) if month.month == 1 else \
        date(month.year, month.month - 1, 1)


def next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else \
        date(month.year, month.month + 1, 1)


def month_bounds(month: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The month as local midnights, [first day, first day of the next)."""
    return Period("month", month.replace(day=1)).bounds(zone)


def period_words(words: Mapping[str, str], period: Period) -> dict[str, str]:
    """The report's words for *period*: a word ``KEY_quarter`` (``this_month_quarter: 本季度``)
    stands in for ``KEY`` in a quarter's report, and so on for ``half_year`` and ``year``;
    a month's report uses the plain words."""
    if period.kind == "month":
        return dict(words)
    suffix = "_" + period.kind.replace("-", "_")
    return {k: words.get(k + suffix, v) for k, v in words.items()}


def period_shown(words: Mapping[str, str], period: Period) -> str:
    """The period as the report names it: ``label_quarter: {year}年第{number}季度`` in the
    words (``label_half_year_2: {year}年下半年`` for one period in particular), else its
    label (``2026-11``, ``2026Q4``)."""
    name = "label_" + period.kind.replace("-", "_")
    pattern = words.get(f"{name}_{period.number}") or words.get(name)
    if not pattern:
        return period.label
    return pattern.format(year=period.start.year, number=period.number,
                          month=period.start.month)


def metrics_of(figures: Figures, previous: Figures, words: Mapping[str, str]
               ) -> tuple[Metric, ...]:
    def row(key: str, now: float | int | None, last: float | int | None,
            rate: bool = False) -> Metric:
        return Metric(key, words.get(key, key), now, last, rate)

    def met(mm: MetMissed, last: MetMissed, prefix: str) -> list[Metric]:
        return [row(f"{prefix}_met", mm.met, last.met), row(f"{prefix}_missed", mm.missed,
                                                            last.missed)]

    rows = [
        row("requests_total", figures.requests_total, previous.requests_total),
        row("requests_done", figures.requests_done, previous.requests_done),
        row("request_resolution_rate", figures.request_resolution_rate,
            previous.request_resolution_rate, True),
        row("deadlines_met", figures.deadlines.met, previous.deadlines.met),
        row("deadlines_missed", figures.deadlines.missed, previous.deadlines.missed),
        row("deadline_rate", figures.deadlines.rate, previous.deadlines.rate, True),
        *met(figures.first_reply, previous.first_reply, "first_reply"),
        *met(figures.progress, previous.progress, "progress"),
        row("faults", figures.faults, previous.faults),
        row("fault_minutes", figures.fault_minutes, previous.fault_minutes),
        row("fault_rate", figures.fault_rate, previous.fault_rate, True),
        row("quick_fault_reports", figures.quick_fault_reports,
            previous.quick_fault_reports),
        row("measures_open", figures.measures_open, previous.measures_open),
        row("measures_overdue", figures.measures_overdue, previous.measures_overdue),
    ]
    t, p = figures.tickets, previous.tickets
    if t is not None:
        rows += [
            row("tickets_opened", t.opened, p.opened if p else None),
            row("tickets_resolved", t.resolved, p.resolved if p else None),
            row("tickets_in_time", t.resolved_in_time, p.resolved_in_time if p else None),
            row("ticket_in_time_rate", t.in_time_rate, p.in_time_rate if p else None, True),
            row("mean_rating", t.mean_rating, p.mean_rating if p else None),
            row("satisfied_share", t.satisfied_share, p.satisfied_share if p else None, True),
        ]
    rows += [
        row("resolution_rate", figures.resolution_rate, previous.resolution_rate, True),
        row("satisfaction", figures.satisfaction, previous.satisfaction, True),
    ]
    return tuple(rows)


class ReportMaker:
    """Builds reports for one language's templates."""

    def __init__(self, settings: Settings, templates: Templates,
                 tickets: TicketSource | None = None) -> None:
        self.settings = settings
        self.templates = templates
        self.tickets = tickets
        self.zone = ZoneInfo(settings.service.timezone)
        self._catalog: FormCatalog | None = None

    def kind_title(self, kind: str) -> str:
        if self._catalog is None:
            try:
                self._catalog = load_catalog(self.settings.forms.definitions_dir)
            except Exception:  # no definitions: the kind's key is all there is to show
                self._catalog = FormCatalog()
        form = self._catalog.forms.get(kind)
        if form is not None:
            return form.title_en if self.templates.language == "en" else form.title_zh
        return self.templates.labels("requests_export", "kinds").get(kind, kind)

    def make(self, session: Session, period: Period | date, key: str | None) -> Report:
        """The report of *period* (a date: that month) for *key* (None or "internal": the
        internal one), its trend against the previous period of the same length."""
        if not isinstance(period, Period):
            period = Period("month", period.replace(day=1))
        month = period.start
        key = key or "internal"
        contract = find_contract(self.settings, key)  # KeyError: unknown contract
        words = period_words(self.templates.labels(LABELS, "words"), period)
        start, end = period.bounds(self.zone)
        p_start, p_end = period.previous().bounds(self.zone)
        ck = None if contract is None else contract.key
        figures = collect(session, self.settings, start, end, ck, self.tickets)
        previous = collect(session, self.settings, p_start, p_end, ck, self.tickets)
        metrics = metrics_of(figures, previous, words)
        kinds = [{"label": self.kind_title(k), "count": n,
                  "last": previous.requests_by_kind.get(k, 0)}
                 for k, n in figures.requests_by_kind.items()]
        made = self._charts(figures, previous, words, kinds)
        none = words.get("no_data", "-")
        title = words["title_internal"] if contract is None else words["title_contract"]
        shown = period_shown(words, period)
        context: dict[str, Any] = {
            "title": title, "period": shown, "words": words,
            "customer": contract.customer if contract else "",
            "contract_name": contract.name if contract else "",
            "metrics": [{"key": m.key, "label": m.label, "value": m.shown(m.value, none),
                         "last": m.shown(m.last, none), "trend": m.trend(words)}
                        for m in metrics],
            "kinds": kinds,
            "tickets": None if figures.tickets is None else {
                "categories": labelled(figures.tickets.by_category, "category", words),
                "severities": labelled(figures.tickets.by_severity, "severity", words)},
            "charts": [{"cid": c.cid, "title": c.title, "name": c.name} for c in made],
        }
        content = self.templates.render("reports/monthly_report", context)
        stem = words.get("file_stem", "report")
        suffix = "" if contract is None else f"-{contract.key}"
        return Report(
            month=month, period=period, key=key, figures=figures, previous=previous,
            metrics=metrics,
            charts=tuple(made), content=content,
            docx=render_docx(self.templates, context, made),
            xlsx=render_xlsx(words, context, metrics, kinds, figures, made),
            docx_name=f"{stem}-{period.label}{suffix}.docx",
            xlsx_name=f"{stem}-{period.label}{suffix}.xlsx")

    @staticmethod
    def _charts(figures: Figures, previous: Figures, words: Mapping[str, str],
                kinds: list[dict[str, Any]]) -> list[Chart]:
        pairs = [("chart_deadlines", figures.deadlines),
                 ("chart_first_reply", figures.first_reply),
                 ("chart_progress", figures.progress)]
        if figures.tickets is not None:
            t = figures.tickets
            pairs.append(("chart_tickets", MetMissed(t.resolved_in_time,
                                                     t.resolved - t.resolved_in_time)))
        rates = [("resolution_rate", figures.resolution_rate, previous.resolution_rate),
                 ("deadline_rate", figures.deadlines.rate, previous.deadlines.rate),
                 ("satisfaction", figures.satisfaction, previous.satisfaction)]
        names = (words["this_month"], words["last_month"])
        return [
            Chart("kinds", words["chart_kinds"], charts.bars(
                words["chart_kinds"], [k["label"] for k in kinds],
                [k["count"] for k in kinds], words["no_data"])),
            Chart("met_missed", words["chart_met_missed"], charts.met_missed(
                words["chart_met_missed"], [words[k] for k, _ in pairs],
                [mm.met for _, mm in pairs], [mm.missed for _, mm in pairs],
                (words["met"], words["missed"]))),
            Chart("trend", words["chart_trend"], charts.trend(
                words["chart_trend"], [words[k] for k, _, _ in rates],
                [(v or 0) * 100 for _, v, _ in rates], [(v or 0) * 100 for _, _, v in rates],
                names)),
        ]
