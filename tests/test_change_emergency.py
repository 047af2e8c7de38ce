"""The change form's emergency field (紧急变更, R-CH-4): read from the blanks and from a form
filled by hand, optional (older blanks without it are still complete), and what it changes in
the change's lifecycle: no lead-time warning (R-CH-2/3), the notice at once and marked."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import pytest

from mailflow.config import Settings
from mailflow.documents.definitions import FormCatalog, default_forms_dir, load_catalog
from mailflow.documents.reading import FormReading, read_form
from mailflow.notices.lifecycle import Lifecycle
from mailflow.templates import Templates
from tests.formfill import SAMPLES, fill_docx, fill_xlsx


@pytest.fixture(scope="module")
def catalog() -> FormCatalog:
    return load_catalog(default_forms_dir())


@pytest.fixture(scope="module")
def lifecycle() -> Lifecycle:
    settings = Settings.model_validate({})
    return Lifecycle(settings, Templates(settings.service.templates_dir,
                                         settings.service.language))


def read(catalog: FormCatalog, fmt: Literal["docx", "xlsx"], values: dict[str, Any]) -> FormReading:
    blank = (default_forms_dir() / "blank" / f"system_change.{fmt}").read_bytes()
    form = catalog.get("system_change")
    filled = fill_docx(blank, form, values) if fmt == "docx" else fill_xlsx(blank, form, values)
    [reading] = read_form(filled, fmt, catalog, source_name=f"change.{fmt}")
    return reading


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
@pytest.mark.parametrize("emergency", [True, False])
def test_r_ch_4_emergency_read_from_the_blank(catalog: FormCatalog, lifecycle: Lifecycle,
                                              fmt: Literal["docx", "xlsx"],
                                              emergency: bool) -> None:
    reading = read(catalog, fmt, {**SAMPLES["system_change"], "emergency": emergency})
    assert reading.problems == ()
    assert reading.values["emergency"] is emergency
    assert lifecycle.facts(reading.json_values()).emergency is emergency


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_r_ch_4_a_form_without_the_emergency_answer_is_complete_and_ordinary(
    catalog: FormCatalog, lifecycle: Lifecycle, fmt: Literal["docx", "xlsx"]
) -> None:
    values = {k: v for k, v in SAMPLES["system_change"].items() if k != "emergency"}
    reading = read(catalog, fmt, values)
    assert reading.problems == ()  # optional: an older blank without it is still complete
    assert "emergency" not in reading.values
    assert lifecycle.facts(reading.json_values()).emergency is False


def test_r_ch_4_emergency_written_by_hand_is_read(catalog: FormCatalog,
                                                  lifecycle: Lifecycle) -> None:
    """A form someone typed themselves: 紧急变更 as they label it, 是 as they answer."""
    import io

    from docx import Document

    from tests.formfill import written

    doc = Document()
    doc.add_heading("系统变更申请表", level=1)
    values = SAMPLES["system_change"]
    form = catalog.get("system_change")
    def typed(value: object) -> str:
        return ("是" if value else "否") if isinstance(value, bool) else written(value)

    rows = [(f.label_zh, typed(values[f.key])) for f in form.fields
            if f.key in values and f.key != "emergency"] + [("紧急变更", "是")]
    table = doc.add_table(rows=len(rows), cols=2)
    for row, (label, value) in zip(table.rows, rows, strict=True):
        row.cells[0].text, row.cells[1].text = label, value
    out = io.BytesIO()
    doc.save(out)
    [reading] = read_form(out.getvalue(), "docx", catalog, source_name="变更申请.docx")
    assert reading.kind == "system_change"
    assert reading.values["emergency"] is True
    assert lifecycle.facts(reading.json_values()).emergency is True


def test_r_ch_2_r_ch_3_r_ch_4_lead_times_waived_for_an_emergency(lifecycle: Lifecycle) -> None:
    """Submitted two hours before a daytime change with cooperating departments: an ordinary
    change misses R-CH-2 and R-CH-3; an emergency one misses nothing."""
    from mailflow.notices import deadlines

    tz = lifecycle.calendar.tz
    start = datetime(2025, 10, 9, 14, 0, tzinfo=tz)
    submitted = datetime(2025, 10, 9, 12, 0, tzinfo=tz)
    for emergency, rules in ((False, ["R-CH-2", "R-CH-3"]), (True, [])):
        problems = deadlines.lead_time_problems(
            lifecycle.calendar, submitted_at=submitted, change_start=start,
            affects_live_users=True, cooperating=True, emergency=emergency)
        assert [p.rule for p in problems] == rules
